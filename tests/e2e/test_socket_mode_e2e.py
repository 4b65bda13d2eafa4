"""Socket Mode end to end: the real bot, started with SLACK_APP_TOKEN, opens a Socket Mode connection to
FakeSlack and is driven only through envelopes, as Slack drives it.

Protocol as documented at https://docs.slack.dev/apis/events-api/using-socket-mode/ (see
tests/fakes/slack_api.py): the app calls ``apps.connections.open`` with the app-level token, connects to
the returned URL, gets ``hello``, then receives envelopes and acks each by ``envelope_id`` within 3 s
(with a ``payload`` when ``accepts_response_payload`` is true).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.config import load_settings
from tests.conftest import bot_env
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import DEFAULT_APP_TOKEN, FakeSlack
from tests.support import slack_requests
from tests.support.bot_server import BotServer, http
from tests.support.harness import Harness, values_from_view

APP_TOKEN = DEFAULT_APP_TOKEN  # what FakeSlack accepts on apps.connections.open
SLACK_ACK_SECONDS = 3.0  # Slack's window for acknowledging an envelope


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _bot_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bot-under-test" and t.is_alive()]


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(autouse=True)
def _clean_socket_mode_run(monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack) -> Iterator[None]:
    """Set up before, and torn down after, ``make_bot``: checks that the bot stopped at fixture
    teardown without hanging, closed its Socket Mode connection and logged no error meanwhile."""
    # slack_sdk's Socket Mode client takes HTTP(S)_PROXY from the environment and ignores NO_PROXY.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    errors = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        yield
    finally:
        root.removeHandler(errors)
    assert _bot_threads() == [], "the bot did not stop within BotServer.stop's 10 s join"
    assert _until(lambda: fake_slack.socket_connections() == 0), "the bot left its socket open"
    logged = [f"{r.name}: {r.getMessage()}" for r in errors.records]
    assert logged == [], f"errors were logged while the bot ran or stopped: {logged}"


@pytest.fixture
def socket_bot(make_bot: Callable[..., Harness], fake_slack: FakeSlack) -> Harness:
    # No signing secret: in Socket Mode the connection is authenticated by the app-level token.
    harness = make_bot(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")
    fake_slack.wait_for_socket_connection(timeout=10)
    return harness


def send_command(bot: Harness, text: str, **fields: Any) -> tuple[str, str]:
    """Send ``/incident-note <text>`` as a ``slash_commands`` envelope whose payload holds the same
    fields as the slash command POST; return ``(envelope_id, response_url)``."""
    response_url = bot.slack.new_response_url()
    body, _ = slack_requests.slash_command(
        bot.secret, text=text, response_url=response_url, trigger_id=bot.slack.issue_trigger_id(), **fields
    )
    payload = dict(parse_qsl(body, keep_blank_values=True))
    envelope_id = bot.slack.send_envelope("slash_commands", payload, accepts_response_payload=True)
    return envelope_id, response_url


def prompt_ack(bot: Harness, envelope_id: str) -> dict[str, Any]:
    """The ack of ``envelope_id``, checked to have come within Slack's 3 seconds."""
    ack = bot.slack.wait_for_ack(envelope_id, timeout=5.0)
    seconds = bot.slack.envelope(envelope_id).ack_seconds
    assert seconds is not None and seconds < SLACK_ACK_SECONDS, f"ack took {seconds}s"
    assert ack["envelope_id"] == envelope_id
    return ack


def reply_text(bot: Harness, response_url: str) -> str:
    (reply,) = bot.slack.wait_for_responses(response_url, 1, timeout=15.0)
    assert reply.get("response_type", "ephemeral") == "ephemeral", reply
    return str(reply["text"])


def test_connects_with_the_app_token_and_serves_only_health_over_http(socket_bot: Harness) -> None:
    # One call checks the app token at start (a rejected one stops the bot), one opens the socket.
    opens = socket_bot.slack.calls_to("apps.connections.open")
    assert len(opens) == 2
    for opened in opens:
        assert opened.ok and opened.http_method == "POST"
        assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
        assert "token" not in opened.params
    assert socket_bot.slack.socket_connections() == 1

    health = socket_bot.healthz()
    assert health.status == 200 and health.json() == {"ok": True}
    # Slack delivers nothing over HTTP in Socket Mode, and the bot does not serve the HTTP endpoint.
    arn = socket_bot.new_incident()
    result = socket_bot.command(f"bind {arn}")
    assert result.ack.status == 404
    assert http("GET", socket_bot.url + "/slack/events").status == 404
    assert socket_bot.aws.calls == [] and socket_bot.slack.all_responses() == []
    assert socket_bot.slack.socket_connections() == 1


