"""Replies about an entry's outcome, shared by every entry point."""

from __future__ import annotations

from bot import messages
from bot.domain.arn import console_url
from bot.failures import queued_reason
from bot.services import EntryAdded, EntryQueued


def added_reply(added: EntryAdded | EntryQueued, region: str | None, *, pin: bool = False) -> str:
    """ "Added" once AWS has it; "saved, will be added" while it is queued (a second reply follows)."""
    entry = added.entry
    url = console_url(entry.incident_arn, region)
    title = added.binding.incident_title
    if isinstance(added, EntryQueued):
        why = queued_reason(added.reason, added.waiting_for_turn)
        return messages.entry_queued(entry.event_type, title, url, entry.event_time, added.text, why, pin)
    say = messages.entry_already_added if added.repeat else messages.entry_added
    return say(entry.event_type, title, url, entry.event_time, added.text)
