"""Odd and malformed requests to /slack/events: each gets a deliberate answer and a log line, touches
neither AWS nor the Slack Web API, and leaves the bot serving.

What is deliberate, per case:
- a body the bot cannot read at all (broken or truncated JSON, JSON that is not an object, not UTF-8):
  401 when it is not signed with our secret, as for any unsigned request, else 400. Never a 500: Slack
  retries a 5xx, and a traceback in the log for every forged request helps nobody.
- a readable request of a kind the bot has no handler for (an interactivity `type` it does not know, an
  empty body, a slash-command body without `command`): Bolt's own 404 "unhandled request", with its warning
  in the log. Slack does not retry interactivity or commands, and the person sees that it did not work.
- an Events API callback is different: Slack retries every non-2xx three times and turns off the app's
  event subscriptions when most deliveries fail, which would silently stop pins too. Events the bot does
  not handle are therefore acknowledged with 200 and logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from tests.support import slack_requests
from tests.support.bot_server import HttpResult, http
from tests.support.harness import CommandResult, Harness

# Time for work a handler started after its ack (replies, AWS calls) to show up in the fakes.
SETTLE_SECONDS = 0.4


def sign_bytes(body: bytes, secret: str) -> dict[str, str]:
    """Slack's signature over raw bytes (the helpers in slack_requests sign text)."""
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def signed(bot: Harness, body: str, content_type: str) -> dict[str, str]:
    # The harness sends text as UTF-8 with lone surrogates passed through, so a body can carry bytes that
    # are not UTF-8; sign exactly the bytes that go on the wire.
    return {"Content-Type": content_type, **sign_bytes(body.encode("utf-8", "surrogatepass"), bot.secret)}


class Watch:
    """What one request did: its answer, the log records it caused, and proof it had no side effects."""

    def __init__(self, bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
        self.bot = bot
        self.caplog = caplog
        self._slack_calls = len(bot.slack.calls)
        self._responses = len(bot.slack.response_log)
        self._aws_calls = len(bot.aws.calls)

    def post(self, body: str, headers: dict[str, str]) -> HttpResult:
        self.caplog.clear()
        self._slack_calls = len(self.bot.slack.calls)
        self._responses = len(self.bot.slack.response_log)
        self._aws_calls = len(self.bot.aws.calls)
        result = self.bot.post(body, headers)
        time.sleep(SETTLE_SECONDS)
        return result

    def records(self) -> list[logging.LogRecord]:
        return list(self.caplog.records)

    def assert_logged_cleanly(self) -> None:
        """A log line from the bot or Bolt says what came in; no traceback, no aiohttp 'Error handling'."""
        records = self.records()
        ours = [
            r for r in records if r.name.split(".")[0] in ("bot", "slack_bolt") and r.levelno >= logging.INFO
        ]
        assert ours, [(r.name, r.getMessage()) for r in records]
        crashes = [r for r in records if r.exc_info or r.name.startswith("aiohttp")]
        assert not crashes, [(r.name, r.getMessage()) for r in crashes]

    def assert_no_side_effects(self) -> None:
        slack_calls = self.bot.slack.calls[self._slack_calls :]
        assert slack_calls == [], [call.method for call in slack_calls]
        responses = self.bot.slack.response_log[self._responses :]
        assert responses == [], responses
        aws_calls = self.bot.aws.calls[self._aws_calls :]
        assert aws_calls == [], [call.operation for call in aws_calls]

    def assert_still_serving(self) -> None:
        result = self.bot.command("help")
        assert result.ack.status == 200 and "/incident-note bind" in result.ack_text
        assert self.bot.healthz().status == 200


@pytest.fixture
def watch(bot: Harness, caplog: pytest.LogCaptureFixture) -> Iterator[Watch]:
    caplog.set_level(logging.INFO)
    yield Watch(bot, caplog)


def form(**fields: str) -> str:
    return urlencode(fields)


def payload_form(raw_json: str) -> str:
    # Exactly how Slack sends interactivity: `payload=` and the URL-encoded JSON.
    return "payload=" + quote(raw_json, safe="")


FORM = slack_requests.FORM
JSON_CT = slack_requests.JSON_CT
EVENT = json.dumps(
    {
        "type": "event_callback",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": slack_requests.reaction_added_event(
            "U0002", "pushpin", "C0001", "1712345678.000100", "U0001"
        ),
        "event_id": "Ev0DDPAYLOAD",
        "event_time": 1712345678,
    }
)
SHORTCUT = json.dumps({"type": "message_action", "callback_id": "add_to_timeline", "team": {"id": "T0001"}})

