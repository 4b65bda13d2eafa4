"""Small things every part of the fake shares: the JSON type, the error answer, the settings and
Slack's ``ts`` / flag / JSON-parameter conventions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_sdk.models.blocks import Block

JSONDict = dict[str, Any]


@dataclass
class Settings:
    """Mutable on purpose: the fake's public attributes of the same names read and write these, and
    every request reads them afresh (as the single-class fake did)."""

    bot_token: str
    app_token: str
    trigger_ttl: float
    response_url_ttl: float
    response_url_max_uses: int


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def ts_key(ts: Any) -> Decimal:
    try:
        return Decimal(str(ts))
    except (InvalidOperation, ValueError):
        return Decimal(-1)


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in {"1", "true", "yes"}


def json_param(value: Any) -> Any:
    """Form-encoded calls carry ``blocks``/``view``/... as JSON strings; JSON calls as objects."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def is_reply(msg: JSONDict) -> bool:
    thread_ts = msg.get("thread_ts")
    return thread_ts is not None and thread_ts != msg.get("ts")


def short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# A message holds at most 50 blocks (Slack's Block Kit reference).
MESSAGE_BLOCKS_LIMIT = 50


def message_blocks_valid(raw: Any) -> bool:
    """Whether a message's ``blocks`` (as posted: a JSON string or a list) are ones Slack accepts, as far as
    ``slack_sdk.models`` can tell (Slack answers ``invalid_blocks`` otherwise). Absent blocks are valid."""
    if raw is None or raw == "":
        return True
    blocks = json_param(raw)
    if not isinstance(blocks, list) or len(blocks) > MESSAGE_BLOCKS_LIMIT:
        return False
    try:
        for block in blocks:
            parsed = Block.parse(block) if isinstance(block, dict) else None
            if parsed is None:
                return False
            parsed.validate_json()
            parsed.to_dict()
    except Exception:  # whatever slack_sdk rejects, Slack rejects
        return False
    return True
