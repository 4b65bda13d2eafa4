"""Use cases that glue the pure domain to the store, Incident Manager and Slack lookups.

One shared path turns a captured Slack source into a timeline event; every entry point (slash command
today, shortcut, modal and reaction next) goes through `TimelineService.add`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
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
from bot.outbox import Landed, Notice, Outbox, Queued
from bot.slack.directory import UserDirectory
from bot.slack.errors import slack_error_code
from bot.store import Binding, EntryState, Store

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class EntryQueued:
    """Saved, not yet on the timeline: Incident Manager is busy, failing or slow. The outbox keeps trying
    and tells the person (through the entry's notice) when it lands or finally fails."""

    entry: TimelineEntry
    binding: Binding
    text: str
    # Why it is queued; None when the first attempt is simply taking long.
    reason: BaseException | None
    # Taking long because a burst is waiting its turn under the bot's own rate limit.
    waiting_for_turn: bool = False


class TimelineService:
    def __init__(self, store: Store, outbox: Outbox, directory: UserDirectory) -> None:
        self._store = store
        self._outbox = outbox
        self._directory = directory

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

    async def add(self, captured: CapturedEntry, notice: Notice) -> EntryAdded | EntryQueued:
        """Record the entry, then send it; `notice` says whom to tell if the outcome comes later."""
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
        notice = replace(notice, incident_title=binding.incident_title, text=text)
        # Recorded before AWS is tried; a repeat of the same source gets the first entry back unchanged,
        # so the token is always sent with the same parameters (eventTime included).
        stored = await self._store.save_entry_once(entry, notice.to_json(), self._outbox.lease_until())
        if stored.entry != entry:
            # An earlier attempt of this source (the message edited since, say): that one is sent, and the
            # reply quotes what it says.
            text = stored.entry.text
        entry = stored.entry
        if stored.state is EntryState.SENT and stored.event_id:
            # Already on the timeline: AWS would answer with the same event, so don't ask it again.
            return EntryAdded(entry, binding, stored.event_id, text, repeat=True)
        outcome = await self._outbox.deliver(stored)
        if isinstance(outcome, Landed):
            return EntryAdded(entry, binding, outcome.event_id, text, repeat=outcome.joined)
        if isinstance(outcome, Queued):
            return EntryQueued(entry, binding, text, outcome.error, outcome.waiting_for_turn)
        error = outcome.error
        if isinstance(error, ClientError) and aws_error_code(error) == "ResourceNotFoundException":
            raise BoundIncidentMissing(binding.incident_title, binding.incident_arn) from error
        raise error


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
