"""Structured logs: one JSON object per line, with the reference id a person sees in a reply.

Secrets never reach the log: known secret values (tokens, signing secret, AWS keys) and anything shaped
like a Slack token are replaced, as is the `token` field of request bodies that Bolt logs when a
signature check fails (Slack's legacy verification token), in each body Slack sends: a form
(`token=…`), JSON (`"token":"…"`) and interactivity's URL-encoded JSON (`payload=…%22token%22%3A%22…`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_SECRET_SHAPES = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?<=token=)[^&\s\"'\\]+")
# The same field inside a body logged as text: JSON (its quotes escaped in our JSON line) and URL-encoded
# JSON. A top-level "token" field of our own (an entry's idempotency token) is not a body's and is kept.
_BODY_TOKEN_FIELDS = re.compile(r'(\\"token\\":\s*\\"|(?i:%22token%22%3A(?:\+|%20)*%22))[^"\\%&\s]+')
REDACTED = "[redacted]"


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = json.dumps(self._entry(record), ensure_ascii=False)
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        line = _BODY_TOKEN_FIELDS.sub(lambda match: match.group(1) + REDACTED, line)
        return _SECRET_SHAPES.sub(REDACTED, line)

    def _entry(self, record: logging.LogRecord) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return entry


_BOLT_TOKEN_NOTICES = ("`token` will be unused", "`token` (or SLACK_BOT_TOKEN env variable) will be ignored")


def _skip_bolt_token_notice(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused, because we hand it a client built for
    # SLACK_API_URL and an authorize hook that reuses the start-up auth.test. That is intended; the warning
    # would only alarm operators.
    message = record.getMessage()
    return not any(notice in message for notice in _BOLT_TOKEN_NOTICES)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    handler.addFilter(_skip_bolt_token_notice)
    # The handler applies LOG_LEVEL: a logger set lower (the mapping layer's, which the metrics count)
    # still prints only what the operator asked for.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botocore logs request details at DEBUG; keep it and aiohttp's access log quiet.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
