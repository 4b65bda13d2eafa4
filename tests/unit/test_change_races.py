"""Races of the lifecycle with the outbox's holds, each one found by a review and reproduced first: a change
taken over from another replica's attempt, a re-pin while the un-pin's delete is queued, a delete that must
not cancel a create that may have landed, a late attempt that must not bring a deleted entry back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.timeline import TimelineEntry
from bot.store import SqlStore
from bot.usecases.changes import ChangeResult
from bot.usecases.errors import GaveUp, NotSent, OutcomeUnknown
from bot.usecases.outbox import RetryPolicy
from bot.usecases.ports import ChangeKind, EntryState
from bot.usecases.timeline import EntryAdded
from tests.handlers.support import ARN_A, MemoryGateway
from tests.store.support import LEASE, entry
from tests.unit.test_changes import REF, THROTTLED, make_world

BeforeSend = Callable[[], Awaitable[bool]] | None


@dataclass
class HeldUpdates(MemoryGateway):
    """The first UpdateTimelineEvent stays on the wire until `release` is set; how many ran at once."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    first_on_wire: asyncio.Event = field(default_factory=asyncio.Event)
    running: int = 0
    most_at_once: int = 0
    started: int = 0

    async def update_timeline_event(
        self, entry: TimelineEntry, event_id: str, client_token: str, before_send: BeforeSend = None
    ) -> None:
        if before_send is not None and not await before_send():
            raise NotSent()
        self.started += 1
        first = self.started == 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if first:
                self.first_on_wire.set()
                await self.release.wait()
            await super().update_timeline_event(entry, event_id, client_token)
        finally:
            self.running -= 1


