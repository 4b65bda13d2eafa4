import json
import logging
import sys
from urllib.parse import quote, quote_plus

from bot.logs import REDACTED, JsonFormatter


def _format(formatter: JsonFormatter, message: str, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("bot.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    line = formatter.format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_one_json_object_per_line_with_extra_fields() -> None:
    entry = _format(JsonFormatter(), "request failed", reference="ABCD2345", kind="throttled")
    assert entry["message"] == "request failed"
    assert entry["reference"] == "ABCD2345" and entry["kind"] == "throttled"
    assert entry["level"] == "info" and entry["logger"] == "bot.test"


def test_known_secrets_and_token_shapes_are_redacted() -> None:
    formatter = JsonFormatter(secrets=["my-signing-secret-value", "aws-secret-key-123"])
    entry = _format(
        formatter,
        "Invalid request signature detected (body: token=Jhj5dZrVaK7ZwHHjRyZWjbDl&text=hi) "
        "with xoxb-123-456-abc and xapp-1-A1-99 my-signing-secret-value",
        error="key aws-secret-key-123 rejected",
    )
    text = json.dumps(entry)
    for secret in (
        "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "xoxb-123-456-abc",
        "xapp-1-A1-99",
        "my-signing-secret-value",
        "aws-secret-key-123",
    ):
        assert secret not in text
    assert REDACTED in str(entry["message"]) and "text=hi" in str(entry["message"])


def test_bolt_notices_about_the_token_we_deliberately_hand_over_are_dropped() -> None:
    from slack_bolt.logger.messages import (
        warning_client_prioritized_and_token_skipped,
        warning_token_skipped,
    )

    from bot.logs import _skip_bolt_token_notice

    for message in (warning_client_prioritized_and_token_skipped(), warning_token_skipped()):
        assert not _skip_bolt_token_notice(
            logging.LogRecord("slack_bolt", logging.WARNING, "", 1, message, None, None)
        )
    kept = logging.LogRecord("slack_bolt", logging.WARNING, "", 1, "Unhandled request", None, None)
    assert _skip_bolt_token_notice(kept)


def _bolt_refusal_line(formatter: JsonFormatter, body: str) -> str:
    """The log line for Bolt's own message about a request that failed the signature check."""
    from slack_bolt.middleware.request_verification import RequestVerification

    said: list[str] = []

    class _Recorder:
        def info(self, message: str) -> None:
            said.append(message)

    middleware = RequestVerification("signing-secret-value")
    middleware.logger = _Recorder()  # type: ignore[assignment]
    middleware._debug_log_error("v0=abc", "1700000000", body)
    (message,) = said
    assert body in message
    line = formatter.format(logging.LogRecord("slack_bolt", logging.INFO, __file__, 1, message, None, None))
    json.loads(line)
    return line


def test_the_verification_token_is_redacted_from_every_kind_of_refused_body() -> None:
    from tests.support import slack_requests

    token = slack_requests.VERIFICATION_TOKEN
    event = slack_requests.reaction_added_event("U0001", "pushpin", "C0001", "1700000000.000100", "U0002")
    shortcut = slack_requests.message_shortcut_payload(trigger_id="1.2.3", response_url="https://x/r")
    bodies = {
        "slash command (form)": slack_requests.slash_command(
            "s", text="hi", response_url="https://x/r", trigger_id="1.2.3"
        )[0],
        "Events API (JSON)": slack_requests.event_callback("s", event)[0],
        "Events API (JSON, spaced)": json.dumps({"token": token, "type": "event_callback"}),
        "interactivity (payload=JSON)": slack_requests.interactivity("s", shortcut)[0],
        "interactivity (payload=JSON, spaced)": "payload=" + quote_plus(json.dumps({"token": token})),
    }
    for kind, body in bodies.items():
        assert token in body, kind
        line = _bolt_refusal_line(JsonFormatter(), body)
        assert token not in line, kind
        assert REDACTED in line, kind
    # Only the token goes: the rest of the body stays readable for the operator.
    assert "event_callback" in _bolt_refusal_line(JsonFormatter(), bodies["Events API (JSON)"])


def test_a_field_named_token_elsewhere_is_kept() -> None:
    # The bot logs an entry's idempotency token as `token`: not a secret, and operators need it.
    entry = _format(JsonFormatter(), "could not record a sent entry", token="slack-3f9a2c")
    assert entry["token"] == "slack-3f9a2c"


def test_a_traceback_stays_in_its_json_line_and_secrets_in_it_are_redacted() -> None:
    formatter = JsonFormatter(secrets=["aws-secret-key-123"])
    try:
        raise RuntimeError("signing with aws-secret-key-123 failed\nsecond line")
    except RuntimeError:
        record = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, "request failed", None, None)
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert "Traceback (most recent call last)" in entry["exception"]
    assert "RuntimeError: signing with [redacted] failed\nsecond line" in entry["exception"]
    assert "aws-secret-key-123" not in line


# ------------------------------------------------------------------------------ caps


def test_every_field_is_capped_and_says_how_much_was_left_out() -> None:
    from bot.logs import EXCEPTION_LIMIT, FIELD_LIMIT

    formatter = JsonFormatter(secrets=["aws-secret-key-123"])
    try:
        raise ValueError("x" * 1_000_000 + " the end of the error")
    except ValueError:
        record = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, "m" * 1_000_000, None, None)
        record.exc_info = sys.exc_info()
    record.body = "b" * 1_000_000
    line = formatter.format(record)
    entry = json.loads(line)
    assert len(line) < 2 * FIELD_LIMIT + EXCEPTION_LIMIT + 1000, len(line)
    assert entry["message"].startswith("m" * FIELD_LIMIT)
    assert entry["message"].endswith(f"…[{1_000_000 - FIELD_LIMIT} more characters]")
    assert entry["body"].startswith("b" * 100) and "more characters]" in entry["body"]
    # A traceback keeps its end, which names the error.
    assert entry["exception"].endswith("the end of the error") and "more characters]" in entry["exception"]