def test_bind_is_acked_at_once_and_answered_on_the_response_url(socket_bot: Harness) -> None:
    arn = socket_bot.new_incident("Checkout DB down")
    envelope_id, response_url = send_command(socket_bot, f"bind {arn}")
    assert prompt_ack(socket_bot, envelope_id) == {"envelope_id": envelope_id}  # empty ack
    reply = reply_text(socket_bot, response_url)
    assert "now bound" in reply and "Checkout DB down" in reply
    (call,) = socket_bot.aws.calls_to("GetIncidentRecord")
    assert call.params["arn"] == arn
    (announcement,) = socket_bot.slack.calls_to("chat.postMessage")
    assert "<@U0001> bound this channel" in announcement.params["text"]


def test_a_note_lands_on_the_bound_incidents_timeline(socket_bot: Harness) -> None:
    arn = socket_bot.new_incident("Checkout DB down")
    bind_id, bind_url = send_command(socket_bot, f"bind {arn}")
    prompt_ack(socket_bot, bind_id)
    assert "now bound" in reply_text(socket_bot, bind_url)

    envelope_id, response_url = send_command(socket_bot, "the DB failover finished")
    assert prompt_ack(socket_bot, envelope_id) == {"envelope_id": envelope_id}
    assert reply_text(socket_bot, response_url).startswith("Added a note to ")
    (event,) = socket_bot.aws.events(arn)
    assert event["eventType"] == "Note"
    assert event["eventReferences"] == [{"resource": arn}]
    assert socket_bot.event_text(event) == "the DB failover finished\n\n— alice, via Slack"


def test_a_pin_and_the_shortcut_work_over_the_socket(socket_bot: Harness) -> None:
    arn = socket_bot.new_incident("Checkout DB down")
    bind_id, bind_url = send_command(socket_bot, f"bind {arn}")
    prompt_ack(socket_bot, bind_id)
    assert "now bound" in reply_text(socket_bot, bind_url)
    pinned = socket_bot.slack.add_message("C0001", {"user": "U0002", "text": "replica promoted"})
    event = slack_requests.reaction_added_event("U0001", "pushpin", "C0001", pinned, "U0002")
    body, _ = slack_requests.event_callback(socket_bot.secret, event, event_id="Ev0SOCKET")
    # Slack re-sends an unacknowledged event in a new envelope with the same event_id.
    for _ in range(2):
        prompt_ack(socket_bot, socket_bot.slack.send_envelope("events_api", json.loads(body)))
    socket_bot.slack.wait_for_calls("reactions.add", 1, timeout=10)

    added = socket_bot.slack.add_message("C0001", {"user": "U0003", "text": "cache flushed"})
    message = next(m for m in socket_bot.slack.messages("C0001") if m["ts"] == added)
    response_url = socket_bot.slack.new_response_url()
    shortcut = slack_requests.message_shortcut_payload(
        message=message, trigger_id=socket_bot.slack.issue_trigger_id(), response_url=response_url
    )
    prompt_ack(socket_bot, socket_bot.slack.send_envelope("interactive", shortcut))
    (opened,) = socket_bot.slack.wait_for_calls("views.open", 1, timeout=10)
    view = opened.response["view"]
    submission = slack_requests.view_submission_payload(view, values=values_from_view(view))
    submit_id = socket_bot.slack.send_envelope("interactive", submission, accepts_response_payload=True)
    prompt_ack(socket_bot, submit_id)
    assert reply_text(socket_bot, response_url).startswith("Added a note to ")

    texts = sorted(socket_bot.event_text(e) for e in socket_bot.aws.events(arn))
    assert len(texts) == 2
    assert texts[0].startswith("cache flushed\n\n— Carol Danvers, via Slack (added by alice)\n")
    assert texts[1].startswith("replica promoted\n\n— bob, via Slack (added by alice)\n")


def test_help_comes_back_in_the_ack_payload(socket_bot: Harness) -> None:
    envelope_id, response_url = send_command(socket_bot, "help")
    ack = prompt_ack(socket_bot, envelope_id)
    payload = ack["payload"]
    assert payload["response_type"] == "ephemeral"
    for form in (
        "note &lt;text&gt;",
        "event &lt;text&gt;",
        "bind &lt;incident-record-arn&gt;",
        "unbind",
        "status",
        "help",
    ):
        assert form in payload["text"]
    assert socket_bot.slack.responses(response_url) == []
    assert socket_bot.aws.calls == []