UNREADABLE = [
    pytest.param(payload_form("{not json"), FORM, id="interactivity-payload-broken-json"),
    pytest.param(payload_form(SHORTCUT[: len(SHORTCUT) // 2]), FORM, id="interactivity-payload-truncated"),
    pytest.param(payload_form("[1, 2]"), FORM, id="interactivity-payload-a-list"),
    pytest.param(EVENT[:-20], JSON_CT, id="event-json-truncated"),
    pytest.param('["event_callback"]', JSON_CT, id="json-array"),
    pytest.param('"event_callback"', JSON_CT, id="json-string"),
    pytest.param("null", JSON_CT, id="json-null"),
    pytest.param(form(command="/incident-note", text="help"), JSON_CT, id="form-body-labelled-json"),
    pytest.param(EVENT.replace("pushpin", "push\udcffpin"), JSON_CT, id="not-utf8"),
]


@pytest.mark.parametrize(("body", "content_type"), UNREADABLE)
def test_a_signed_body_the_bot_cannot_read_gets_400(watch: Watch, body: str, content_type: str) -> None:
    result = watch.post(body, signed(watch.bot, body, content_type))
    assert result.status == 400, result
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()


@pytest.mark.parametrize(("body", "content_type"), UNREADABLE)
def test_an_unsigned_body_the_bot_cannot_read_gets_401_like_any_unsigned_request(
    watch: Watch, body: str, content_type: str
) -> None:
    result = watch.post(body, {"Content-Type": content_type})
    assert result.status == 401, result
    assert "Server got itself in trouble" not in result.body
    watch.assert_no_side_effects()
    watch.assert_still_serving()


def test_an_event_whose_event_is_not_an_object_gets_400(watch: Watch) -> None:
    # Valid JSON, signed, but Bolt's middleware calls .get on `event`: today a 500 that Slack retries.
    body = json.dumps({"type": "event_callback", "team_id": "T0001", "event": "reaction_added"})
    result = watch.post(body, signed(watch.bot, body, JSON_CT))
    assert result.status == 400, result
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()


@pytest.mark.parametrize("content_type", [FORM, JSON_CT])
def test_an_empty_signed_body_is_refused_with_a_4xx(watch: Watch, content_type: str) -> None:
    result = watch.post("", signed(watch.bot, "", content_type))
    assert 400 <= result.status < 500, result
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()


def test_a_wrong_content_type_is_read_by_the_bodys_shape_as_bolt_does(watch: Watch) -> None:
    # Bolt reads a body by its shape ({...} is JSON, a=b&c=d a form); the signature still covers every
    # byte, so a correctly signed command labelled text/plain is authentic and is served.
    watch.bot.bound_incident()
    body, _ = slack_requests.slash_command(
        watch.bot.secret,
        text="help",
        response_url=watch.bot.slack.new_response_url(),
        trigger_id=watch.bot.slack.issue_trigger_id(),
    )
    result = watch.post(body, signed(watch.bot, body, "text/plain"))
    assert result.status == 200 and "/incident-note bind" in str(result.json()["text"])
    watch.assert_no_side_effects()
    # And a url_verification labelled text/plain still gets its challenge back.
    challenge = json.dumps({"type": "url_verification", "challenge": "odd-challenge", "token": "x"})
    result = watch.post(challenge, signed(watch.bot, challenge, "text/plain"))
    assert result.status == 200 and result.json() == {"challenge": "odd-challenge"}
    watch.assert_no_side_effects()
    assert "Checkout DB down" in watch.bot.run("status")


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "some_future_surface", "team": {"id": "T0001"}, "user": {"id": "U0001"}},
        {"type": 5, "team": {"id": "T0001"}},
        {"team": {"id": "T0001"}, "user": {"id": "U0001"}},
    ],
    ids=["unknown-type", "type-not-a-string", "no-type"],
)
def test_an_interactivity_payload_of_an_unknown_type_gets_bolts_404(
    watch: Watch, payload: dict[str, Any]
) -> None:
    watch.bot.bound_incident()
    body, headers = slack_requests.interactivity(watch.bot.secret, payload)
    result = watch.post(body, headers)
    # Interactivity is not retried; a 404 makes Slack tell the person it did not work, which is true.
    assert result.status == 404, result
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()