def test_a_secret_across_the_cut_is_redacted_not_halved() -> None:
    # Redaction runs before the cut: cutting first would leave the secret's first half, which no longer
    # matches anything, in the line.
    from bot.logs import FIELD_LIMIT

    secret = "sIgNiNg-S3cr3t-7f3e9a1c"
    body = f"{'x' * (FIELD_LIMIT - 10)}response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F2%2Fabc"
    entry = _format(JsonFormatter(secrets=[secret]), "x" * (FIELD_LIMIT - 8) + secret + " after", body=body)
    assert secret[:6] not in json.dumps(entry)
    assert "hooks.slack.com%2Fcom" not in str(entry["body"]) and "https%3A%2F%2Fhoo" not in str(entry["body"])


# ------------------------------------------------------------------------------ bearer values

RESPONSE_URL = "https://hooks.slack.com/actions/T0001/1234567890/AbCdEfGhIjKlMnOp"
TRIGGER_ID = "13345224609.738474920.8088930838d88f008e0"
POINTER = "1234567890123.4567890123456.78a90bc12d3e4f567g89h0i1j23k4l56"
WORKFLOW_TOKEN = "xwfp-1234-5678-abcdef"
INTERACTOR_SECRET = "AbCdEFghIJklOMno1P2qRStuVwXyZAbcDef3GhijKLM4NoPqRSTuVWXyZaB5CdEfGHIjKLM6NoP7QrSt"
BEARER = (RESPONSE_URL, TRIGGER_ID, POINTER, WORKFLOW_TOKEN, INTERACTOR_SECRET)


