"""What the listeners need, built once and handed to them through the Bolt context."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.aws.incidents import IncidentGateway
from bot.config import Settings
from bot.inflight import InFlight
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.recent import RecentKeys
from bot.services import BindingService, TimelineService
from bot.slack.directory import UserDirectory
from bot.store import Store

CONTEXT_KEY = "deps"


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    gateway: IncidentGateway
    outbox: Outbox
    metrics: Metrics
    timeline: TimelineService
    bindings: BindingService
    directory: UserDirectory
    http: aiohttp.ClientSession
    inflight: InFlight
    # Events API deliveries already taken (Slack re-delivers slow ones with the same event_id).
    delivered_events: RecentKeys


def deps_of(context: AsyncBoltContext) -> Deps:
    deps = context[CONTEXT_KEY]
    assert isinstance(deps, Deps)
    return deps
