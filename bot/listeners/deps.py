"""What the listeners need, built once by the app and handed to them through the Bolt context."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt.context.async_context import AsyncBoltContext

from bot.config import Settings
from bot.inflight import InFlight
from bot.metrics import Metrics
from bot.recent import DeliveredOnce
from bot.usecases.binding import BindingService
from bot.usecases.changes import EntryChanges
from bot.usecases.outbox import Outbox
from bot.usecases.ports import IncidentGateway, NameDirectory, Store
from bot.usecases.timeline import TimelineService
from bot.usecases.timeline_events import TimelineReader

CONTEXT_KEY = "deps"


class ReplyChannel(Protocol):
    async def send(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> bool:
        """Deliver the reply to the person (with `blocks`, `text` is the notification's); False when no
        way reached them."""
        ...

    async def replace(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> bool:
        """Put the reply in place of the message the person clicked in (else deliver it as `send` does)."""
        ...


class Repliers(Protocol):
    def __call__(self, channel_id: str, user_id: str, response_url: str | None = None) -> ReplyChannel:
        """Where a reply to this person goes: the response_url first, then chat.postEphemeral, then a DM."""
        ...


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    gateway: IncidentGateway
    outbox: Outbox
    metrics: Metrics
    timeline: TimelineService
    changes: EntryChanges
    bindings: BindingService
    reader: TimelineReader
    directory: NameDirectory
    repliers: Repliers
    inflight: InFlight
    # Events API deliveries already taken, by any replica (Slack re-delivers slow ones with the same
    # event_id, to whichever replica it reaches).
    delivered_events: DeliveredOnce
    # bind/unbind commands (and picker submits) already carried out, by any replica, by trigger (view) id:
    # a replay of a signed command (within Slack's five-minute window) must not announce again, or undo a
    # newer bind.
    handled_commands: DeliveredOnce


def deps_of(context: AsyncBoltContext) -> Deps:
    deps = context[CONTEXT_KEY]
    assert isinstance(deps, Deps)
    return deps
