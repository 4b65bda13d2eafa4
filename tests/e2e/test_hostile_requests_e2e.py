"""Hostile and junk requests to /slack/events, against the real bot over loopback.

- A refused request costs almost nothing: an unsigned, stale or badly signed request is refused with 401
  from its headers (or, for a signature that looks right, from one HMAC over the body) and one short log
  line without its body, at every LOG_LEVEL, measured through the bot's real logging setup.
- Never a 5xx for junk: odd headers, bodies Bolt trips over and deeply nested JSON get a 400 or a 401 and
  one log line; a property test over headers and bodies finds no 5xx and leaves the bot healthy.
- The body limit fits what Slack sends: the largest message shortcut is served, a bigger body gets 413.
- No bearer value (response_url, trigger_id) reaches the log, even at DEBUG where Slack's SDK logs its
  requests.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.logs import configure_logging
from bot.server import MAX_BODY_BYTES
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.support import slack_requests
from tests.support.bot_server import HttpResult
from tests.support.harness import Harness

FORM = slack_requests.FORM
JSON_CT = slack_requests.JSON_CT
# The refused request's log must stay under this, whatever LOG_LEVEL (the issue's bound).
REFUSAL_LOG_BUDGET = 4096
# Time for the bot's thread to write what a request made it log.
SETTLE_SECONDS = 0.3

Headers = dict[str, str | bytes]


def post_raw(bot: Harness, body: bytes, headers: Headers, *, chunked: bool = False) -> HttpResult:
    """POST exact bytes with exact header values (bytes go on the wire as they are, so a header can carry
    UTF-8 that urllib would refuse)."""
    parts = urlsplit(bot.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=20)
    try:
        connection.putrequest("POST", "/slack/events")
        for name, value in headers.items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(body), 64 * 1024):
                piece = body[start : start + 64 * 1024]
                connection.send(f"{len(piece):X}\r\n".encode() + piece + b"\r\n")
            connection.send(b"0\r\n\r\n")
        else:
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
        response = connection.getresponse()
        return HttpResult(
            response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
        )
    finally:
        connection.close()


def signature_headers(body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> Headers:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def signed(body: bytes, content_type: str) -> Headers:
    return {"Content-Type": content_type, **signature_headers(body)}


def assert_still_serving(bot: Harness) -> None:
    assert bot.healthz().status == 200
    result = bot.command("help")
    assert result.ack.status == 200 and "/incident-note bind" in result.ack_text


# ------------------------------------------------------------------------------ the bot's real log


@pytest.fixture
def bot_log() -> Iterator[Callable[[str], io.StringIO]]:
    """Turn on the bot's own logging (`bot.logs.configure_logging`, as `python -m bot` does) into a
    buffer, at a LOG_LEVEL; put pytest's logging back afterwards."""
    root = logging.getLogger()
    quieted = ("botocore", "aiohttp.access")
    saved = (root.handlers[:], root.level, {name: logging.getLogger(name).level for name in quieted})

    def start(level: str) -> io.StringIO:
        buffer = io.StringIO()
        configure_logging(level, [SIGNING_SECRET, BOT_TOKEN], stream=buffer)
        return buffer

    yield start
    handlers, level, levels = saved
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, previous in levels.items():
        logging.getLogger(name).setLevel(previous)


def written_during(buffer: io.StringIO, send: Callable[[], HttpResult]) -> tuple[HttpResult, str]:
    """What `send` answered, and everything the bot logged meanwhile (and shortly after)."""
    before = len(buffer.getvalue())
    result = send()
    time.sleep(SETTLE_SECONDS)
    return result, buffer.getvalue()[before:]


def lines_of(log: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in log.splitlines()]
    assert all(isinstance(entry, dict) for entry in entries), log[:2000]
    return entries


def megabyte_command(response_url: str, trigger_id: str) -> bytes:
    """A slash command padded to 1 MB, carrying the bearer values a real one carries."""
    body, _ = slack_requests.slash_command(
        SIGNING_SECRET, text="MARKER", response_url=response_url, trigger_id=trigger_id
    )
    padding = "x" * (1_000_000 - len(body))
    return body.replace("MARKER", "MARKER" + padding).encode()


