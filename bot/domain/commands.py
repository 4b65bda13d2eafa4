"""Parsing `/incident-note` text into what the person asked for. Pure and total: never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.timeline import EventType


@dataclass(frozen=True)
class AddEntry:
    event_type: EventType
    text: str


@dataclass(frozen=True)
class Bind:
    arn_text: str


@dataclass(frozen=True)
class PickIncident:
    """`bind` alone: the person picks the incident from the open ones, in a form."""


@dataclass(frozen=True)
class Unbind:
    pass


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Help:
    # Text typed after `help`, given back so nothing is lost (it may have been meant as a note).
    trailing: str = ""


# How many of the latest timeline events `timeline` shows, and the most `timeline <n>` may ask for.
TIMELINE_DEFAULT = 10
TIMELINE_MAX = 50


@dataclass(frozen=True)
class Timeline:
    """`timeline [n]`: the incident's latest events, newest first."""

    count: int = TIMELINE_DEFAULT


@dataclass(frozen=True)
class Compose:
    """No text at all: the person wants the compose form."""


@dataclass(frozen=True)
class EmptyEntry:
    event_type: EventType


class MalformedReason(StrEnum):
    """How a keyword was used the wrong way (the person is told in words, with the help)."""

    BIND_TAKES_ONE_ARN = "bind_takes_one_arn"
    TAKES_NOTHING = "takes_nothing"
    TIMELINE_COUNT = "timeline_count"


@dataclass(frozen=True)
class Malformed:
    """A keyword used the wrong way."""

    keyword: str
    reason: MalformedReason
    original: str


Command = (
    AddEntry | Bind | PickIncident | Unbind | Status | Timeline | Help | Compose | EmptyEntry | Malformed
)

_FIRST_WORD = re.compile(r"^(\S+)(?:\s+(.*))?$", re.DOTALL)
# ASCII digits only: str.isdigit() would take "٣" or "²" too.
_COUNT = re.compile(r"[0-9]{1,3}")


def parse_command(text: str) -> Command:
    """The first word selects a form only when it is exactly a keyword; anything else is a Note."""
    stripped = text.strip()
    if not stripped:
        return Compose()
    match = _FIRST_WORD.match(stripped)
    assert match is not None  # a non-empty stripped string always has a first word
    keyword, rest = match.group(1), (match.group(2) or "").strip()
    if keyword in ("note", "event"):
        event_type = EventType.NOTE if keyword == "note" else EventType.CUSTOM_EVENT
        return AddEntry(event_type, rest) if rest else EmptyEntry(event_type)
    if keyword == "bind":
        if not rest:
            return PickIncident()
        if len(rest.split()) > 1:
            return Malformed("bind", MalformedReason.BIND_TAKES_ONE_ARN, stripped)
        return Bind(rest)
    if keyword in ("unbind", "status"):
        if rest:
            return Malformed(keyword, MalformedReason.TAKES_NOTHING, stripped)
        return Unbind() if keyword == "unbind" else Status()
    if keyword == "timeline":
        if not rest:
            return Timeline()
        if _COUNT.fullmatch(rest) and 1 <= int(rest) <= TIMELINE_MAX:
            return Timeline(int(rest))
        return Malformed(keyword, MalformedReason.TIMELINE_COUNT, stripped)
    if keyword == "help":
        return Help(rest)
    return AddEntry(EventType.NOTE, stripped)
