"""What a timeline entry is: its type, text, time and idempotency token."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.domain.slack_text import clean_text

# CreateTimelineEvent limits (botocore model: EventData max 12000, ClientToken max 128).
EVENT_DATA_LIMIT = 12_000
CLIENT_TOKEN_LIMIT = 128
# What an entry says once its message was deleted in Slack (DELETED_MESSAGE_ACTION=mark).
DELETED_IN_SLACK = "(deleted in Slack)"
# Who wrote it, when nothing better is known (the byline still reads "— someone, via Slack").
UNKNOWN_AUTHOR = "someone"


class EventType(StrEnum):
    NOTE = "Note"
    CUSTOM_EVENT = "Custom Event"

    @property
    def noun(self) -> str:
        return "note" if self is EventType.NOTE else "custom event"


class NoteTooLong(ValueError):
    """The encoded eventData would exceed Incident Manager's limit."""

    def __init__(self, encoded_length: int) -> None:
        super().__init__(f"encoded eventData is {encoded_length} characters, limit {EVENT_DATA_LIMIT}")
        self.encoded_length = encoded_length
        self.over_by = encoded_length - EVENT_DATA_LIMIT


@dataclass(frozen=True)
class Attribution:
    """Who wrote the text, who put it on the timeline (when someone else) and where it came from."""

    author: str
    added_by: str | None = None
    permalink: str | None = None


def compose_event_text(text: str, attribution: Attribution) -> str:
    """The readable string that lands on the timeline: the text, then who and where.

    Every part is cleaned (no control characters, no lone surrogates), whatever the caller passed: a name
    or a permalink straight from a Slack JSON payload may carry `\\ud800`, which no store, UTF-8 body or
    AWS service accepts. Cleaning is idempotent, so already-clean parts are unchanged.
    """
    author = clean_text(attribution.author)
    byline = f"— {author}, via Slack"
    added_by = clean_text(attribution.added_by or "")
    if added_by and added_by != author:
        byline += f" (added by {added_by})"
    lines = [clean_text(text).strip(), "", byline]
    if permalink := clean_text(attribution.permalink or "").strip():
        lines.append(permalink)
    return "\n".join(lines)


def utf16_length(text: str) -> int:
    """Length as Java's String.length() counts it (UTF-16 units: an emoji counts twice).

    The service model's limit may be enforced in code points (Smithy) or in UTF-16 units (a Java
    service); counting the stricter way means AWS never rejects a note the bot let through.
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def encode_event_data(event_text: str) -> str:
    """JSON-encode the text as AWS's own examples do, or raise NoteTooLong."""
    encoded = json.dumps(event_text, ensure_ascii=False)
    length = utf16_length(encoded)
    if length > EVENT_DATA_LIMIT:
        raise NoteTooLong(length)
    return encoded


def decode_event_data(event_data: str) -> str:
    decoded = json.loads(event_data)
    if not isinstance(decoded, str):
        raise ValueError("eventData is not a JSON string")
    return decoded


def client_token(*source: str) -> str:
    """A deterministic token from the Slack source of an entry, so a repeat cannot create a second event."""
    digest = hashlib.sha256("\x1f".join(source).encode("utf-8", "surrogatepass")).hexdigest()
    return f"slack-{digest}"


def change_token(entry_token: str, revision: int) -> str:
    """The clientToken of an entry's update to `revision`: derived from the entry's own token, so a retried
    update carries the same one, and each new revision a new one (the same length as an entry's, <= 128)."""
    return client_token(entry_token, "update", str(revision))


def edited_marker(edited_at: datetime) -> str:
    """What an entry's text ends with once its message was edited in Slack."""
    return f"(edited in Slack at {as_utc(edited_at):%H:%M} UTC)"


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timeline times must be timezone-aware")
    return moment.astimezone(UTC)


def from_slack_ts(ts: str) -> datetime:
    """A Slack message ts ("1712345678.123456") as an aware UTC datetime, to the microsecond."""
    seconds, _, fraction = ts.partition(".")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return datetime.fromtimestamp(int(seconds), tz=UTC).replace(microsecond=micros)


@dataclass(frozen=True)
class TimelineEntry:
    """Exactly what is sent to CreateTimelineEvent; one token always carries the same entry."""

    client_token: str
    incident_arn: str
    event_type: EventType
    event_time: datetime
    event_data: str

    def __post_init__(self) -> None:
        if self.event_time.tzinfo is None:
            raise ValueError("event_time must be timezone-aware")
        if len(self.client_token) > CLIENT_TOKEN_LIMIT:
            raise ValueError("client token too long")

    @property
    def event_references(self) -> list[dict[str, str]]:
        # A Note shows on the console's notes panel only when it references the incident itself.
        if self.event_type is EventType.NOTE:
            return [{"resource": self.incident_arn}]
        return []

    @property
    def text(self) -> str:
        return decode_event_data(self.event_data)