def test_events_api_and_interactive_envelopes_are_acked(socket_bot: Harness) -> None:
    event = slack_requests.reaction_added_event(
        user="U0001", reaction="pushpin", channel="C0001", ts="1712345678.000100", item_user="U0002"
    )
    body, _ = slack_requests.event_callback(socket_bot.secret, event)
    event_id = socket_bot.slack.send_envelope("events_api", json.loads(body))
    assert socket_bot.slack.envelope(event_id).accepts_response_payload is False
    assert prompt_ack(socket_bot, event_id) == {"envelope_id": event_id}

    response_url = socket_bot.slack.new_response_url()
    shortcut = slack_requests.message_shortcut_payload(
        message={"type": "message", "user": "U0002", "ts": "1712345678.000100", "text": "db ok"},
        trigger_id=socket_bot.slack.issue_trigger_id(),
        response_url=response_url,
    )
    shortcut_id = socket_bot.slack.send_envelope("interactive", shortcut)
    prompt_ack(socket_bot, shortcut_id)
    assert "isn't bound to an incident" in reply_text(socket_bot, response_url)
    assert socket_bot.aws.calls == []


@pytest.mark.parametrize("how", ["refresh_requested", "dropped"])
def test_reconnects_when_slack_refreshes_or_drops_the_connection(socket_bot: Harness, how: str) -> None:
    fake = socket_bot.slack
    if how == "refresh_requested":
        assert fake.send_disconnect("refresh_requested") == 1
    else:
        fake.close_socket_connections()
    # A fresh apps.connections.open and a new connection; the old one is gone.
    assert _until(lambda: fake.socket_connections_opened() == 2 and fake.socket_connections() == 1)
    opens = fake.calls_to("apps.connections.open")
    assert len(opens) == 3 and all(c.ok for c in opens)  # the start-up check, the first socket, the new one
    envelope_id, _ = send_command(socket_bot, "help")
    assert "bind &lt;incident-record-arn&gt;" in prompt_ack(socket_bot, envelope_id)["payload"]["text"]


def test_stop_closes_the_socket_promptly(
    tmp_path: Path, aws_env: None, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    settings = load_settings(
        bot_env(tmp_path, fake_slack, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")
    )
    server = BotServer(settings).start()
    try:
        fake_slack.wait_for_socket_connection(timeout=10)
        opens = len(fake_slack.calls_to("apps.connections.open"))
    finally:
        started = time.monotonic()
        server.stop()
        took = time.monotonic() - started
    assert took < 5.0, f"stopping took {took:.1f}s"
    assert _bot_threads() == []
    assert _until(lambda: fake_slack.socket_connections() == 0)
    assert len(fake_slack.calls_to("apps.connections.open")) == opens  # no reconnect on the way out


def test_the_picker_and_its_search_work_over_socket_mode(socket_bot: Harness) -> None:
    arns = [socket_bot.new_incident(f"Socket incident {i}") for i in range(101)]
    envelope_id, _ = send_command(socket_bot, "bind")
    prompt_ack(socket_bot, envelope_id)
    (opened,) = socket_bot.slack.wait_for_calls("views.open", 1, timeout=10)
    assert opened.ok, opened.response
    view = opened.response["view"]
    # An options request comes as an `interactive` envelope; its options ride on the ack's payload.
    suggestion = slack_requests.block_suggestion_payload(
        view, action_id="incident_search", block_id="incident_choice", value="incident 100"
    )
    search_id = socket_bot.slack.send_envelope("interactive", suggestion, accepts_response_payload=True)
    [option] = prompt_ack(socket_bot, search_id)["payload"]["options"]
    assert option["value"] == arns[100] and option["text"]["text"].startswith("Socket incident 100 · ")
    values = {"incident_choice": {"incident_search": {"type": "external_select", "selected_option": option}}}
    submission = slack_requests.view_submission_payload(view, values=values)
    prompt_ack(
        socket_bot, socket_bot.slack.send_envelope("interactive", submission, accepts_response_payload=True)
    )
    (reply,) = socket_bot.slack.wait_for_calls("chat.postEphemeral", 1, timeout=10)
    assert "now bound" in str(reply.params["text"]) and "Socket incident 100" in str(reply.params["text"])
    assert len(socket_bot.aws.related_items(arns[100])) == 1
