"""Binding a channel to an incident record: bind, unbind, status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain.arn import parse_incident_record_arn
from bot.domain.binding import Binding
from bot.usecases.errors import IncidentResolved
from bot.usecases.ports import BindingStore, BindPermission, IncidentGateway, IncidentSummary

logger = logging.getLogger(__name__)


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
    def __init__(self, store: BindingStore, gateway: IncidentGateway, permission: BindPermission) -> None:
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

    async def status(self, binding: Binding | None) -> StatusReport:
        """The channel's binding (as the request resolved it) and its incident's live state."""
        if binding is None:
            return StatusReport(None, None, None)
        try:
            incident = await self._gateway.get_incident(binding.incident_arn)
        except Exception as error:  # noqa: BLE001 - the stored binding is still worth showing
            return StatusReport(binding, None, error)
        return StatusReport(binding, incident, None)
