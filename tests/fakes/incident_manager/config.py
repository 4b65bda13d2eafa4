"""What a FakeIncidentManager is configured with, shared by the parts that read it per request."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_CALLER_ARN = f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/bot/i-1"
CREATABLE_EVENT_TYPES = frozenset({"Custom Event", "Note"})


@dataclass
class Settings:
    """Mutable on purpose: the fake's public attributes of the same names read and write these, and
    every request reads them afresh (as the single-class fake did)."""

    region: str | None
    credentials: dict[str, str] | None
    caller_arn: str
    creatable_event_types: frozenset[str]
    default_page_size: int
