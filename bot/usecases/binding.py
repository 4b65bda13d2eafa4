"""Binding a channel to an incident record: bind, unbind, status, and the open incidents to pick from.

On bind the channel becomes a related item of its incident (so responders in the console see where it
is being worked) and leaves the incident it served before; on unbind it leaves its incident. Those
updates are courtesies: if AWS refuses one, the binding stands and the outcome says what went wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain.arn import IncidentPath, IncidentRecordArn, parse_incident_reference
from bot.domain.binding import Binding, ChannelLink, links_to_channel
from bot.domain.timeline import client_token
from bot.usecases.errors import IncidentManagerError, IncidentNotOpen, IncidentResolved
from bot.usecases.ports import (
    BindingStore,
    BindPermission,
    IncidentGateway,
    IncidentSummary,
    RelatedItem,
)

logger = logging.getLogger(__name__)

# ListIncidentRecords pages read for the picker and its search (100 each): the newest 1,000 open ones.
OPEN_INCIDENT_PAGES = 10
# Related items pages read to find the channel's own item (100 each).
RELATED_ITEM_PAGES = 5
# A search while someone types reuses a listing this recent instead of listing again at every key.
SEARCH_FRESH_SECONDS = 20.0
OTHER = "OTHER"


@dataclass(frozen=True)
class OpenIncidents:
    """The open incidents, newest first; `complete` is False when there were more than were read."""

    incidents: list[IncidentSummary]
    complete: bool
    listed_at: float

    def matching(self, query: str) -> list[IncidentSummary]:
        """Those whose title holds every word of `query` (any case); all of them for an empty query."""
        words = query.casefold().split()
        return [i for i in self.incidents if all(word in i.title.casefold() for word in words)]


class OpenIncidentList:
    """Lists the open incidents page by page; callers at the same moment share one listing."""

    def __init__(self, gateway: IncidentGateway, clock: Callable[[], float] = time.monotonic) -> None:
        self._gateway = gateway
        self._clock = clock
        self._last: OpenIncidents | None = None
        self._listing: asyncio.Task[OpenIncidents] | None = None

    async def get(self, fresh_within: float = 0.0) -> OpenIncidents:
        """A listing at most `fresh_within` seconds old (0: a new one, unless one is under way)."""
        last = self._last
        if last is not None and fresh_within > 0 and self._clock() - last.listed_at <= fresh_within:
            return last
        if self._listing is None or self._listing.done():
            self._listing = asyncio.get_running_loop().create_task(self._list())
        # Shielded: a caller that gives up waiting (a search's time budget) leaves it to the others.
        return await asyncio.shield(self._listing)

    async def _list(self) -> OpenIncidents:
        incidents: list[IncidentSummary] = []
        token: str | None = None
        for _ in range(OPEN_INCIDENT_PAGES):
            page = await self._gateway.list_open_incidents(token)
            incidents.extend(page.incidents)
            token = page.next_token
            if token is None:
                break
        # AWS documents no order: newest first is the picker's promise, so sort here.
        newest_first = sorted(incidents, key=_started, reverse=True)
        listing = OpenIncidents(newest_first, token is None, self._clock())
        self._last = listing
        return listing


@dataclass(frozen=True)
class BindRequest:
    team_id: str
    channel_id: str
    user_id: str
    # What the person gave: an ARN, the console address or plan/id (the picker gives one of those too).
    reference: str
    # The channel as a related item of the incident; None when there is nothing to link to.
    link: ChannelLink | None
    # The Slack request (trigger_id, the form's view id): a retried bind adds the related item once.
    request_id: str


@dataclass(frozen=True)
class BindOutcome:
    binding: Binding
    incident: IncidentSummary
    previous: Binding | None
    # Why the channel is not on the incident's related items (None: it is, or there was no link).
    link_error: BaseException | None = None
    # Why the channel is still on the incident it served before (None: removed, or none to remove).
    unlink_error: BaseException | None = None


@dataclass(frozen=True)
class UnbindOutcome:
    removed: Binding | None
    unlink_error: BaseException | None = None


@dataclass(frozen=True)
class StatusReport:
    binding: Binding | None
    incident: IncidentSummary | None
    lookup_error: BaseException | None


class BindingService:
    def __init__(self, store: BindingStore, gateway: IncidentGateway, permission: BindPermission) -> None:
        self._store = store
        self._gateway = gateway
        self._permission = permission
        self.open_incidents = OpenIncidentList(gateway)

    async def check_permission(self, user_id: str) -> None:
        """Raise BindNotAllowed / BindPermissionUnknown when the person may not bind (before a form)."""
        await self._permission.check(user_id)

    async def bind(self, request: BindRequest) -> BindOutcome:
        reference = parse_incident_reference(request.reference)
        await self._permission.check(request.user_id)
        arn = str(reference) if isinstance(reference, IncidentRecordArn) else await self._resolve(reference)
        incident = await self._gateway.get_incident(arn)
        if incident.is_resolved:
            raise IncidentResolved(incident.title, incident.arn)
        binding = Binding(
            team_id=request.team_id,
            channel_id=request.channel_id,
            incident_arn=arn,
            incident_title=incident.title,
            bound_by=request.user_id,
            bound_at=datetime.now(UTC),
        )
        previous = await self._store.put_binding(binding)
        logger.info(
            "channel bound", extra={"team": request.team_id, "channel": request.channel_id, "incident": arn}
        )
        link_error = unlink_error = None
        if request.link is not None:
            link_error = await self._link(arn, request.link, request.request_id)
        if previous is not None and previous.incident_arn != arn:
            unlink_error = await self._unlink(previous.incident_arn, request.channel_id, request.request_id)
        return BindOutcome(binding, incident, previous, link_error, unlink_error)

    async def unbind(self, team_id: str, channel_id: str, user_id: str, request_id: str) -> UnbindOutcome:
        await self._permission.check(user_id)
        removed = await self._store.delete_binding(team_id, channel_id)
        if removed is None:
            return UnbindOutcome(None)
        logger.info("channel unbound", extra={"team": team_id, "channel": channel_id})
        return UnbindOutcome(removed, await self._unlink(removed.incident_arn, channel_id, request_id))

    async def status(self, binding: Binding | None) -> StatusReport:
        """The channel's binding (as the request resolved it) and its incident's live state."""
        if binding is None:
            return StatusReport(None, None, None)
        try:
            incident = await self._gateway.get_incident(binding.incident_arn)
        except Exception as error:  # noqa: BLE001 - the stored binding is still worth showing
            return StatusReport(binding, None, error)
        return StatusReport(binding, incident, None)

    async def _resolve(self, path: IncidentPath) -> str:
        """The ARN of the open incident `plan/id` names (its account is the bot's, seen in the listing)."""
        listing = await self.open_incidents.get()
        for incident in listing.incidents:
            if path.names(incident.arn):
                return incident.arn
        raise IncidentNotOpen(str(path))

    async def _channel_items(self, arn: str, channel_id: str) -> list[RelatedItem]:
        found: list[RelatedItem] = []
        token: str | None = None
        for _ in range(RELATED_ITEM_PAGES):
            page = await self._gateway.list_related_items(arn, token)
            found += [
                item
                for item in page.items
                if item.item_type == OTHER and item.url and links_to_channel(item.url, channel_id)
            ]
            token = page.next_token
            if token is None:
                break
        return found

    async def _link(self, arn: str, link: ChannelLink, request_id: str) -> BaseException | None:
        """Put the channel on the incident's related items, unless it is there already."""
        try:
            if await self._channel_items(arn, link.channel_id):
                return None
            token = client_token("related-item", "add", request_id, arn, link.url, link.title)
            await self._gateway.add_related_link(arn, link.url, link.title, token)
        except Exception as error:  # noqa: BLE001 - the binding stands; the reply says what went wrong
            # A Conflict: someone (another replica, a retry) added it between the look and the add.
            conflict = isinstance(error, IncidentManagerError) and error.code == "ConflictException"
            return None if conflict else error
        return None

    async def _unlink(self, arn: str, channel_id: str, request_id: str) -> BaseException | None:
        """Take the channel off the related items of an incident it no longer serves."""
        try:
            for item in await self._channel_items(arn, channel_id):
                assert item.url is not None  # _channel_items keeps only items with an address
                token = client_token("related-item", "remove", request_id, arn, item.url)
                try:
                    await self._gateway.remove_related_link(arn, item.url, token)
                except IncidentManagerError as error:
                    # Gone already (removed in the console, or the incident deleted): nothing to do.
                    if error.code != "ResourceNotFoundException":
                        raise
        except IncidentManagerError as error:
            if error.code == "ResourceNotFoundException":
                return None
            return error
        except Exception as error:  # noqa: BLE001 - the binding change stands; the reply says why not
            return error
        return None


def _started(incident: IncidentSummary) -> datetime:
    return incident.creation_time or datetime.min.replace(tzinfo=UTC)
