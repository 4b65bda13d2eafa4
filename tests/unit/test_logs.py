import json
import logging

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
