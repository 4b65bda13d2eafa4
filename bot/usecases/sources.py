"""The Slack sources an entry comes from, each built in one place: what it says, when, by whom, whom to
tell, and its idempotency token (CONTRACT: derived from the Slack source, so a repeat adds nothing)."""

from __future__ import annotations

from datetime import datetime

from bot.domain.slack_message import SlackMessage
from bot.domain.timeline import EventType, from_slack_ts
from bot.usecases.outbox import Notice, NoticeKind
from bot.usecases.ports import EntryOrigin
from bot.usecases.timeline import CapturedEntry


def slash_token_source(
    team_id: str, channel_id: str, user_id: str, trigger_id: str, received_at: datetime
) -> tuple[str, ...]:
    if trigger_id:
        # Slack's id of this one invocation: a re-delivery of the same command cannot add a second event.
        return ("slash", team_id, trigger_id)
    # Without one (never seen from Slack), keep distinct commands distinct rather than merging them.
    return ("slash-untriggered", team_id, channel_id, user_id, received_at.isoformat())


def pin_token_source(team_id: str, channel_id: str, ts: str, incident_arn: str) -> tuple[str, ...]:
    # Once per message and incident: more pins and Slack's retries land once, and after a re-bind a pin
    # puts the message on the new incident instead of echoing the old one.
    return ("reaction", team_id, channel_id, ts, incident_arn)


def pin_notice(team_id: str, channel_id: str, user_id: str, ts: str) -> Notice:
    """Who hears about a pin's outcome: the ✅ on the message, else a reply to whoever pinned it."""
    return Notice(kind=NoticeKind.PIN, team_id=team_id, channel_id=channel_id, user_id=user_id, message_ts=ts)


def slash_entry(
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    user_name: str,
    event_type: EventType,
    text: str,
    trigger_id: str,
    response_url: str | None,
    received_at: datetime,
) -> tuple[CapturedEntry, Notice]:
    """`/incident-note …`: the person's own words, at the time the command arrived."""
    captured = CapturedEntry(
        team_id=team_id,
        channel_id=channel_id,
        event_type=event_type,
        slack_text=text,
        event_time=received_at,
        author_id=user_id,
        author_fallback=user_name or user_id,
        token_source=slash_token_source(team_id, channel_id, user_id, trigger_id, received_at),
    )
    notice = Notice(
        kind=NoticeKind.REPLY,
        team_id=team_id,
        channel_id=channel_id,
        user_id=user_id,
        response_url=response_url,
        response_url_issued_at=received_at.timestamp(),
    )
    return captured, notice


def composed_entry(
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    user_name: str,
    event_type: EventType,
    text: str,
    event_time: datetime,
    view_id: str,
    incident_arn: str,
) -> tuple[CapturedEntry, Notice]:
    """The compose form: literal text typed in a plain-text box, at the time picked."""
    captured = CapturedEntry(
        team_id=team_id,
        channel_id=channel_id,
        event_type=event_type,
        slack_text=text,
        event_time=event_time,
        author_id=user_id,
        author_fallback=user_name or user_id,
        # One view is one entry: a double click on Add, or Slack retrying the submit, cannot add twice.
        token_source=("view", team_id, view_id),
        expected_incident_arn=incident_arn,
        is_markup=False,
    )
    return captured, Notice(kind=NoticeKind.REPLY, team_id=team_id, channel_id=channel_id, user_id=user_id)


def message_entry(
    *,
    team_id: str,
    channel_id: str,
    message: SlackMessage,
    added_by_id: str,
    permalink: str | None,
    token_source: tuple[str, ...] = (),
    event_type: EventType = EventType.NOTE,
    event_time: datetime | None = None,
    expected_incident_arn: str | None = None,
    is_markup: bool = True,
    origin: EntryOrigin = EntryOrigin.PIN,
    follows_edits: bool = True,
    pinner: str | None = None,
) -> CapturedEntry:
    """A Slack message put on the timeline by someone: written by its author, at its own time unless
    another was chosen. The entry records the message (one message, one event per incident)."""
    return CapturedEntry(
        team_id=team_id,
        channel_id=channel_id,
        event_type=event_type,
        slack_text=message.markup,
        event_time=event_time or from_slack_ts(message.ts),
        author_id=message.author_id,
        author_fallback=message.author_label,
        token_source=token_source,
        added_by_id=added_by_id,
        permalink=permalink,
        expected_incident_arn=expected_incident_arn,
        is_markup=is_markup,
        origin=origin,
        message_ts=message.ts,
        follows_edits=follows_edits,
        pinner=pinner,
    )


def captured_message_entry(
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    message: SlackMessage,
    event_type: EventType,
    event_time: datetime,
    view_id: str,
    permalink: str | None,
    incident_arn: str,
    response_url: str | None,
    text_changed: bool = True,
) -> tuple[CapturedEntry, Notice]:
    """The "Add to timeline" form: the box's literal text (`message.markup`), the type and time chosen.
    It follows edits of the message only when the person left its text as the message's (`text_changed`
    False); a text they shaped stays theirs. For a message already on the timeline, it updates that
    event (TimelineService.add)."""
    captured = message_entry(
        team_id=team_id,
        channel_id=channel_id,
        message=message,
        added_by_id=user_id,
        permalink=permalink,
        # One view is one entry: a double click on Add, or Slack retrying the submit, cannot add twice.
        token_source=("shortcut", team_id, channel_id, message.ts, view_id),
        event_type=event_type,
        event_time=event_time,
        expected_incident_arn=incident_arn,
        is_markup=False,
        origin=EntryOrigin.SHORTCUT,
        follows_edits=not text_changed,
    )
    notice = Notice(
        kind=NoticeKind.CAPTURE,
        team_id=team_id,
        channel_id=channel_id,
        user_id=user_id,
        response_url=response_url,
        message_ts=message.ts,
    )
    return captured, notice


def pinned_entry(
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    message: SlackMessage,
    incident_arn: str,
    permalink: str | None,
) -> tuple[CapturedEntry, Notice]:
    """A 📌 on a message: a Note of the message as it is, at its own time, following its edits; whoever
    pinned it is recorded as pinning it. (A thread's messages go in the same way, with
    `dataclasses.replace(captured, origin=EntryOrigin.THREAD, pinner=None)`: same token, no pinner.)"""
    captured = message_entry(
        team_id=team_id,
        channel_id=channel_id,
        message=message,
        added_by_id=user_id,
        permalink=permalink,
        token_source=pin_token_source(team_id, channel_id, message.ts, incident_arn),
        origin=EntryOrigin.PIN,
        pinner=user_id,
    )
    return captured, pin_notice(team_id, channel_id, user_id, message.ts)