REFUSALS: dict[str, Callable[[bytes], Headers]] = {
    "unsigned": lambda body: {"Content-Type": FORM},
    # Genuine, but older than Slack's 5-minute window: a replay.
    "stale-but-genuine": lambda body: {
        "Content-Type": FORM,
        **signature_headers(body, timestamp=slack_requests.stale_timestamp()),
    },
    # Looks right, so the body is read and checked: it does not match.
    "wrong-signature": lambda body: {
        "Content-Type": FORM,
        **signature_headers(body, secret="not-the-signing-secret"),
    },
}


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
@pytest.mark.parametrize("kind", list(REFUSALS))
def test_a_refused_megabyte_request_costs_one_short_log_line_at_every_level(
    make_bot: Callable[..., Harness], bot_log: Callable[[str], io.StringIO], level: str, kind: str
) -> None:
    buffer = bot_log(level)
    bot = make_bot(LOG_LEVEL=level)
    response_url = bot.slack.new_response_url()
    trigger_id = bot.slack.issue_trigger_id()
    body = megabyte_command(response_url, trigger_id)
    assert len(body) == 1_000_000

    result, log = written_during(buffer, lambda: post_raw(bot, body, REFUSALS[kind](body)))

    assert result.status == 401, result
    assert len(log.encode()) < REFUSAL_LOG_BUDGET, (len(log), log[:3000])
    (entry,) = [e for e in lines_of(log) if e["logger"].startswith(("bot", "slack_bolt"))]
    assert entry["message"] == "unsigned request refused", entry
    # Nothing of the body: not its text, nor the values that let their holder act as the bot.
    for value in ("MARKER", response_url, trigger_id, slack_requests.VERIFICATION_TOKEN):
        assert value not in log
    assert bot.aws.calls == [] and bot.slack.responses(response_url) == []
    assert_still_serving(bot)


# ------------------------------------------------------------------------------ junk: 400 or 401


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.INFO)

    def ours() -> list[logging.LogRecord]:
        # Any record of the bot, Bolt or aiohttp (whose "Error handling request" means a handler raised).
        return [r for r in caplog.records if r.name.split(".")[0] in ("bot", "slack_bolt", "aiohttp")]

    return ours


def payload_form(payload: object) -> bytes:
    return ("payload=" + quote(json.dumps(payload), safe="")).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BLOCK_ACTIONS = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "U0001"}}
ZERO_SIGNATURE = "v0=" + "0" * 64

SIGNED_JUNK = [
    pytest.param(payload_form({**BLOCK_ACTIONS, "actions": []}), FORM, id="block_actions-empty-actions"),
    pytest.param(payload_form(BLOCK_ACTIONS), FORM, id="block_actions-no-actions"),
    pytest.param(payload_form({**BLOCK_ACTIONS, "actions": [None]}), FORM, id="block_actions-null-action"),
    pytest.param(payload_form({**BLOCK_ACTIONS, "actions": "x"}), FORM, id="block_actions-actions-a-string"),
    pytest.param(
        payload_form({"type": "interactive_message", "callback_id": "x", "team": {"id": "T0001"}}),
        FORM,
        id="interactive_message-no-actions",
    ),
    # Bolt matches event types against our catch-all listener's regular expression, which takes only a str.
    pytest.param(
        json.dumps({"type": "event_callback", "team_id": "T0001", "event": {"type": 5}}).encode(),
        JSON_CT,
        id="event-type-a-number",
    ),
    # Bolt pastes a block_suggestion's action_id into its "unhandled request" warning with +.
    pytest.param(
        payload_form({"type": "block_suggestion", "action_id": ["a"], "team": {"id": "T0001"}}),
        FORM,
        id="block_suggestion-action_id-a-list",
    ),
    pytest.param(
        ('{"type": "event_callback", "x": ' + nested(100_000) + "}").encode(), JSON_CT, id="deep-json"
    ),
    pytest.param(("payload=" + quote('{"a": ' + nested(50_000) + "}")).encode(), FORM, id="deep-payload"),
    pytest.param(
        json.dumps({"type": "event_callback", "authorizations": {"team_id": "T0001"}}).encode(),
        JSON_CT,
        id="authorizations-an-object",
    ),
    pytest.param(json.dumps({"type": "view_submission", "view": "V1"}).encode(), JSON_CT, id="view-a-string"),
]


