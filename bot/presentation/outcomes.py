"""Replies about an entry's outcome, shared by every entry point."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore import exceptions as aws

from bot.aws.incidents import THROTTLING_CODES, aws_error_code
from bot.domain.arn import console_url
from bot.presentation.failures import sdk_error
from bot.presentation.messages import entries
from bot.presentation.views import undo_blocks
from bot.usecases.errors import IncidentManagerError, OutcomeUnknown
from bot.usecases.timeline import EntryAdded, EntryQueued


def entry_reply(outcome: EntryAdded | EntryQueued, region: str | None, *, pin: bool = False) -> str:
    """ "Added" once AWS has it; "saved, will be added" while it is queued (a second reply follows)."""
    entry = outcome.entry
    url = console_url(entry.incident_arn, region)
    title = outcome.binding.incident_title
    if isinstance(outcome, EntryQueued):
        why = queued_reason(outcome.reason, outcome.waiting_for_turn)
        return entries.entry_queued(entry.event_type, title, url, entry.event_time, outcome.text, why, pin)
    if outcome.updated:
        return entries.entry_updated(entry.event_type, title, url, entry.event_time, outcome.text)
    say = entries.entry_already_added if outcome.repeat else entries.entry_added
    return say(entry.event_type, title, url, entry.event_time, outcome.text)


def undo_until(recorded_by: datetime, window: timedelta) -> datetime:
    """Until when the Undo button works, as the reply shows it: to the minute, rounded down, from a moment
    no later than the entry's recording (so the reply never promises longer than the window)."""
    return (recorded_by + window).replace(second=0, microsecond=0)


def entry_confirmation(
    outcome: EntryAdded | EntryQueued, region: str | None, until: datetime | None
) -> tuple[str, list[dict[str, Any]] | None]:
    """The reply to an added note, event or shortcut entry: its text, and blocks with the *Undo* button
    while `until` has not passed (none for a repeat: that person was answered, button and all, the
    first time; none for a form that updated the event a pin made: that event is not its own to undo)."""
    text = entry_reply(outcome, region)
    if until is None or (isinstance(outcome, EntryAdded) and (outcome.repeat or outcome.updated)):
        return text, None
    return text, undo_blocks(text, outcome.entry.client_token, until)


def queued_reason(error: BaseException | None, waiting_for_turn: bool = False) -> str:
    """Why an entry is waiting, as a clause: "Incident Manager is throttling requests right now"."""
    if isinstance(error, OutcomeUnknown):
        return entries.QUEUED_NO_ANSWER
    error = sdk_error(error) if error is not None else None
    if isinstance(error, aws.ClientError):
        if aws_error_code(error) in THROTTLING_CODES:
            return entries.QUEUED_THROTTLED
        return entries.QUEUED_FAILING
    if isinstance(error, aws.ConnectionError):
        return entries.QUEUED_UNREACHABLE
    if isinstance(error, aws.HTTPClientError):
        return entries.QUEUED_NO_ANSWER
    if isinstance(error, IncidentManagerError) and error.code:
        # Typed without the SDK's exception behind it: its code says as much.
        return entries.QUEUED_THROTTLED if error.code in THROTTLING_CODES else entries.QUEUED_FAILING
    if waiting_for_turn:
        return entries.QUEUED_BURST
    return entries.QUEUED_SLOW
