"""What the person hears about an entry: added, already there, saved and queued, landed later."""

from __future__ import annotations

from datetime import datetime

from bot.domain.timeline import EventType
from bot.presentation.messages.common import escape, link, quoted, utc


def entry_added(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    return f"Added a {event_type.noun} to {link(url, title)} at {utc(event_time)}:\n{quoted(text)}"


def entry_already_added(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    return (
        f"Already on the timeline of {link(url, title)}, as a {event_type.noun} at {utc(event_time)} "
        f"(added once, however often it is asked for):\n{quoted(text)}"
    )


def entry_updated(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    """The shortcut's form on a message already on the timeline (pinned): its one event now says this."""
    return (
        f"That message was already on the timeline of {link(url, title)}, so its event was changed instead "
        f"of adding a second one: now a {event_type.noun} at {utc(event_time)}:\n{quoted(text)}"
    )


def entry_queued(
    event_type: EventType, title: str, url: str, event_time: datetime, text: str, why: str, pin: bool
) -> str:
    """Saved while Incident Manager is busy, failing or slow; a second reply follows."""
    what = "This message is saved" if pin else f"Your {event_type.noun} is saved"
    then = (
        "it gets the ✅ when it lands (or I tell you if it can't)"
        if pin
        else "I'll tell you here when it lands (or if it can't)"
    )
    return (
        f"{what} but not on the timeline yet: {escape(why)}. It will be added to "
        f"{link(url, title)} at {utc(event_time)} as soon as Incident Manager answers, and {then}. "
        f"You don't need to send it again:\n{quoted(text)}"
    )


def entry_landed_later(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    return (
        f"Now on the timeline: the {event_type.noun} that was waiting for Incident Manager was added to "
        f"{link(url, title)} at {utc(event_time)}:\n{quoted(text)}"
    )


# Why an entry is waiting, as a clause of `entry_queued`.
QUEUED_THROTTLED = "Incident Manager is throttling requests right now"
QUEUED_FAILING = "Incident Manager is having internal errors right now"
QUEUED_UNREACHABLE = "Incident Manager can't be reached right now"
QUEUED_NO_ANSWER = "Incident Manager isn't answering right now"
# The bot's own rate limit towards Incident Manager: a burst is being sent a few a second.
QUEUED_BURST = "many notes are on their way to Incident Manager right now, a few a second"
QUEUED_SLOW = "Incident Manager is slow to answer right now"


def compose_text_empty() -> str:
    return "Type what happened: the text can't be empty."


def compose_time_in_future() -> str:
    return "That time is in the future. Pick when it happened."
