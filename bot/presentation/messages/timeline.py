"""`/incident-note timeline`: the incident's latest events, as Slack mrkdwn."""

from __future__ import annotations

from datetime import datetime

from bot.presentation.ids import COMMAND
from bot.presentation.messages.common import BIND_HOW, escape, link, quoted, slack_date


def not_bound() -> str:
    return f"This channel isn't bound to an incident, so there is no timeline to show. {BIND_HOW}."


def heading(title: str, url: str, shown: int, first_page: bool) -> str:
    events = "event" if shown == 1 else "events"
    if first_page:
        return f"*The latest {shown} {events} on {link(url, title)}*, newest first:"
    return f"*{shown} earlier {events} on {link(url, title)}*, newest first:"


def fallback(title: str, shown: int) -> str:
    """The notification's text (what a client without blocks shows)."""
    return f"The latest {shown} timeline events on {escape(title)}"


def empty(title: str, url: str) -> str:
    return f"The timeline of {link(url, title)} has no events yet."


def event_line(event_type: str, event_time: datetime, text: str, permalink: str | None) -> str:
    """One event: its time in the reader's own timezone, its type, its text, and the message it came from."""
    lines = [f"*{slack_date(event_time)}* · {escape(event_type)}"]
    if text:
        lines.append(quoted(text))
    else:
        lines.append("> _(no text)_")
    # Read back from AWS: linked only when it cannot break out of the link's markup.
    if permalink and permalink.startswith("https://") and not any(c in permalink for c in "<>| "):
        lines.append(link(permalink, "the message in Slack"))
    return "\n".join(lines)


def beginning_reached() -> str:
    return "_That is the beginning of the timeline._"


def more_button() -> str:
    return "More"


def more_by_count(count: int) -> str:
    return f"There are more: `{COMMAND} timeline {count}` shows up to {count}."


def binding_changed() -> str:
    return (
        "This channel has been bound to another incident (or unbound) since that list, so I stopped there: "
        f"`{COMMAND} timeline` shows the timeline of the incident it serves now."
    )
