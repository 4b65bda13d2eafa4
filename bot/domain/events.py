"""Reading timeline events back: what an event's `eventData` says, as text a person can read.

The bot writes `eventData` as the JSON encoding of one string (see `bot.domain.timeline`), and so do
AWS's own examples; Incident Manager's own events (the incident's start, its updates, runbook steps)
carry JSON objects, and other tools may write anything. Every form is read, none is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.slack_text import clean_text

# A link back to a Slack message, as `compose_event_text` puts it on the last line.
_PERMALINK = re.compile(r"^https://[^\s/|<>]+/archives/[A-Z0-9]+/p[0-9]+(?:\?[^\s|<>]*)?$")
# How deep and how many members of a JSON object are spelled out before the rest is left out.
_MAX_DEPTH = 4
_MAX_MEMBERS = 40


@dataclass(frozen=True)
class EventText:
    text: str
    # The Slack message the event came from, when it carries the link back to it.
    permalink: str | None = None


@dataclass(frozen=True)
class ReadEvent:
    """One timeline event as `timeline` shows it."""

    event_id: str
    event_type: str
    event_time: datetime
    text: EventText


def read_event_data(event_data: str) -> EventText:
    """The readable text of an event's `eventData`; never raises."""
    try:
        decoded: Any = json.loads(event_data)
    except ValueError:
        decoded = event_data
    if isinstance(decoded, str):
        return _with_permalink(clean_text(decoded).strip())
    return EventText(clean_text(_spell_out(decoded, 0)).strip())


def _with_permalink(text: str) -> EventText:
    head, _, last = text.rpartition("\n")
    if head and _PERMALINK.match(last.strip()):
        return EventText(head.rstrip(), last.strip())
    return EventText(text)


def _spell_out(value: Any, depth: int) -> str:
    """A JSON value as `key: value, key: value` (nested objects in parentheses)."""
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            return "…"
        items = list(value.items())
        parts = [f"{key}: {_spell_out(member, depth + 1)}" for key, member in items[:_MAX_MEMBERS]]
        if len(items) > _MAX_MEMBERS:
            parts.append("…")
        joined = ", ".join(parts)
        return f"({joined})" if depth else joined
    if isinstance(value, list):
        if depth >= _MAX_DEPTH:
            return "…"
        parts = [_spell_out(member, depth + 1) for member in value[:_MAX_MEMBERS]]
        if len(value) > _MAX_MEMBERS:
            parts.append("…")
        return "[" + ", ".join(parts) + "]"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
