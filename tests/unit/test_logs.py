import json
import logging
import sys
from urllib.parse import quote_plus

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
