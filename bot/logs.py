"""Structured logs: one JSON object per line, with the reference id a person sees in a reply.

No secret and no bearer value reaches the log, and no field is longer than a few KB. In every field:
- known secret values (tokens, signing secret, AWS keys) are replaced, as is anything shaped like a Slack
  token (`xoxb-…`, `xapp-…`, `xwfp-…`) or a Slack webhook URL (`hooks.slack.com/…`);
- the values of the fields of a Slack request that let whoever holds them act are replaced: the legacy
  verification `token`, `response_url` (posts to the channel for 30 minutes), `trigger_id` (opens a
  modal), a workflow's `interactivity_pointer`, `bot_access_token` and interactor `secret`, OAuth's
  `access_token`, `refresh_token` and `client_secret`, and the response_url our own modals carry in their
  private_metadata as `reply`. In each shape a body reaches a log line: a form
  (`response_url=…`), JSON (`"response_url":"…"`, also as a string inside JSON, `\\"response_url\\"`),
  Python's repr of a parsed body as Bolt and slack_sdk log it (`'response_url': '…'`) and
  interactivity's URL-encoded JSON (`payload=…%22response_url%22%3A%22…`);
- every URL that slack_sdk's webhook client logs is replaced: it is the response_url it posts to.
Each field is then cut to FIELD_LIMIT characters (a traceback to EXCEPTION_LIMIT, keeping its end): after
the redaction, so that a cut never leaves half a secret for the patterns to miss.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from aiohttp.http_exceptions import HttpProcessingError

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
REDACTED = "[redacted]"
# A request body or a library's message can be as large as the body limit; a log line stays small.
FIELD_LIMIT = 2000
EXCEPTION_LIMIT = 8000

# Fields of Slack payloads whose value is a credential or lets its holder act for a while.
BEARER_FIELDS = (
    "token",
    "response_url",
    "trigger_id",
    "interactivity_pointer",
    "bot_access_token",
    "access_token",
    "refresh_token",
    "client_secret",
    "secret",
    # The bot's own modals keep the shortcut's response_url in their private_metadata under this name.
    "reply",
)
_KEYS = "|".join(sorted(BEARER_FIELDS, key=len, reverse=True))
# `"key": "value"` in JSON or Python's repr, quotes possibly escaped (JSON inside a JSON string). The
# value runs to its closing quote; `\/` and other escapes inside it are part of it.
_QUOTED_FIELD = re.compile(rf"""(\\*["'](?:{_KEYS})\\*["']\s*:\s*\\*["'])(?:[^"'\\\s]|\\++(?!["']))+""")
# The same inside URL-encoded JSON (`payload=` of interactivity): quotes are %22 (escaped: %5C%22), the
# colon %3A, spaces + or %20.
_ENCODED_QUOTE = r"(?:%5[cC])*%22"
_ENCODED_FIELD = re.compile(
    rf"({_ENCODED_QUOTE}(?:{_KEYS}){_ENCODED_QUOTE}(?:%3[aA]|:)(?:\+|%20)*{_ENCODED_QUOTE})"
    rf"(?:(?!{_ENCODED_QUOTE})[^&\s\"'\\])+"
)
# `key=value` in a form body (slash commands) or a query string.
_FORM_FIELD = re.compile(rf"((?:{_KEYS})=)[^&\s\"'\\]+")
_SECRET_SHAPES = re.compile(
    r"xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|xwf[a-z]-[A-Za-z0-9-]+"
)
# Incoming webhooks and response URLs; a path separator may be written `/`, `\/` or `%2F`.
_WEBHOOK_URL = re.compile(r"hooks\.slack\.com(?:(?:/|\\+/|%2[fF]|%5[cC]%2[fF])[\w.~-]*)+")
_ANY_URL = re.compile(r"https?://[^\s,'\"]+")
# slack_sdk.webhook logs the URL it posts to: for this bot, always a response_url.
_WEBHOOK_LOGGER = "slack_sdk.webhook"
# Our own fields under these names would carry the value itself. Not `token`, under which the bot logs an
# entry's idempotency token (no credential, and operators need it), nor `reply`, an undelivered reply's text.
_BEARER_EXTRAS = frozenset(BEARER_FIELDS) - {"token", "reply"}


def capped(text: str, limit: int = FIELD_LIMIT, *, keep_end: bool = False) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    left_out = f"…[{len(text) - limit} more characters]"
    return left_out + text[-limit:] if keep_end else text[:limit] + left_out


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self._entry(record), ensure_ascii=False)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _QUOTED_FIELD.sub(lambda match: match.group(1) + REDACTED, text)
        text = _ENCODED_FIELD.sub(lambda match: match.group(1) + REDACTED, text)
        text = _FORM_FIELD.sub(lambda match: match.group(1) + REDACTED, text)
        text = _WEBHOOK_URL.sub("hooks.slack.com/" + REDACTED, text)
        return _SECRET_SHAPES.sub(REDACTED, text)

    def _clean(self, text: str, limit: int = FIELD_LIMIT, *, keep_end: bool = False) -> str:
        return capped(self.redact(text), limit, keep_end=keep_end)

    def _entry(self, record: logging.LogRecord) -> dict[str, Any]:
        message = record.getMessage()
        if record.name.startswith(_WEBHOOK_LOGGER):
            message = _ANY_URL.sub(REDACTED, message)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._clean(message),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key in _BEARER_EXTRAS:
                entry[key] = REDACTED
            elif isinstance(value, int | float | bool | None):
                entry[key] = value
            else:
                entry[key] = self._clean(value if isinstance(value, str) else str(value))
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            # aiohttp refused (400) a request it could not parse, e.g. a control character in a header: the
            # sender's doing, which a traceback of aiohttp's parser would not explain better than this.
            entry["problem"] = self._clean(f"{type(error).__name__}: {error.message}".strip())
        elif record.exc_info:
            # The end of a traceback names the error; its beginning is the outermost frame.
            entry["exception"] = self._clean(
                self.formatException(record.exc_info), EXCEPTION_LIMIT, keep_end=True
            )
        return entry


_BOLT_TOKEN_NOTICES = ("`token` will be unused", "`token` (or SLACK_BOT_TOKEN env variable) will be ignored")


def _skip_bolt_token_notice(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused, because we hand it a client built for
    # SLACK_API_URL and an authorize hook that reuses the start-up auth.test. That is intended; the warning
    # would only alarm operators.
    message = record.getMessage()
    return not any(notice in message for notice in _BOLT_TOKEN_NOTICES)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """JSON lines at `level` on `stream` (stderr unless given)."""
    handler = logging.StreamHandler(stream or sys.stderr)
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
    # aiosqlite logs every statement at DEBUG (the sweep's included): noise, and a log that grows by itself.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
