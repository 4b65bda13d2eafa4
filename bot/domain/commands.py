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
class Unbind:
    pass


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Help:
    # Text typed after `help`, given back so nothing is lost (it may have been meant as a note).
    trailing: str = ""


@dataclass(frozen=True)
class Compose:
    """No text at all: the person wants the compose form."""


@dataclass(frozen=True)
class EmptyEntry:
    event_type: EventType


class MalformedReason(StrEnum):
    """How a keyword was used the wrong way (the person is told in words, with the help)."""

    BIND_NEEDS_ARN = "bind_needs_arn"
    BIND_TAKES_ONE_ARN = "bind_takes_one_arn"
    TAKES_NOTHING = "takes_nothing"


@dataclass(frozen=True)
class Malformed:
    """A keyword used the wrong way."""

    keyword: str
    reason: MalformedReason
    original: str


Command = AddEntry | Bind | Unbind | Status | Help | Compose | EmptyEntry | Malformed

_FIRST_WORD = re.compile(r"^(\S+)(?:\s+(.*))?$", re.DOTALL)


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
            return Malformed("bind", MalformedReason.BIND_NEEDS_ARN, stripped)
        if len(rest.split()) > 1:
            return Malformed("bind", MalformedReason.BIND_TAKES_ONE_ARN, stripped)
        return Bind(rest)
    if keyword in ("unbind", "status"):
        if rest:
            return Malformed(keyword, MalformedReason.TAKES_NOTHING, stripped)
        return Unbind() if keyword == "unbind" else Status()
    if keyword == "help":
        return Help(rest)
    return AddEntry(EventType.NOTE, stripped)
