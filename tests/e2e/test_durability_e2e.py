"""Never lose or double a note: Incident Manager down for a while, the bot killed (-9) with entries
queued or on their way, a burst of 300 notes against a throttled Incident Manager, and two bot processes
handling the same Slack delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.aws_errors import LANDED_LATER, QUEUED
from tests.support.bot_server import free_port, http
from tests.support.harness import CommandResult, Harness

ROOT = Path(__file__).resolve().parents[2]

# About two minutes together: `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def texts_on(fake: FakeIncidentManager, arn: str) -> list[str]:
    return sorted(Harness.event_text(event) for event in fake.events(arn))


# A bot process, killed for real


class BotProcess:
    def __init__(
        self, tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"bot-{self.port}.log"
        variables = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SLACK_", "AWS_", "DATABASE_", "INCIDENT_MANAGER_"))
        }
        variables.update(
            PYTHONPATH=str(ROOT),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.api_url,
            DATABASE_URL=f"sqlite:///{tmp_path}/bot.db",
            PORT=str(self.port),
            AWS_REGION="eu-west-1",
            AWS_ENDPOINT_URL_SSM_INCIDENTS=fake_aws.endpoint_url,
            AWS_ACCESS_KEY_ID="AKIDTESTTESTTEST",
            AWS_SECRET_ACCESS_KEY="test-secret-key",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
            **env,
        )
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot"], cwd=tmp_path, env=variables, stdout=log, stderr=log, text=True
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"bot exited: {self.log.read_text()}")
            try:
                if http("GET", self.url + "/healthz", timeout=1).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail("bot never became healthy")

    def command(self, fake_slack: FakeSlack, text: str) -> str:
        """Send a signed slash command; return its response_url."""
        response_url = fake_slack.new_response_url()
        body, headers = slack_requests.slash_command(
            SIGNING_SECRET, text=text, response_url=response_url, trigger_id=fake_slack.issue_trigger_id()
        )
        assert http("POST", self.url + "/slack/events", body, headers).status == 200
        return response_url

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


@pytest.fixture
def processes(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> Iterator[Callable[..., BotProcess]]:
    started: list[BotProcess] = []

    def start(**env: str) -> BotProcess:
        bot = BotProcess(tmp_path, fake_slack, fake_aws, **env)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


def bind(bot: BotProcess, fake_slack: FakeSlack, arn: str) -> None:
    (reply,) = fake_slack.wait_for_responses(bot.command(fake_slack, f"bind {arn}"), 1, timeout=15)
    assert "now bound" in reply["text"]


def test_killed_with_notes_queued_the_next_run_lands_each_once_and_tells_its_person(
    processes: Callable[..., BotProcess], fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    first = processes(INCIDENT_MANAGER_READ_TIMEOUT="1")
    arn = fake_aws.add_incident(title="Checkout DB down")
    bind(first, fake_slack, arn)
    fake_aws.set_down(True)
    notes = [f"queued note {i}" for i in range(8)]
    response_urls = [first.command(fake_slack, note) for note in notes]
    for url in response_urls:
        (queued,) = fake_slack.wait_for_responses(url, 1, timeout=20)
        assert QUEUED in queued["text"], queued
    first.kill()  # no chance to finish anything
    fake_aws.set_down(False)
    assert fake_aws.events(arn) == []

    processes(INCIDENT_MANAGER_READ_TIMEOUT="1")
    wait_until(lambda: len(fake_aws.events(arn)) >= len(notes), 30, "the queued notes to land")
    time.sleep(1.5)  # would a second copy of any of them follow?
    assert texts_on(fake_aws, arn) == sorted(f"{note}\n\n— alice, via Slack" for note in notes)
    for url in response_urls:
        replies = fake_slack.wait_for_responses(url, 2, timeout=15)
        assert LANDED_LATER in replies[1]["text"]
    tokens = {call.params["clientToken"] for call in fake_aws.calls_to("CreateTimelineEvent")}
    assert len(tokens) == len(notes)  # one token per note, whichever process sent it


def test_killed_mid_send_the_next_run_sends_the_same_tokens_and_nothing_doubles(
    processes: Callable[..., BotProcess], fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    # A rate that lets all six go out within the 0.7 s below (at the default 5/s they are spaced 0.2 s).
    first = processes(INCIDENT_MANAGER_READ_TIMEOUT="2", INCIDENT_MANAGER_CALLS_PER_SECOND="100")
    arn = fake_aws.add_incident(title="Checkout DB down")
    bind(first, fake_slack, arn)
    fake_aws.set_latency(1.5, operation="CreateTimelineEvent")  # the fake answers after the bot is gone
    notes = [f"in flight {i}" for i in range(6)]
    response_urls = [first.command(fake_slack, note) for note in notes]
    time.sleep(0.7)  # every note is on its way to AWS (the fake records a call once it has answered)
    first.kill()
    fake_aws.set_latency(0.0, operation="CreateTimelineEvent")

    second = processes(INCIDENT_MANAGER_READ_TIMEOUT="2")
    # The fake finished the killed run's requests; the entries are still pending in the store, held by
    # the killed run until its hold (one call's time budget) runs out. Then the new run resends them.
    wait_until(
        lambda: any(line.get("message") == "outbox resumed entries" for line in second.log_lines()),
        45,
        "the second run to resume the held entries",
    )
    wait_until(
        lambda: "incident_bot_outbox_depth 0.0" in http("GET", second.url + "/metrics").body,
        15,
        "the outbox to empty",
    )
    assert texts_on(fake_aws, arn) == sorted(f"{note}\n\n— alice, via Slack" for note in notes)
    calls = fake_aws.calls_to("CreateTimelineEvent")
    # The resends carry the first run's tokens and parameters: AWS answers them with the events it made.
    # (Grouped by token, not by position: at 5 calls/s the killed run may have sent only some of them,
    # and which of the resends comes first depends on when each hold was last renewed.)
    first_params: dict[str, dict[str, Any]] = {}
    for call in calls:
        assert first_params.setdefault(call.params["clientToken"], call.params) == call.params
    assert len(first_params) == len(notes)
    for url in response_urls:
        (landed,) = fake_slack.wait_for_responses(url, 1, timeout=15)
        assert LANDED_LATER in landed["text"]


# In-process bots


def test_aws_down_for_a_while_then_back_every_queued_note_lands_once(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.aws.set_down(True)
    notes = [f"during the outage {i}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(bot.command, notes))
    try:
        for result in results:
            (queued,) = bot.replies(result, 1, timeout=20)
            assert QUEUED in queued
        assert "incident_bot_outbox_depth 20.0" in http("GET", bot.url + "/metrics").body
        time.sleep(2)
        assert bot.aws.events(arn) == []
    finally:
        bot.aws.set_down(False)
    for result in results:
        assert LANDED_LATER in bot.replies(result, 2, timeout=30)[1]
    assert texts_on(bot.aws, arn) == sorted(f"{note}\n\n— alice, via Slack" for note in notes)
    assert "incident_bot_outbox_depth 0.0" in http("GET", bot.url + "/metrics").body


def test_a_burst_of_300_against_a_throttled_incident_manager_lands_exactly_once_and_none_fail(
    bot: Harness,
) -> None:
    arn = bot.bound_incident()
    bot.aws.throttle_above(5, operation="CreateTimelineEvent")
    notes = [f"burst {i:03d}" for i in range(300)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results: list[CommandResult] = list(pool.map(bot.command, notes))
    assert all(result.ack.status == 200 for result in results)
    wait_until(lambda: len(bot.aws.events(arn)) >= len(notes), 150, "300 events")
    time.sleep(1.0)
    assert texts_on(bot.aws, arn) == sorted(f"{note}\n\n— alice, via Slack" for note in notes)
    waited_their_turn = 0
    for result in results:
        first = bot.replies(result, 1, timeout=30)[0]
        if QUEUED in first:
            first, landed = bot.replies(result, 2, timeout=30)
            assert LANDED_LATER in landed
            waited_their_turn += "many notes are on their way to Incident Manager" in first
        else:
            assert first.startswith("Added a note"), first
        assert "Nothing was added" not in first and "_Reference:" not in first
    # At 5 a second, most of the 300 wait in the bot's own rate limit, and are told so.
    assert waited_their_turn > 200


def test_two_processes_handling_the_same_delivery_make_one_event(make_bot: Callable[..., Harness]) -> None:
    # Two replicas behind one load balancer, one database: the same signed request reaches both.
    one, two = make_bot(), make_bot()
    arn = one.bound_incident()
    ts = one.slack.add_message("C0001", {"user": "U0002", "text": "replica failover done"})
    pin = slack_requests.event_callback(
        SIGNING_SECRET, slack_requests.reaction_added_event("U0003", "pushpin", "C0001", ts, "U0002")
    )
    trigger_id = one.slack.issue_trigger_id("U0001")
    note = slack_requests.slash_command(
        SIGNING_SECRET, text="one note", response_url=one.slack.new_response_url(), trigger_id=trigger_id
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda args: args[0].post(*args[1]), [(one, pin), (two, pin), (one, note), (two, note)])
        )
    assert [a.status for a in answers] == [200, 200, 200, 200]
    wait_until(lambda: len(one.aws.events(arn)) >= 2, 15, "both events")
    time.sleep(1.0)
    assert sorted(Harness.event_text(e).split("\n")[0] for e in one.aws.events(arn)) == [
        "one note",
        "replica failover done",
    ]