@pytest.mark.parametrize(("body", "content_type"), SIGNED_JUNK)
def test_a_signed_body_that_bolt_would_trip_over_gets_400_and_one_log_line(
    bot: Harness, records: Callable[[], list[logging.LogRecord]], body: bytes, content_type: str
) -> None:
    result = post_raw(bot, body, signed(body, content_type))
    time.sleep(SETTLE_SECONDS)
    assert result.status == 400, result
    (record,) = records()
    assert record.levelno == logging.WARNING and record.exc_info is None, record.getMessage()
    assert bot.aws.calls == []
    assert_still_serving(bot)


def _timestamp(value: str | bytes) -> Callable[[str], Headers]:
    return lambda now: {"X-Slack-Request-Timestamp": value, "X-Slack-Signature": ZERO_SIGNATURE}


def _signature(value: str | bytes | None) -> Callable[[str], Headers]:
    return lambda now: {
        "X-Slack-Request-Timestamp": now,
        **({} if value is None else {"X-Slack-Signature": value}),
    }


BAD_HEADERS = [
    pytest.param(_timestamp(""), id="empty-timestamp"),
    pytest.param(_timestamp("soon"), id="word-timestamp"),
    pytest.param(_timestamp("1.7e9"), id="float-timestamp"),
    # "²" passes str.isdigit() and int() refuses it.
    pytest.param(_timestamp("²".encode()), id="superscript-timestamp"),
    pytest.param(_timestamp("9" * 400), id="huge-timestamp"),
    # hmac.compare_digest raises TypeError on a str that is not ASCII.
    pytest.param(_signature(("v0=" + "é" * 64).encode()), id="non-ascii-signature"),
    pytest.param(_signature("v0=" + "Z" * 64), id="non-hex-signature"),
    pytest.param(_signature(""), id="empty-signature"),
    pytest.param(_signature(None), id="no-signature"),
]


@pytest.mark.parametrize("headers", BAD_HEADERS)
def test_malformed_signature_headers_get_401_and_one_log_line(
    bot: Harness, records: Callable[[], list[logging.LogRecord]], headers: Callable[[str], Headers]
) -> None:
    body = b"command=%2Fincident-note&text=help&team_id=T0001&channel_id=C0001&user_id=U0001"
    result = post_raw(bot, body, {"Content-Type": FORM, **headers(str(int(time.time())))})
    time.sleep(SETTLE_SECONDS)
    assert result.status == 401, result
    (record,) = records()
    assert record.getMessage() == "unsigned request refused" and record.exc_info is None
    assert_still_serving(bot)


def test_a_repeated_signature_header_is_refused_before_bolt_sees_it(
    bot: Harness, records: Callable[[], list[logging.LogRecord]]
) -> None:
    # The first signature is right, the second is not: we read the first, Bolt would read the last and
    # log the whole body. Neither may decide alone, so the request is refused outright.
    body, headers = slack_requests.slash_command(
        SIGNING_SECRET, text="help", response_url=bot.slack.new_response_url(), trigger_id="1.2.3"
    )
    parts = urlsplit(bot.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("X-Slack-Signature", ZERO_SIGNATURE)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body.encode())
        status = connection.getresponse().status
    finally:
        connection.close()
    time.sleep(SETTLE_SECONDS)
    assert status == 401
    (record,) = records()
    assert record.getMessage() == "unsigned request refused"
    assert_still_serving(bot)


# ------------------------------------------------------------------------------ the body limit


