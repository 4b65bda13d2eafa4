"""What the person hears when an entry follows Slack: the *Undo* button and what a click did, and an edit
or delete of a message the timeline could not follow. (What the outbox says later, when such a change
lands after the request was answered, is in `changes`.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.slack_user import USER_ID
from bot.domain.timeline import EventType
from bot.presentation.messages.common import escape, link, quoted, utc


def undo_button() -> str:
    return "Undo"


def undo_hint(until: datetime) -> str:
    """Under the confirmation: how long the button works (in each reader's own timezone)."""
    return f"Added by mistake? *Undo* takes it off the timeline, until {_clock(until)}."


def _clock(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{time}}|{moment.strftime('%H:%M UTC')}>"


def _what(event_type: EventType | None) -> str:
    return f"the {event_type.noun}" if event_type is not None else "the entry"


def _on(title: str, url: str | None) -> str:
    return link(url, title) if url else f"*{escape(title)}*" if title else "the incident"


def _shown(text: str) -> str:
    return f":\n{quoted(text)}" if text.strip() else "."


def undone(event_type: EventType | None, title: str, url: str | None, text: str) -> str:
    return f"Undone: {_what(event_type)} is no longer on the timeline of {_on(title, url)}{_shown(text)}"


def undo_cancelled(event_type: EventType | None, title: str, url: str | None, text: str) -> str:
    return (
        f"Undone: {_what(event_type)} had not reached the timeline of {_on(title, url)} yet, and now it "
        f"never will{_shown(text)}"
    )


def undo_queued(event_type: EventType | None, title: str, url: str | None, why: str, text: str) -> str:
    return (
        f"Taking {_what(event_type)} off the timeline of {_on(title, url)}: {escape(why)}, so it will be "
        f"removed as soon as Incident Manager answers, and I'll tell you here when it is. You don't need "
        f"to click again{_shown(text)}"
    )


def undo_nothing(event_type: EventType | None, title: str, url: str | None) -> str:
    return f"Nothing to undo: {_what(event_type)} is no longer on the timeline of {_on(title, url)}."


def undo_not_yours(adder_id: str | None, others_allowed: bool) -> str:
    known = adder_id is not None and USER_ID.fullmatch(adder_id)
    who = f"<@{adder_id}>, who added it" if known else "the person who added it"
    also = " (and the people allowed to bind this channel)" if others_allowed else ""
    return f"Only {who}{also}, can undo this entry. It stays on the timeline."


def undo_window_passed(window: timedelta, recorded_at: datetime | None) -> str:
    minutes = max(1, int(window.total_seconds() // 60))
    since = f" (it was added at {utc(recorded_at)})" if recorded_at is not None else ""
    return (
        f"*Undo* works for {minutes} minute{'s' if minutes != 1 else ''} after an entry is added, and that "
        f"time has passed{since}. It stays on the timeline: to take it off, delete it in the Incident "
        "Manager console, or delete the message in Slack if it came from one."
    )


def undo_unknown() -> str:
    return (
        "I don't know that entry (it may be from long ago, or from another installation of the bot), so "
        "nothing was changed."
    )


# An edit or a delete the timeline could not follow: told to the message's author (the mapping layer's
# explanation follows).


def edit_not_followed(title: str, url: str | None) -> str:
    return f"Your edit didn't reach the timeline of {_on(title, url)}:"


def delete_not_followed(title: str, url: str | None) -> str:
    return f"A deleted message of yours is still on the timeline of {_on(title, url)}:"


def unpin_not_followed(title: str, url: str | None) -> str:
    return f"Un-pinning didn't take the message off the timeline of {_on(title, url)}:"
