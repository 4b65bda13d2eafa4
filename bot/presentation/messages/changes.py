"""What the person hears about a change of an entry that settled after their request was answered: a
delete (Undo, un-pin) or an update (the shortcut on a message already on the timeline) that was queued
while Incident Manager was busy, failing or slow, then landed or finally failed."""

from __future__ import annotations

from datetime import datetime

from bot.domain.timeline import EventType
from bot.presentation.messages.common import escape, link, quoted, utc


def removed_later(event_type: EventType, title: str, url: str, text: str) -> str:
    return (
        f"Removed from the timeline: the {event_type.noun} that was waiting to be taken off "
        f"{link(url, title)} is gone:\n{quoted(text)}"
    )


def never_added(event_type: EventType, title: str, text: str) -> str:
    return (
        f"Undone: the {event_type.noun} never reached the timeline of *{escape(title or 'the incident')}*, "
        f"and now it won't:\n{quoted(text)}"
    )


def updated_later(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    return (
        f"Now on the timeline: the event for this message on {link(url, title)} was updated, as a "
        f"{event_type.noun} at {utc(event_time)}:\n{quoted(text)}"
    )