async def test_an_edit_on_one_replica_waits_for_the_update_another_has_on_the_wire(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store_a, store_b = SqlStore(url, holder="a:8000"), SqlStore(url, holder="b:8000")
    replica_a, replica_b = make_world(store_a), make_world(store_b)
    gateway = HeldUpdates()
    gateway.add_incident(ARN_A, "Checkout DB down")
    for replica in (replica_a, replica_b):
        replica.gateway = gateway
        replica.outbox._gateway = gateway
    try:
        added = await replica_a.pin("U0001", text="v0")
        assert isinstance(added, EntryAdded)
        first = asyncio.create_task(replica_b.changes.message_edited(REF, "v1", "U0002", datetime.now(UTC)))
        await gateway.first_on_wire.wait()
        # B's update is on the wire: A records the newer edit and leaves it to come after.
        (second,) = await replica_a.changes.message_edited(REF, "v2", "U0002", datetime.now(UTC))
        assert second.result is ChangeResult.QUEUED
        gateway.release.set()
        await first
        await replica_b.until(lambda: gateway.started == 2)
        await replica_b.until(lambda: gateway.running == 0)
        assert gateway.most_at_once == 1
        (event,) = gateway.events_on(ARN_A)
        stored = await store_a.get_entry(added.entry.client_token)
        assert stored is not None and stored.change is None
        assert "v2" in event.event_data and stored.entry.event_data == event.event_data
    finally:
        await replica_a.outbox.stop(1.0)
        await replica_b.outbox.stop(1.0)
        await store_a.close()
        await store_b.close()


async def test_a_re_pin_while_the_un_pins_delete_is_queued_is_a_new_event(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}")
    world = make_world(store)
    try:
        first = await world.pin("U0001")
        assert isinstance(first, EntryAdded)
        world.gateway.outage = THROTTLED
        unpinned = await world.changes.pin_removed(REF, "U0001", ARN_A)
        assert unpinned.result is ChangeResult.QUEUED
        again = await world.pin("U0001")
        assert again.entry.client_token != first.entry.client_token  # a fresh token, not "already there"
        world.gateway.outage = None
        await world.until(lambda: bool(world.gateway.deleted) and len(world.gateway.events_on(ARN_A)) == 1)
        (event,) = world.gateway.events_on(ARN_A)
        (live,) = await world.changes.entries_following(REF)
        assert live.entry.client_token == again.entry.client_token == event.client_token
    finally:
        await world.outbox.stop(1.0)
        await store.close()


@dataclass
class UnansweredCreate(MemoryGateway):
    """CreateTimelineEvent reaches AWS (the event is made) but its answer never comes back."""

    on_wire: asyncio.Event = field(default_factory=asyncio.Event)
    answer: asyncio.Event = field(default_factory=asyncio.Event)

    async def create_timeline_event(self, entry: TimelineEntry, before_send: BeforeSend = None) -> str:
        event_id = await super().create_timeline_event(entry, before_send)
        self.on_wire.set()
        await self.answer.wait()
        raise OutcomeUnknown(f"read timeout (AWS made {event_id})")


async def test_a_delete_does_not_cancel_a_create_given_up_on_that_may_have_landed(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}")
    world = make_world(store)
    gateway = UnansweredCreate()
    gateway.add_incident(ARN_A, "Checkout DB down")
    world.gateway = gateway
    world.outbox._gateway = gateway
    world.outbox._policy = RetryPolicy(
        first_delay_seconds=0.01, max_delay_seconds=0.02, give_up_after=timedelta(0)
    )
    try:
        pin = asyncio.create_task(world.pin("U0001"))
        await gateway.on_wire.wait()
        unpin = asyncio.create_task(world.changes.pin_removed(REF, "U0001", ARN_A))
        await asyncio.sleep(0.1)
        gateway.answer.set()
        with pytest.raises(GaveUp):  # its person hears it failed (and that it may be on the timeline)
            await pin
        assert (await unpin).result is not ChangeResult.CANCELLED
        await asyncio.sleep(0.1)
        (made,) = gateway.created
        stored = await store.get_entry(made.client_token)
        # It may be on the timeline: never "cancelled, nothing reached AWS".
        assert stored is not None and stored.state is EntryState.FAILED and stored.uncertain
        # The un-pinner hears that it could not be taken off (no event id to delete), and why.
        await world.until(lambda: any(h.reply.startswith("delete ") for h in world.follow_ups.told))
        (heard,) = [h for h in world.follow_ups.told if h.reply.startswith("delete ")]
        assert heard.reply == "delete GaveUp failed" and not heard.landed and heard.notice.user_id == "U0001"
    finally:
        await world.outbox.stop(1.0)
        await store.close()


async def test_a_late_attempt_does_not_bring_a_deleted_entry_back(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        token = "slack-late"
        await store.save_entry_once(entry(token), "", LEASE)
        assert await store.mark_sent(token, "event-1")
        now = datetime.now(UTC)
        await store.request_delete(token, "", now)
        await store.change_done(token, ChangeKind.DELETE, 0)
        # The attempt that lost its hold mid-call comes back with AWS's answer, or with a final failure.
        assert await store.mark_sent(token, "event-1")
        assert await store.mark_failed(token, "AccessDeniedException", uncertain=True)
        after = await store.get_entry(token)
        assert after is not None and after.state is EntryState.DELETED
    finally:
        await store.close()


async def test_a_cancelled_entry_is_pruned_with_the_delete_it_settled(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}", entry_retention=timedelta(days=1))
    try:
        token = "slack-cancelled"
        stored = await store.save_entry_once(entry(token), "", LEASE)
        assert await store.renew_lease(token, stored.next_attempt_at, LEASE, sending=True)
        await store.request_delete(token, '{"n":1}', datetime.now(UTC))
        await store.schedule_retry(token, datetime.now(UTC), "throttled", uncertain=False)
        assert await store.mark_failed(token, "AccessDenied")
        cancelled = await store.get_entry(token)
        assert cancelled is not None and cancelled.state is EntryState.CANCELLED
        assert cancelled.change is not None  # the delete it settled, kept with it
        assert await store.prune(datetime.now(UTC) + timedelta(days=2)) == 1
        assert await store.get_entry(token) is None
    finally:
        await store.close()
