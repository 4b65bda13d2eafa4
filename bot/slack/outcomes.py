"""Success replies shared by every entry point."""

from __future__ import annotations

from bot import messages
from bot.domain.arn import console_url
from bot.services import EntryAdded


def added_reply(added: EntryAdded, region: str | None) -> str:
    url = console_url(added.entry.incident_arn, region)
    say = messages.entry_already_added if added.repeat else messages.entry_added
    return say(added.entry.event_type, added.binding.incident_title, url, added.entry.event_time, added.text)
