"""Success replies shared by every entry point."""

from __future__ import annotations

from bot import messages
from bot.domain.arn import console_url
from bot.services import EntryAdded


def added_reply(added: EntryAdded, region: str | None) -> str:
    url = console_url(added.entry.incident_arn, region)
    return messages.entry_added(
        added.entry.event_type, added.binding.incident_title, url, added.entry.event_time, added.text
    )
