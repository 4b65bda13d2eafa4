"""Use cases that glue the pure domain to the store, Incident Manager and Slack lookups.

One shared path turns a captured Slack source into a timeline event; every entry point (slash command
today, shortcut, modal and reaction next) goes through `TimelineService.add`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from botocore.exceptions import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.aws.incidents import IncidentGateway, IncidentSummary, aws_error_code
from bot.domain.arn import parse_incident_record_arn
from bot.domain.slack_text import clean_text, readable, referenced_user_ids
from bot.domain.timeline import (
    Attribution,
    EventType,
    TimelineEntry,
    as_utc,
    client_token,
    compose_event_text,
    encode_event_data,
)
from bot.errors import (
    BindingChanged,
    BindNotAllowed,
    BindPermissionUnknown,
    BoundIncidentMissing,
    ChannelNotBound,
    EntryEmpty,
    IncidentResolved,
)
from bot.slack.directory import UserDirectory
from bot.slack.errors import slack_error_code
from bot.store import Binding, EntryState, Store

logger = logging.getLogger(__name__)

# Definite answers about this entry: sending it again, with its token, cannot succeed.
_FINAL_AWS_ERRORS = {
    "AccessDeniedException",
    "ResourceNotFoundException",
    "ValidationException",
    "ConflictException",
}


@dataclass(frozen=True)
class CapturedEntry:
    """Something from Slack that should land on the channel's incident timeline."""

    team_id: str
    channel_id: str
    event_type: EventType
    slack_text: str
    event_time: datetime
    author_id: str | None
    author_fallback: str
    token_source: tuple[str, ...]
    added_by_id: str | None = None
    permalink: str | None = None
    # The incident the person saw when they started (a modal); None when they acted in one step.
    expected_incident_arn: str | None = None
    # Slack message markup (mentions, links, entities) or, from a form's plain-text input, literal text.
    is_markup: bool = True


@dataclass(frozen=True)
class EntryAdded:
    entry: TimelineEntry
    binding: Binding
    event_id: str
    # The person's own words as they landed (without the attribution line appended for the timeline).
    text: str
    # The same source was already on the timeline (a second pin, a retried delivery): nothing new was sent.
    repeat: bool = False


class TimelineService:
    def __init__(self, store: Store, gateway: IncidentGateway, directory: UserDirectory) -> None:
        self._store = store
        self._gateway = gateway
        self._directory = directory
        # Entries on their way to AWS, by token.
        self._sending: dict[str, asyncio.Future[str]] = {}

    @staticmethod
    def people_in(captured: CapturedEntry) -> set[str]:
        """Everyone whose name the entry shows: mentions, the author and who added it."""
        mentioned = referenced_user_ids(captured.slack_text) if captured.is_markup else set()
        return mentioned | {user for user in (captured.author_id, captured.added_by_id) if user}

    @staticmethod
    def render(captured: CapturedEntry, names: dict[str, str]) -> tuple[str, Attribution]:
        """The readable text and its author line, with the names known (pure: no look-ups)."""
        if captured.is_markup:
            text = readable(captured.slack_text, names)
        else:
            text = clean_text(captured.slack_text).strip()
        author = _name(names, captured.author_id, captured.author_fallback)
        added_by = _name(names, captured.added_by_id, "") if captured.added_by_id else None
        return text, Attribution(author, added_by, captured.permalink)

    async def add(self, captured: CapturedEntry) -> EntryAdded:
        binding = await self._store.get_binding(captured.team_id, captured.channel_id)
        if binding is None:
            raise ChannelNotBound()
        if captured.expected_incident_arn not in (None, binding.incident_arn):
            raise BindingChanged(binding.incident_title)
        # One concurrent round of users.info (cached) for the mentions, the author and who added it.
        names = await self._directory.names(self.people_in(captured))
        text, attribution = self.render(captured, names)
        if not text:
            raise EntryEmpty(captured.event_type)
        entry = TimelineEntry(
            client_token=client_token(*captured.token_source),
            incident_arn=binding.incident_arn,
            event_type=captured.event_type,
            event_time=as_utc(captured.event_time),
            event_data=encode_event_data(compose_event_text(text, attribution)),
        )
        # Recorded before AWS is tried; a repeat of the same source gets the first entry back unchanged,
        # so the token is always sent with the same parameters (eventTime included).
        stored = await self._store.save_entry_once(entry)
        if stored.entry != entry:
            # An earlier attempt of this source (the message edited since, say): that one is sent, and the
            # reply quotes what it says.
            text = stored.entry.text
        entry = stored.entry
        if stored.state is EntryState.SENT and stored.event_id:
            # Already on the timeline: AWS would answer with the same event, so don't ask it again.
            return EntryAdded(entry, binding, stored.event_id, text, repeat=True)
        try:
            event_id, repeat = await self._send_once(entry)
        except ClientError as error:
            if aws_error_code(error) == "ResourceNotFoundException":
                raise BoundIncidentMissing(binding.incident_title, binding.incident_arn) from error
            raise
        return EntryAdded(entry=entry, binding=binding, event_id=event_id, text=text, repeat=repeat)

    async def _send_once(self, entry: TimelineEntry) -> tuple[str, bool]:
        """Send the entry; a second caller with the same token while it is on its way waits for that
        answer instead of sending it again (two pins at once, Slack retrying a slow delivery)."""
        pending = self._sending.get(entry.client_token)
        if pending is not None:
            return await asyncio.shield(pending), True
        sending = asyncio.ensure_future(self._send(entry))
        self._sending[entry.client_token] = sending

        def finished(done: asyncio.Future[str]) -> None:
            self._sending.pop(entry.client_token, None)
            # Retrieved here too: if every caller was cancelled, the outcome is still consumed (and logged
            # by the gateway), not reported as "never retrieved".
            if not done.cancelled():
                done.exception()

        sending.add_done_callback(finished)
        return await asyncio.shield(sending), False

    async def _send(self, entry: TimelineEntry) -> str:
        try:
            event_id = await self._gateway.create_timeline_event(entry)
        except ClientError as error:
            if aws_error_code(error) in _FINAL_AWS_ERRORS:
                await self._store.mark_failed(entry.client_token, str(error)[:500])
            raise
        try:
            await self._store.mark_sent(entry.client_token, event_id)
        except Exception as error:  # noqa: BLE001 - AWS has it: the person must hear "added", not "failed"
            logger.warning(
                "could not record a sent entry",
                extra={"token": entry.client_token, "error": str(error)[:300]},
            )
        return event_id