def test_the_largest_message_shortcut_slack_sends_is_served(bot: Harness) -> None:
    # 40,000 characters (Slack's message limit) of CJK text, sent as text and as its rich_text copy,
    # JSON-escaped and URL-encoded: the biggest body Slack sends this bot, and it fits.
    bot.bound_incident()
    text = "障" * 40_000
    ts = bot.slack.add_message("C0001", {"user": "U0001", "ts": "1712345678.000100", "text": text})
    payload = slack_requests.message_shortcut_payload(
        message_text=text,
        message_ts=ts,
        trigger_id=bot.slack.issue_trigger_id(),
        response_url=bot.slack.new_response_url(),
    )
    body = ("payload=" + quote(json.dumps(payload, ensure_ascii=False), safe="")).encode()
    assert 700_000 < len(body) < MAX_BODY_BYTES
    result = post_raw(bot, body, signed(body, FORM))
    assert result.status == 200, result
    bot.slack.wait_for_calls("views.open", 1, timeout=10)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_gets_413_and_one_log_line(
    bot: Harness, records: Callable[[], list[logging.LogRecord]], chunked: bool
) -> None:
    body = b"text=" + b"x" * MAX_BODY_BYTES
    # Headers that pass every check that can be made without the body: only reading it could refuse it.
    headers: Headers = {"Content-Type": FORM, **signature_headers(b"not this body")}
    result = post_raw(bot, body, headers, chunked=chunked)
    time.sleep(SETTLE_SECONDS)
    assert result.status == 413, result
    (record,) = records()
    assert record.getMessage() == "request over the body limit refused"
    assert_still_serving(bot)


# ------------------------------------------------------------------------------ bearer values


def test_no_response_url_or_trigger_id_reaches_the_log_at_debug(
    make_bot: Callable[..., Harness], bot_log: Callable[[str], io.StringIO]
) -> None:
    buffer = bot_log("DEBUG")
    bot = make_bot(LOG_LEVEL="DEBUG")
    bot.bound_incident()
    bearer: list[str] = []

    # A note replied to through its response_url (slack_sdk logs the URL it posts to)...
    result = bot.command("db failover finished")
    assert "Added a note" in bot.reply(result)
    bearer += [result.response_url, result.trigger_id]
    # ...a form opened with a trigger_id (slack_sdk logs views.open's arguments)...
    result = bot.command("")
    bot.slack.wait_for_calls("views.open", 1, timeout=10)
    bearer += [result.response_url, result.trigger_id]
    # ...and a shortcut whose modal carries the response_url in its private_metadata.
    message = {"type": "message", "user": "U0001", "ts": "1712345678.000100", "text": "db ok"}
    bot.slack.add_message("C0001", message)
    result = bot.shortcut(message)
    assert result.ack.status == 200
    bot.slack.wait_for_calls("views.open", 2, timeout=10)
    bearer += [result.response_url, result.trigger_id]
    time.sleep(SETTLE_SECONDS)

    log = buffer.getvalue()
    entries = lines_of(log)
    # The log is really DEBUG and really saw these requests (so the check below had something to miss).
    assert any(e["level"] == "debug" and e["logger"].startswith("slack_sdk") for e in entries)
    assert any("views.open" in str(e["message"]) for e in entries)
    leaked = [value for value in bearer if value in log]
    assert leaked == [], leaked


# ------------------------------------------------------------------------------ property: never a 5xx

SLACK_TYPES = [
    "event_callback",
    "url_verification",
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "message_action",
    "shortcut",
    "interactive_message",
    "dialog_submission",
    "app_rate_limited",
]
# Keys Bolt's routing and the bot read. No response_url: the bot would post to whatever it says.
SLACK_KEYS = [
    "type",
    "event",
    "view",
    "actions",
    "team",
    "user",
    "channel",
    "enterprise",
    "authorizations",
    "callback_id",
    "command",
    "text",
    "trigger_id",
    "message",
    "container",
    "state",
    "values",
    "private_metadata",
    "team_id",
    "channel_id",
    "user_id",
    "id",
    "action_id",
    "block_id",
    "challenge",
    "is_ext_shared_channel",
    "is_enterprise_install",
    "event_id",
    "item",
    "reaction",
    "ts",
    "blocks",
    "function_execution_id",
    "enterprise_id",
    "value",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.sampled_from([*SLACK_TYPES, "T0001", "C0001", "U0001", "add_to_timeline", "reaction_added"])
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(SLACK_KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=24,
)
payloads = st.fixed_dictionaries(
    {"type": st.sampled_from(SLACK_TYPES) | scalars},
    optional={key: json_values for key in SLACK_KEYS if key != "type"},
)
form_fields = st.dictionaries(
    st.sampled_from(["command", "text", "team_id", "channel_id", "user_id", "trigger_id", "payload", "x"]),
    st.sampled_from(["/incident-note", "help", "status", "T0001", "C0001", "U0001", "{", "[]"])
    | st.text(max_size=12),
    max_size=6,
)
bodies = st.one_of(
    payloads.map(lambda p: (json.dumps(p).encode(), JSON_CT)),
    payloads.map(lambda p: (payload_form(p), FORM)),
    st.tuples(form_fields.map(lambda f: urlencode(f).encode()), st.just(FORM)),
    st.tuples(st.binary(max_size=200), st.sampled_from([FORM, JSON_CT, "text/plain", ""])),
    st.sampled_from([10, 1_000, 100_000]).map(lambda n: (('{"a":' + nested(n) + "}").encode(), JSON_CT)),
)
header_text = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=70)
timestamps = st.one_of(
    st.sampled_from(["now", "stale", "future"]),
    st.sampled_from(["", "abc", "²", "-5", "1.5", " 1 ", "9" * 40]),
    header_text,
)
signatures = st.one_of(st.sampled_from(["valid", "valid", "tampered", "missing"]), header_text)
# "natural": the body's own (JSON for JSON, a form for a form), as Slack labels it.
content_types = st.one_of(
    st.just("natural"),
    st.none(),
    st.sampled_from([FORM, JSON_CT, "text/plain", "application/json; charset=latin-1"]),
    header_text,
)