def test_a_slash_command_body_without_its_command_gets_bolts_404(watch: Watch) -> None:
    body = form(team_id="T0001", channel_id="C0001", user_id="U0001", text="note db down")
    result = watch.post(body, signed(watch.bot, body, FORM))
    assert result.status == 404, result
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()


@pytest.mark.parametrize(
    "event",
    [
        {"type": "app_mention", "user": "U0001", "text": "<@UBOT> hi", "channel": "C0001", "ts": "1.2"},
        {"type": "some_future_event"},
    ],
    ids=["app_mention", "unknown"],
)
def test_an_event_type_the_bot_does_not_handle_is_acknowledged_so_slack_does_not_retry(
    watch: Watch, event: dict[str, Any]
) -> None:
    watch.bot.bound_incident()
    body, headers = slack_requests.event_callback(watch.bot.secret, event)
    result = watch.post(body, headers)
    assert result.status == 200, result
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "user": "U0001", "text": "db down", "channel": "C0001", "ts": "1.2"},
        {"type": "message", "subtype": "channel_join", "user": "U0003", "channel": "C0001", "ts": "1.3"},
        {"type": "message", "subtype": "message_changed", "channel": "C0001", "message": "not an object"},
        {"type": "message", "subtype": "message_deleted", "channel": "C0001"},
    ],
    ids=["new", "join", "malformed-change", "delete-without-ts"],
)
def test_a_message_event_of_no_concern_is_acknowledged_and_costs_nothing(
    watch: Watch, event: dict[str, Any]
) -> None:
    # Every message in every channel the bot is in comes as one of these: acked, no call anywhere, and not
    # a line at INFO each (the log would hold the channel's whole traffic), nothing worse than DEBUG.
    watch.bot.bound_incident()
    body, headers = slack_requests.event_callback(watch.bot.secret, event)
    assert watch.post(body, headers).status == 200
    time.sleep(0.3)
    watch.assert_no_side_effects()
    crashes = [r for r in watch.records() if r.exc_info or r.levelno >= logging.WARNING]
    assert not crashes, [(r.name, r.getMessage()) for r in crashes]
    watch.assert_still_serving()


def test_an_event_for_another_workspace_is_acknowledged_and_ignored(watch: Watch) -> None:
    # The same channel id is bound in the bot's own workspace (T0001); a pin delivered for another team
    # (an org-wide or second install signed with the same app secret) must not reach that binding.
    # 200, not 4xx: Slack would retry a 4xx three times and count it against the app's event delivery,
    # and there is nothing the other workspace can do about it. Bindings are keyed by (team, channel), so
    # the event finds no binding, is logged, and nothing is asked of Slack or AWS.
    arn = watch.bot.bound_incident()
    ts = watch.bot.slack.add_message("C0001", {"user": "U0001", "ts": "1712345678.000100", "text": "db ok"})
    event = slack_requests.reaction_added_event("U0002", "pushpin", "C0001", ts, "U0001")
    body, headers = slack_requests.event_callback(watch.bot.secret, event, team_id="T9999")
    result = watch.post(body, headers)
    assert result.status == 200, result
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()
    # The same pin in the bot's own workspace does land: the event above was ignored for its team alone.
    assert watch.bot.react(ts).status == 200
    watch.bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    (landed,) = watch.bot.aws.events(arn)
    assert watch.bot.event_text(landed).startswith("db ok")


