"""Which `message` events say that a person's message changed: an edit, or a delete.

Every message in every channel the bot is in arrives as a `message` event, and almost all of them are of
no interest (a new message, a join, an unfurl, a reply count going up). This decides from the payload
alone, so those cost nothing beyond parsing: no store read, no AWS call.

Followed: `message_changed` that Slack marks as an edit (the new message carries `edited`) and whose
content differs from the previous one; `message_deleted`; and a thread parent deleted while it has
replies, which Slack sends as `message_changed` to a `tombstone`. Not followed: messages from bots and apps
(`bot_id`): apps rewrite their own messages as a status moves on, and an entry records what was said when
it was put on the timeline, not the app's latest state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.slack_message import SlackMessage, is_slack_ts, parse_message
from bot.domain.timeline import from_slack_ts


@dataclass(frozen=True)
class MessageEdited:
    """A person edited their message: `message` is what it says now."""

    ts: str
    message: SlackMessage
    edited_at: datetime


@dataclass(frozen=True)
class MessageDeleted:
    ts: str
    deleted_at: datetime
    # Who wrote it, when Slack says (the one to tell if the timeline could not follow).
    author_id: str | None


MessageChange = MessageEdited | MessageDeleted


def message_change(event: Mapping[str, Any], received_at: datetime) -> MessageChange | None:
    """The change a `message` event reports, or None when it is not one the bot follows. Times come from
    the event; `received_at` stands in when it carries none."""
    if not isinstance(event, Mapping) or event.get("type") != "message":
        return None
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _changed(event, received_at)
    if subtype == "message_deleted":
        return _deleted(event, received_at)
    return None


def _changed(event: Mapping[str, Any], received_at: datetime) -> MessageChange | None:
    message = _obj(event.get("message"))
    previous = _obj(event.get("previous_message"))
    if _from_an_app(message) or _from_an_app(previous):
        return None
    ts = _ts(message.get("ts"))
    if ts is None:
        return None
    if message.get("subtype") == "tombstone":
        # A thread parent deleted while it has replies stays as "This message was deleted."
        return MessageDeleted(ts, _event_time(event, received_at), _user(previous) or _user(message))
    edited = _obj(message.get("edited"))
    if not edited:
        # Unfurls, reply counts, pins and other bookkeeping Slack reports as changes: not an edit.
        return None
    try:
        now = parse_message(message)
    except ValueError:
        return None
    if previous and _same_content(previous, now):
        return None
    edited_ts = _ts(edited.get("ts"))
    edited_at = from_slack_ts(edited_ts) if edited_ts is not None else _event_time(event, received_at)
    return MessageEdited(ts, now, edited_at)


def _deleted(event: Mapping[str, Any], received_at: datetime) -> MessageDeleted | None:
    previous = _obj(event.get("previous_message"))
    if _from_an_app(previous):
        return None
    ts = _ts(event.get("deleted_ts")) or _ts(previous.get("ts"))
    if ts is None:
        return None
    return MessageDeleted(ts, _event_time(event, received_at), _user(previous))


def _same_content(previous: Mapping[str, Any], now: SlackMessage) -> bool:
    try:
        return parse_message(previous).markup == now.markup
    except ValueError:
        return False


def _from_an_app(message: Mapping[str, Any]) -> bool:
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def _event_time(event: Mapping[str, Any], received_at: datetime) -> datetime:
    """When Slack says it happened: the event's own ts (a message event always carries one)."""
    ts = _ts(event.get("event_ts")) or _ts(event.get("ts"))
    return from_slack_ts(ts) if ts is not None else received_at


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ts(value: object) -> str | None:
    return value if isinstance(value, str) and is_slack_ts(value) else None


def _user(message: Mapping[str, Any]) -> str | None:
    user = message.get("user")
    return user if isinstance(user, str) and user else None
