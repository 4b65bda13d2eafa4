"""`python -m bot` as an operator runs it: configuration errors, .env, serving and stopping."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.aws_errors import QUEUED
from tests.support.bot_server import free_port, http

# Each test starts `python -m bot` at least once: `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BOT_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "PORT",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


def clean_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in BOT_VARIABLES}
    env.update(values)
    return env


def run_bot(cwd: Path, env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot"], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_missing_configuration_names_every_variable_in_one_line(tmp_path: Path) -> None:
    result = run_bot(tmp_path, clean_env(PYTHONPATH=str(ROOT)))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SLACK_BOT_TOKEN" in lines[0] and "SLACK_SIGNING_SECRET" in lines[0]
    assert "OAuth & Permissions" in lines[0] and "Signing Secret" in lines[0]
    assert "AWS_REGION" in lines[0]
    assert "Traceback" not in result.stderr


def test_no_region_stops_start_up_with_one_line_naming_aws_region(tmp_path: Path) -> None:
    # README lists AWS_REGION as required: without it (or AWS_DEFAULT_REGION, or a profile's region) the bot
    # does not start and look healthy only to fail every bind.
    env = clean_env(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",  # loopback, should it start after all
        PORT=str(free_port()),
    )
    result = run_bot(tmp_path, env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Configuration error: missing AWS_REGION (the region of your Incident Manager")
    assert "AWS_DEFAULT_REGION" in line


def test_an_inline_comment_passed_through_by_an_env_file_is_named(tmp_path: Path) -> None:
    # What `docker run --env-file` hands over for `INCIDENT_MANAGER_READ_TIMEOUT=10  # seconds`.
    env = clean_env(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        AWS_REGION="eu-west-1",
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",
        PORT=str(free_port()),
        INCIDENT_MANAGER_READ_TIMEOUT="10  # seconds to wait for Incident Manager's answer",
    )
    result = run_bot(tmp_path, env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "INCIDENT_MANAGER_READ_TIMEOUT has text after its value that looks like an inline comment" in line
    assert "put comments on their own line" in line


def test_malformed_configuration_is_one_clear_line(tmp_path: Path) -> None:
    env = clean_env(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN="not-a-token",
        SLACK_SIGNING_SECRET="x",
        PORT="eighty",
        DATABASE_URL="mysql://user:hunter2@db/bot",
    )
    result = run_bot(tmp_path, env)
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "SLACK_BOT_TOKEN must start with xoxb-" in line
    assert "PORT must be a number" in line
    assert "DATABASE_URL must be a sqlite:// or postgresql:// URL" in line
    assert "hunter2" not in line


def test_a_database_it_cannot_reach_stops_start_up_with_one_line_naming_it(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = clean_env(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        PORT=str(free_port()),
        AWS_REGION="eu-west-1",
        DATABASE_URL=f"postgresql://bot:hunter2-pw@127.0.0.1:{port}/incidents",
    )
    result = run_bot(tmp_path, env)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"Cannot start: cannot use the PostgreSQL database 'incidents' on 127.0.0.1:{port}: "
    )
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_socket_mode_does_not_need_the_signing_secret(tmp_path: Path) -> None:
    env = clean_env(PYTHONPATH=str(ROOT), SLACK_APP_TOKEN="bad-app-token")
    result = run_bot(tmp_path, env)
    (line,) = result.stderr.strip().splitlines()
    assert "SLACK_BOT_TOKEN" in line and "SLACK_APP_TOKEN must start with xapp-" in line
    assert "SLACK_SIGNING_SECRET" not in line


def _command(url: str, fake_slack: FakeSlack, text: str, *, tamper_first: bool = False) -> str:
    """Send a signed slash command to a bot process; return the reply it posted to the response_url."""
    response_url = fake_slack.new_response_url()
    body, headers = slack_requests.slash_command(
        SIGNING_SECRET, text=text, response_url=response_url, trigger_id=fake_slack.issue_trigger_id()
    )
    if tamper_first:
        assert http("POST", url + "/slack/events", body, slack_requests.tampered(headers)).status == 401
    assert http("POST", url + "/slack/events", body, headers).status == 200
    (reply,) = fake_slack.wait_for_responses(response_url, 1, timeout=15)
    return str(reply["text"])


def _wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"bot exited: {process.communicate()}")
        try:
            if http("GET", url + "/healthz", timeout=1).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    pytest.fail("bot never became healthy")


def test_serves_reads_dotenv_lets_real_env_win_and_stops_cleanly(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    port = free_port()
    (tmp_path / ".env").write_text(
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\nSLACK_SIGNING_SECRET={SIGNING_SECRET}\n"
        f"SLACK_API_URL={fake_slack.api_url}\nPORT=1\nAWS_REGION=ca-central-1\n"
    )
    env = clean_env(
        PYTHONPATH=str(ROOT),
        PORT=str(port),  # wins over PORT=1 in .env
        AWS_ENDPOINT_URL_SSM_INCIDENTS=fake_aws.endpoint_url,
        AWS_ACCESS_KEY_ID="AKIDTEST",
        AWS_SECRET_ACCESS_KEY="aws-secret-Zq9x7",
        AWS_EC2_METADATA_DISABLED="true",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process)
        arn = fake_aws.add_incident(title="Process incident")
        assert "now bound" in _command(url, fake_slack, f"bind {arn}", tamper_first=True)
        assert fake_aws.calls_to("GetIncidentRecord")[0].region == "ca-central-1"
        assert (tmp_path / "incident-bot.db").exists()  # the default DATABASE_URL, in the working directory
    finally:
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    for line in stderr.strip().splitlines():
        json.loads(line)  # structured logs: one JSON object per line
    assert SIGNING_SECRET not in stderr and BOT_TOKEN not in stderr and "aws-secret-Zq9x7" not in stderr
    assert '"message": "unsigned request refused"' in stderr  # the refused request is logged...
    assert slack_requests.VERIFICATION_TOKEN not in stderr  # ...without the body (and token) it carried


def test_port_in_use_is_one_line(tmp_path: Path, fake_slack: FakeSlack) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(
            PYTHONPATH=str(ROOT),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.api_url,
            PORT=str(port),
            AWS_REGION="eu-west-1",
            DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
        )
        result = run_bot(tmp_path, env)
    assert result.returncode == 1
    # Only the reason: no "stopping" line, nothing from the start-up checks before it.
    assert result.stderr.strip().splitlines() == [
        f"Cannot start: port {port} is already in use: stop what holds it, or set PORT"
    ]


def test_start_up_says_what_it_does_in_readable_lines_even_with_slack_unreachable(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/api/"
    log = tmp_path / "bot.log"
    process, url = _start(
        tmp_path,
        fake_slack,
        fake_aws,
        log=log,
        SLACK_API_URL=unreachable,
        AWS_ACCESS_KEY_ID="",
        AWS_SECRET_ACCESS_KEY="",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    try:
        _wait_healthy(url, process)  # the credentials check never holds readiness
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "no AWS credentials" not in log.read_text():
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    assert process.returncode == 0
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines()]
    port = url.rsplit(":", 1)[1]
    assert messages[0] == f"starting: Slack over HTTP on port {port}, Incident Manager in eu-west-1"
    assert messages[1] == "Slack not reachable at start; serving meanwhile"
    assert messages[2] == f"ready, listening on http://0.0.0.0:{port}/slack/events"
    assert any(m.startswith("no AWS credentials found") for m in messages), messages
    assert not any("retry handler" in m for m in messages)  # slack_sdk's DEBUG notice stays at DEBUG


def test_dockerfile_healthcheck_command_works_against_the_bot(bot_process_url: str) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    joined = dockerfile.replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", joined, re.MULTILINE)
    assert match, "Dockerfile has no exec-form HEALTHCHECK"
    command = json.loads(match.group(1))
    port = bot_process_url.rsplit(":", 1)[1]
    ok = subprocess.run(command, env={**os.environ, "PORT": port}, capture_output=True, timeout=10)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run(
        command, env={**os.environ, "PORT": str(free_port())}, capture_output=True, timeout=10
    )
    assert down.returncode != 0


def test_dockerfile_runs_as_non_root_with_exec_form_cmd() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.MULTILINE)
    assert re.search(r"^USER (?!root)\S+", dockerfile, re.MULTILINE)
    assert re.search(r'^CMD \["python", "-m", "bot"\]', dockerfile, re.MULTILINE)


@pytest.fixture
def bot_process_url(bot: object) -> str:
    from tests.support.harness import Harness

    assert isinstance(bot, Harness)
    return bot.url


def _start(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_aws: FakeIncidentManager,
    *,
    log: Path | None = None,
    **extra: str,
) -> tuple[subprocess.Popen[str], str]:
    """`python -m bot` against the fakes; its stderr piped, or written to `log` to be read while it runs."""
    port = free_port()
    values = {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "PORT": str(port),
        "AWS_REGION": "eu-west-1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
        "AWS_ENDPOINT_URL_SSM_INCIDENTS": fake_aws.endpoint_url,
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-Zq9x7",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env = clean_env(**{**values, **extra})
    with contextlib.ExitStack() as files:
        stderr: IO[str] | int = files.enter_context(log.open("w")) if log is not None else subprocess.PIPE
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    return process, f"http://127.0.0.1:{port}"


def test_rejected_bot_token_stops_start_up_with_one_line(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    process, _url = _start(tmp_path, fake_slack, fake_aws, SLACK_BOT_TOKEN="xoxb-revoked-or-mistyped")
    _stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Cannot start: Slack rejected SLACK_BOT_TOKEN (invalid_auth)")
    assert "Traceback" not in stderr and "xoxb-revoked-or-mistyped" not in stderr


def test_stop_finishes_acknowledged_work_before_exiting(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    process, url = _start(tmp_path, fake_slack, fake_aws)
    try:
        _wait_healthy(url, process)
        arn = fake_aws.add_incident(title="Deploy during an incident")
        assert "now bound" in _command(url, fake_slack, f"bind {arn}")
        fake_aws.set_latency(2.0, operation="CreateTimelineEvent")
        note_url = fake_slack.new_response_url()
        body, headers = slack_requests.slash_command(
            SIGNING_SECRET,
            text="noted right before a deploy",
            response_url=note_url,
            trigger_id=fake_slack.issue_trigger_id(),
        )
        assert http("POST", url + "/slack/events", body, headers).status == 200  # acked; AWS still busy
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=20)
    finally:
        fake_aws.set_latency(0.0)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    (event,) = fake_aws.events(arn)
    assert json.loads(event["eventData"]).startswith("noted right before a deploy")
    (reply,) = fake_slack.responses(note_url)
    assert "Added a note" in reply["text"]


def test_stop_exits_in_time_while_incident_manager_never_answers(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    # Docker sends SIGKILL 10 s after SIGTERM; a boto3 call that never returns must not hold the exit.
    process, url = _start(tmp_path, fake_slack, fake_aws)
    try:
        _wait_healthy(url, process)
        arn = fake_aws.add_incident(title="Incident Manager hangs")
        assert "now bound" in _command(url, fake_slack, f"bind {arn}")
        fake_aws.set_latency(3600.0, operation="CreateTimelineEvent")  # never answers
        # The reply "saved, not on the timeline yet" comes once the call has been with AWS for 5 s.
        assert QUEUED in _command(url, fake_slack, "noted while AWS hangs")
        process.send_signal(signal.SIGTERM)
        try:
            _stdout, stderr = process.communicate(timeout=8)  # a bounded wait: the behaviour under test
        except subprocess.TimeoutExpired:
            pytest.fail("the bot did not exit within 8 s of SIGTERM")
    finally:
        fake_aws.set_latency(0.0)
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert fake_aws.events(arn) == []
    # The entry stays pending in the store, with its token, for the next run to resend.
    with sqlite3.connect(tmp_path / "bot.db") as db:
        rows = db.execute("SELECT state, event_data FROM timeline_entries").fetchall()
    assert [(state, json.loads(data).split("\n")[0]) for state, data in rows] == [
        ("pending", "noted while AWS hangs")
    ]


def test_rejected_app_token_stops_socket_mode_start_up_with_one_line(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    process, _url = _start(
        tmp_path, fake_slack, fake_aws, SLACK_APP_TOKEN="xapp-not-this-app", SLACK_SIGNING_SECRET=""
    )
    _stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 1
    assert (
        stderr.strip()
        .splitlines()[-1]
        .startswith("Cannot start: Slack rejected SLACK_APP_TOKEN (invalid_auth)")
    )
    assert "xapp-not-this-app" not in stderr and "Traceback" not in stderr


def test_socket_mode_without_slack_is_unhealthy_and_still_stops(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/api/"
    process, url = _start(
        tmp_path,
        fake_slack,
        fake_aws,
        SLACK_APP_TOKEN="xapp-test-token",
        SLACK_SIGNING_SECRET="",
        SLACK_API_URL=unreachable,
    )
    try:
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = http("GET", url + "/healthz", timeout=1).status
            except OSError:
                status = 0
            if status:
                break
            time.sleep(0.1)
        assert status == 503  # up, but not connected to Slack: not ready
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 12
    assert "Traceback" not in stderr


def test_slack_outage_page_at_start_is_a_warning_not_a_crash(
    tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    fake_slack.fail_next_http("auth.test", status=503, body="upstream connect error or disconnect")
    process, url = _start(tmp_path, fake_slack, fake_aws)
    try:
        _wait_healthy(url, process)
        # Requests are served meanwhile, and the person still gets the real answer.
        arn = fake_aws.add_incident(title="Served during a Slack blip")
        assert "now bound" in _command(url, fake_slack, f"bind {arn}")
    finally:
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Slack refused the start-up check; serving meanwhile" in stderr  # the 503 outage page
    assert "Traceback" not in stderr