@pytest.mark.parametrize("missing", ["user_id", "channel_id", "team_id"])
@pytest.mark.parametrize("text", ["db failover finished", "status"])
def test_a_slash_command_without_who_or_where_is_refused_on_the_ack(
    watch: Watch, missing: str, text: str
) -> None:
    watch.bot.bound_incident()
    response_url = watch.bot.slack.new_response_url()
    body, _ = slack_requests.slash_command(
        watch.bot.secret,
        text=text,
        response_url=response_url,
        trigger_id=watch.bot.slack.issue_trigger_id(),
    )
    fields = [(key, value) for key, value in parse_qsl(body, keep_blank_values=True) if key != missing]
    body = urlencode(fields)
    result = watch.post(body, signed(watch.bot, body, FORM))
    # Slack always sends all three: without them there is no one to attribute a note to and nowhere to
    # reply. The ack (200, ephemeral) says it was not done; nothing else happens.
    assert result.status == 200, result
    reply = result.json()
    assert isinstance(reply, dict) and reply.get("text") and "Added" not in reply["text"], reply
    assert watch.bot.slack.responses(response_url) == []
    watch.assert_logged_cleanly()
    watch.assert_no_side_effects()
    watch.assert_still_serving()


def test_the_bot_survives_a_burst_of_odd_requests_and_still_adds_notes(bot: Harness) -> None:
    bot.bound_incident()
    for body, content_type in [
        (payload_form("{not json"), FORM),
        ("null", JSON_CT),
        ("", FORM),
        (payload_form(json.dumps({"type": "some_future_surface"})), FORM),
    ]:
        # Each is refused, none is served as a command (whatever the status, checked case by case above).
        assert bot.post(body, signed(bot, body, content_type)).status != 200
    assert bot.healthz().status == 200
    assert "Added a note" in bot.run("db failover finished")
    (call,) = [call for call in bot.aws.calls if call.operation == "CreateTimelineEvent"]
    assert "db failover finished" in json.loads(call.params["eventData"])
    assert http("GET", bot.url + "/healthz").status == 200


def test_control_characters_and_bytes_that_are_not_utf8_in_a_slash_note_land_cleaned(bot: Harness) -> None:
    # Slack form-encodes the text: %00 and ESC are control characters, %ED%A0%80 is a UTF-8-encoded lone
    # surrogate (not valid UTF-8), which the form decoding turns into U+FFFD.
    arn = bot.bound_incident()
    response_url = bot.slack.new_response_url()
    body, _ = slack_requests.slash_command(
        bot.secret,
        text="db MARK down \u202eevil 📌",
        response_url=response_url,
        trigger_id=bot.slack.issue_trigger_id(),
    )
    body = body.replace("MARK", "%00%1B%5B31m%ED%A0%80%0D%0Anext")
    result = bot.post(body, signed(bot, body, FORM))
    assert result.status == 200 and result.body == ""
    assert "Added a note" in bot.reply(CommandResult(result, response_url, ""))
    (event,) = bot.aws.events(arn)
    text = bot.event_text(event)
    assert text.startswith("db [31m\ufffd\ufffd\ufffd\nnext down \u202eevil 📌\n\n— alice, via Slack"), text
    assert not any(ord(char) < 32 and char not in "\n\t" for char in text)


def test_lone_surrogates_in_a_pinned_message_and_its_authors_name_land_as_replacement_characters(
    bot: Harness,
) -> None:
    # Slack's JSON may carry \ud800 escapes (apps post anything); they reach the bot as lone surrogates,
    # which neither SQLite, a UTF-8 body nor AWS accepts.
    arn = bot.bound_incident()
    bot.slack.add_user("U0009", display_name="m\ud800llory", real_name="M")
    ts = bot.slack.add_message(
        "C0001",
        {"user": "U0009", "ts": "1712345678.000200", "text": "half \udc00 an emoji \ud83d and <@U0009>"},
    )
    assert bot.react(ts, user_id="U0001").status == 200
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    (event,) = bot.aws.events(arn)
    text = bot.event_text(event)
    assert text.startswith("half \ufffd an emoji \ufffd and @m\ufffdllory\n\n— m\ufffdllory, via Slack"), text
    text.encode("utf-8")
    assert bot.slack.calls_to("chat.postEphemeral") == []  # no failure reply: it landed