def _bearer_bodies() -> dict[str, str]:
    """Each shape in which a Slack request's bearer values can reach a log line."""
    from slack_bolt.logger.messages import warning_unhandled_by_global_middleware
    from slack_bolt.request.async_request import AsyncBoltRequest

    from bot.presentation.views import CaptureContext
    from tests.support import slack_requests

    shortcut = slack_requests.message_shortcut_payload(trigger_id=TRIGGER_ID, response_url=RESPONSE_URL)
    shortcut["interactivity"] = {"interactor": {"id": "U0001", "secret": INTERACTOR_SECRET}}
    shortcut["interactivity_pointer"] = POINTER
    metadata = CaptureContext(
        "T0001",
        "C0001",
        "arn:aws:ssm-incidents::1:incident-record/x/y",
        "1.2",
        "U0001",
        "alice",
        response_url=RESPONSE_URL,
    ).to_metadata()
    submission = slack_requests.view_submission_payload(
        {"callback_id": "capture_timeline_entry", "private_metadata": metadata},
        values={},
        trigger_id=TRIGGER_ID,
        response_urls=[
            {"block_id": "b", "action_id": "a", "channel_id": "C0001", "response_url": RESPONSE_URL}
        ],
    )
    event = {
        "type": "event_callback",
        "event": {
            "type": "function_executed",
            "bot_access_token": WORKFLOW_TOKEN,
            "function_execution_id": "Fx1",
        },
    }
    command, _ = slack_requests.slash_command(
        "s", text="hi", response_url=RESPONSE_URL, trigger_id=TRIGGER_ID
    )
    interactivity, _ = slack_requests.interactivity("s", shortcut)
    bolt_request = AsyncBoltRequest(body=interactivity, headers={"content-type": slack_requests.FORM})
    return {
        "slash command (form)": command,
        "interactivity (payload=, quote_plus)": interactivity,
        "interactivity (payload=, quote)": "payload=" + quote(json.dumps(shortcut), safe=""),
        "view_submission (payload=)": slack_requests.interactivity("s", submission)[0],
        "JSON": json.dumps(shortcut),
        "JSON, compact, with Slack's \\/": json.dumps(shortcut, separators=(",", ":")).replace("/", "\\/"),
        "view_submission JSON": json.dumps(submission),
        "function_executed JSON": json.dumps(event),
        "Python repr (as Bolt and slack_sdk log bodies)": str(submission) + " " + str(shortcut) + str(event),
        "Bolt's own message": warning_unhandled_by_global_middleware("attach_deps", bolt_request),
        "a webhook URL in text": f"posting to {RESPONSE_URL} and {RESPONSE_URL.replace('/', '%2F')}",
    }


def test_bearer_values_are_redacted_from_every_shape_of_body() -> None:
    formatter = JsonFormatter()
    for kind, body in _bearer_bodies().items():
        assert any(value in body or quote_plus(value) in body for value in BEARER), kind
        line = formatter.format(logging.LogRecord("slack_bolt", logging.INFO, __file__, 1, body, None, None))
        json.loads(line)
        leaked = [value for value in BEARER if value in line or quote_plus(value) in line]
        assert leaked == [], (kind, leaked, line[:1500])
        # Nothing but the bearer values go: the rest stays readable for the operator.
        assert REDACTED in line, kind
        assert "C0001" in line or "function_executed" in line or "posting to" in line, kind


def test_our_own_fields_named_for_a_bearer_value_are_redacted() -> None:
    entry = _format(
        JsonFormatter(),
        "reply failed",
        response_url="http://127.0.0.1:1/response/key",
        trigger_id=TRIGGER_ID,
        reply="Added a note to the timeline",
        token="slack-3f9a2c",
    )
    assert entry["response_url"] == REDACTED and entry["trigger_id"] == REDACTED
    # An undelivered reply's text and an entry's idempotency token are no credentials.
    assert entry["reply"] == "Added a note to the timeline" and entry["token"] == "slack-3f9a2c"


def test_the_url_slack_sdks_webhook_client_logs_is_redacted_and_others_are_kept() -> None:
    url = "http://127.0.0.1:4321/response/xrUkxU3sDmDwiNqrkxzea3pV"
    webhook = logging.LogRecord(
        "slack_sdk.webhook.async_client",
        logging.DEBUG,
        __file__,
        1,
        f"Sending a request - url: {url}, body: {{'text': 'hi'}}, headers: {{}}",
        None,
        None,
    )
    line = JsonFormatter().format(webhook)
    assert url not in line and "xrUkxU3s" not in line and "'text': 'hi'" in line
    web_api = logging.LogRecord(
        "slack_sdk.web.async_base_client",
        logging.DEBUG,
        __file__,
        1,
        "Sending a request - url: POST http://127.0.0.1:4321/api/views.open, json: {'trigger_id': '1.2.3'}",
        None,
        None,
    )
    line = JsonFormatter().format(web_api)
    assert "http://127.0.0.1:4321/api/views.open" in line and "1.2.3" not in line


def test_aiohttps_refusal_of_an_unparsable_request_is_one_line_without_a_traceback() -> None:
    from aiohttp.http_exceptions import BadHttpMessage

    try:
        raise BadHttpMessage("Invalid header value char")
    except BadHttpMessage:
        record = logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request from %s",
            ("127.0.0.1",),
            None,
        )
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert "exception" not in entry
    assert entry["problem"] == "BadHttpMessage: Invalid header value char"
