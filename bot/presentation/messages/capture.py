"""The "Add to timeline" modal and the shortcut."""

from __future__ import annotations

from datetime import datetime

from bot.domain.slack_user import is_user_id
from bot.domain.timeline import EVENT_DATA_LIMIT
from bot.presentation.messages.common import BIND_HOW, escape, utc


def goes_to(incident_title: str) -> str:
    return f"Goes to the incident *{escape(incident_title)}*"


def message_source(author_id: str | None, author_label: str, posted_at: datetime) -> str:
    # Slack shows a mention as the person's current name; anything not shaped like a user id is text.
    author = f"<@{author_id}>" if author_id and is_user_id(author_id) else f"*{escape(author_label)}*"
    seconds = int(posted_at.timestamp())
    # Slack shows <!date^…> in each reader's own time zone; the fallback is UTC.
    when = f"<!date^{seconds}^{{date_short_pretty}} at {{time}}|{utc(posted_at)}>"
    return f"Message by {author}, posted {when}"


def capture_text_hint() -> str:
    return "Prefilled from the message. What is in this box is what goes on the timeline."


def capture_message_long(full_length: int) -> str:
    return (
        f"This message has {full_length:,} characters, more than this box holds, so the box shows only the "
        "beginning. *Leave it unchanged and the whole message is added*; edit it and exactly what is in the "
        "box is added."
    )


def capture_message_too_long(full_length: int, over_by: int) -> str:
    return (
        f"This message has {full_length:,} characters: {over_by:,} more than one timeline event can hold "
        f"(Incident Manager's limit is {EVENT_DATA_LIMIT:,}, counted with the author line). "
        "*Edit the box down to what matters*: what is in the box is what is added."
    )


def capture_too_long_error(over_by: int) -> str:
    return (
        f"The whole message is {over_by:,} characters over Incident Manager's limit. "
        "Edit this box down to what matters; what is in the box is what is added."
    )


def capture_not_bound() -> str:
    return (
        "This channel isn't bound to an incident, so there is no timeline to add this message to. "
        f"{BIND_HOW}, then use *Add to timeline* on the message again."
    )