def hostile_headers(body: bytes, content_type: str | None, timestamp: str, signature: str) -> Headers:
    headers: Headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type.encode()
    now = int(time.time())
    ts = {"now": str(now), "stale": str(now - 600), "future": str(now + 600)}.get(timestamp, timestamp)
    headers["X-Slack-Request-Timestamp"] = ts.encode()
    good = signature_headers(body, timestamp=int(ts)) if ts.isascii() and ts.isdigit() else None
    if signature == "valid" and good is not None:
        headers["X-Slack-Signature"] = good["X-Slack-Signature"]
    elif signature == "tampered" and good is not None:
        headers["X-Slack-Signature"] = slack_requests.tampered(
            {"X-Slack-Signature": str(good["X-Slack-Signature"])}
        )["X-Slack-Signature"]
    elif signature not in ("valid", "tampered", "missing"):
        headers["X-Slack-Signature"] = signature.encode()
    return headers


def test_no_header_or_body_gets_a_5xx_and_the_bot_stays_healthy(
    make_bot: Callable[..., Harness], bot_log: Callable[[str], io.StringIO]
) -> None:
    buffer = bot_log("INFO")
    bot = make_bot()
    statuses: list[int] = []

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(bodies, content_types, timestamps, signatures)
    # The four kinds of junk that each got a 500 before, as Slack-signed requests:
    @example((payload_form({**BLOCK_ACTIONS, "actions": []}), FORM), FORM, "now", "valid")
    @example((('{"a":' + nested(100_000) + "}").encode(), JSON_CT), JSON_CT, "now", "valid")
    @example((b"a=b", FORM), FORM, "", "v0=" + "0" * 64)
    @example((b"a=b", FORM), FORM, "now", "v0=" + "é" * 64)
    def post_anything(
        body: tuple[bytes, str], content_type: str | None, timestamp: str, signature: str
    ) -> None:
        raw, natural_type = body
        headers = hostile_headers(
            raw, natural_type if content_type == "natural" else content_type, timestamp, signature
        )
        result = post_raw(bot, raw, headers)
        statuses.append(result.status)
        assert result.status < 500, (result, raw[:300], headers)
        assert "Traceback" not in result.body

    post_anything()
    time.sleep(SETTLE_SECONDS)
    # Some requests got past the signature check (so Bolt's side was exercised)...
    assert any(status not in (401, 413) for status in statuses), statuses
    # ...and the log has no traceback: nothing raised through a handler into aiohttp, nor into Bolt's
    # error handler (aiohttp's own 400 for a header it cannot parse is one line, without one).
    entries = lines_of(buffer.getvalue())
    assert any(e["message"] == "unsigned request refused" for e in entries)
    tracebacks = [e for e in entries if "exception" in e]
    assert tracebacks == [], tracebacks[:3]
    assert_still_serving(bot)