def _name(names: dict[str, str], user_id: str | None, fallback: str) -> str:
    return clean_text((names.get(user_id) if user_id else None) or fallback or user_id or "someone")


class BindPermission:
    """Who may bind, re-bind and unbind: everyone, unless BIND_ALLOWED_USERS/USERGROUPS name someone."""

    def __init__(self, client: AsyncWebClient, users: frozenset[str], usergroups: frozenset[str]) -> None:
        self._client = client
        self._users = users
        self._usergroups = usergroups

    async def check(self, user_id: str) -> None:
        if not (self._users or self._usergroups) or user_id in self._users:
            return
        for group in sorted(self._usergroups):
            try:
                response = await self._client.usergroups_users_list(usergroup=group)
            except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
                code = slack_error_code(error) if isinstance(error, SlackApiError) else "unreachable"
                raise BindPermissionUnknown(code) from error
            if user_id in (response.get("users") or []):
                return
        raise BindNotAllowed(self._users, self._usergroups)


@dataclass(frozen=True)
class BindOutcome:
    binding: Binding
    incident: IncidentSummary
    previous: Binding | None


@dataclass(frozen=True)
class StatusReport:
    binding: Binding | None
    incident: IncidentSummary | None
    lookup_error: BaseException | None


class BindingService:
    def __init__(self, store: Store, gateway: IncidentGateway, permission: BindPermission) -> None:
        self._store = store
        self._gateway = gateway
        self._permission = permission

    async def bind(self, team_id: str, channel_id: str, user_id: str, arn_text: str) -> BindOutcome:
        arn = parse_incident_record_arn(arn_text)
        await self._permission.check(user_id)
        incident = await self._gateway.get_incident(str(arn))
        if incident.is_resolved:
            raise IncidentResolved(incident.title, incident.arn)
        binding = Binding(
            team_id=team_id,
            channel_id=channel_id,
            incident_arn=str(arn),
            incident_title=incident.title,
            bound_by=user_id,
            bound_at=datetime.now(UTC),
        )
        previous = await self._store.put_binding(binding)
        logger.info("channel bound", extra={"team": team_id, "channel": channel_id, "incident": str(arn)})
        return BindOutcome(binding=binding, incident=incident, previous=previous)

    async def unbind(self, team_id: str, channel_id: str, user_id: str) -> Binding | None:
        await self._permission.check(user_id)
        removed = await self._store.delete_binding(team_id, channel_id)
        if removed is not None:
            logger.info("channel unbound", extra={"team": team_id, "channel": channel_id})
        return removed

    async def status(self, team_id: str, channel_id: str) -> StatusReport:
        binding = await self._store.get_binding(team_id, channel_id)
        if binding is None:
            return StatusReport(None, None, None)
        try:
            incident = await self._gateway.get_incident(binding.incident_arn)
        except Exception as error:  # noqa: BLE001 - the stored binding is still worth showing
            return StatusReport(binding, None, error)
        return StatusReport(binding, incident, None)
