"""Entries following Slack (bot.usecases.changes) and the outbox's ordering rules for changes, on a real
SQLite store with the in-memory gateway: undo, un-pin, edits and deletes, with AWS answering, failing,
and back again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.binding import Binding
from bot.domain.slack_message import MessageRef, SlackMessage
from bot.domain.timeline import (
    EventType,
    TimelineEntry,
    change_token,
    client_token,
    encode_event_data,
    from_slack_ts,
)
from bot.store import SqlStore
from bot.usecases.changes import (
    ChangeResult,
    DeletedMessageAction,
    EntryChanges,
    UndoNotAllowed,
    UndoRefusal,
)
from bot.usecases.errors import IncidentManagerError, IncidentNotFound, OutcomeUnknown
from bot.usecases.outbox import Notice, NoticeKind, Outbox, RetryPolicy, Told
from bot.usecases.ports import ChangeKind, EntrySource, EntryState, OwedChange, StoredEntry
from bot.usecases.sources import (
    captured_message_entry,
    pin_notice,
    pin_token_source,
    pinned_entry,
    slash_entry,
)
from bot.usecases.timeline import CapturedEntry, EntryAdded, EntryQueued, TimelineService
from tests.handlers.support import ARN_A, MemoryGateway, Permission

TEAM, CHANNEL = "T0001", "C0001"
TS = "1764150000.654321"
REF = MessageRef(TEAM, CHANNEL, TS)
FAST = RetryPolicy(first_delay_seconds=0.01, max_delay_seconds=0.02)
THROTTLED = IncidentManagerError("Rate exceeded", code="ThrottlingException", status=400, retryable=True)
EDITED_AT = datetime(2025, 11, 26, 10, 5, 30, tzinfo=UTC)


@dataclass
class Heard:
    notice: Notice
    reply: str
    landed: bool


@dataclass
class Recorded:
    """Follow-ups that record what would be told, to whom."""

    told: list[Heard] = field(default_factory=list)

    def landed_reply(self, stored: StoredEntry, event_id: str) -> str:
        return f"landed {stored.entry.text}"

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str:
        return f"failed {type(error).__name__}"

    def change_reply(self, stored: StoredEntry, change: OwedChange, error: BaseException | None) -> str:
        return f"{change.kind} {'done' if error is None else type(error).__name__} {stored.state}"

    async def tell(self, notice: str, reply: str, landed: bool) -> Told:
        recorded = Notice.from_json(notice)
        assert recorded is not None
        self.told.append(Heard(recorded, reply, landed))
        return Told(reached=True)


class Names:
    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        return self.cached_names(user_ids)

    def cached_names(self, user_ids: Iterable[str]) -> dict[str, str]:
        known = {"U0001": "alice", "U0002": "bob", "U0003": "carol"}
        return {user: known[user] for user in user_ids if user in known}


@dataclass
class World:
    store: SqlStore
    gateway: MemoryGateway
    outbox: Outbox
    timeline: TimelineService
    changes: EntryChanges
    follow_ups: Recorded
    binding: Binding

    async def pin(
        self, user: str = "U0001", ts: str = TS, text: str = "db <@U0003> ok"
    ) -> EntryAdded | EntryQueued:
        """The pin path as reaction_added takes it."""
        ref = MessageRef(TEAM, CHANNEL, ts)
        known = await self.timeline.already_pinned(
            ref, self.binding, pin_notice(TEAM, CHANNEL, user, ts), user
        )
        if known is not None:
            return known
        captured, notice = pinned_entry(
            team_id=TEAM,
            channel_id=CHANNEL,
            user_id=user,
            message=SlackMessage(ts, "U0002", "bob", text),
            incident_arn=self.binding.incident_arn,
            permalink=f"https://acme.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}",
        )
        return await self.timeline.add(captured, notice, self.binding)

    async def shortcut(
        self, text: str, user: str = "U0001", view_id: str = "V1", changed: bool = True
    ) -> EntryAdded | EntryQueued:
        captured, notice = captured_message_entry(
            team_id=TEAM,
            channel_id=CHANNEL,
            user_id=user,
            message=SlackMessage(TS, "U0002", "bob", text),
            event_type=EventType.CUSTOM_EVENT,
            event_time=from_slack_ts(TS),
            view_id=view_id,
            permalink=None,
            incident_arn=self.binding.incident_arn,
            response_url=None,
            text_changed=changed,
        )
        return await self.timeline.add(captured, notice, self.binding)

    async def note(self, text: str = "failover done", user: str = "U0001") -> EntryAdded | EntryQueued:
        captured, notice = slash_entry(
            team_id=TEAM,
            channel_id=CHANNEL,
            user_id=user,
            user_name="alice",
            event_type=EventType.NOTE,
            text=text,
            trigger_id=f"trigger-{text}",
            response_url=None,
            received_at=datetime.now(UTC),
        )
        return await self.timeline.add(captured, notice, self.binding)

    async def until(self, done: Callable[[], bool]) -> None:
        """Sweep (as the background does) until `done` holds."""
        for _ in range(300):
            await self.outbox.sweep()
            await asyncio.sleep(0.01)
            if done():
                return
        raise AssertionError("the outbox did not get there")

    def calls(self) -> list[str]:
        return [
            name for name, _ in self.gateway.calls if name in ("UpdateTimelineEvent", "DeleteTimelineEvent")
        ]


def make_world(
    store: SqlStore,
    *,
    others_may_undo: bool = False,
    undo_window: timedelta = timedelta(minutes=10),
    deleted_message_action: DeletedMessageAction = DeletedMessageAction.DELETE,
) -> World:
    gateway = MemoryGateway()
    gateway.add_incident(ARN_A, "Checkout DB down")
    follow_ups = Recorded()
    outbox = Outbox(store, gateway, follow_ups, lease=timedelta(seconds=30), max_in_flight=4, policy=FAST)
    names = Names()
    permission = Permission(refuse={"U0009"})
    changes = EntryChanges(
        store,
        outbox,
        names,
        permission,
        undo_window=undo_window,
        others_may_undo=others_may_undo,
        deleted_message_action=deleted_message_action,
    )
    binding = Binding(TEAM, CHANNEL, ARN_A, "Checkout DB down", "U0001", datetime.now(UTC))
    return World(store, gateway, outbox, TimelineService(store, outbox, names), changes, follow_ups, binding)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}")
    yield opened
    await opened.close()


@pytest.fixture
async def world(store: SqlStore) -> AsyncIterator[World]:
    made = make_world(store)
    yield made
    await made.outbox.stop(1.0)


# Un-pin, re-pin


async def test_the_last_pinner_taking_the_pin_off_deletes_the_event(world: World) -> None:
    added = await world.pin("U0001")
    assert isinstance(added, EntryAdded)
    assert len(await world.changes.entries_following(REF)) == 1
    changed = await world.changes.pin_removed(REF, "U0001", ARN_A)
    assert changed.result is ChangeResult.DONE
    assert changed.stored is not None and changed.stored.state is EntryState.DELETED
    assert world.gateway.deleted == [added.event_id]
    assert world.gateway.events_on(ARN_A) == []
    assert await world.changes.entries_following(REF) == []


async def test_while_someone_still_pins_it_the_event_stays(world: World) -> None:
    await world.pin("U0001")
    again = await world.pin("U0003")
    assert isinstance(again, EntryAdded) and again.repeat
    assert (await world.changes.pin_removed(REF, "U0001", ARN_A)).result is ChangeResult.NOTHING
    assert len(world.gateway.events_on(ARN_A)) == 1 and world.calls() == []
    assert (await world.changes.pin_removed(REF, "U0003", ARN_A)).result is ChangeResult.DONE
    assert world.gateway.events_on(ARN_A) == []


async def test_a_re_pin_after_an_un_pin_adds_it_again_with_a_fresh_token(world: World) -> None:
    first = await world.pin("U0001")
    await world.changes.pin_removed(REF, "U0001", ARN_A)
    again = await world.pin("U0001")
    assert isinstance(again, EntryAdded) and not again.repeat
    assert again.entry.client_token != first.entry.client_token
    # Generation 0 is the token it always was; the re-pin's adds its generation.
    assert first.entry.client_token == client_token(*pin_token_source(TEAM, CHANNEL, TS, ARN_A))
    assert again.entry.client_token == client_token(
        *pin_token_source(TEAM, CHANNEL, TS, ARN_A), "generation:1"
    )
    (shown,) = world.gateway.events_on(ARN_A)
    assert shown.client_token == again.entry.client_token


async def test_an_un_pin_leaves_an_entry_the_shortcut_made(world: World) -> None:
    made = await world.shortcut("db ok, as I put it")
    await world.pin("U0003")  # joins it: no new event
    assert len(world.gateway.created) == 1
    changed = await world.changes.pin_removed(REF, "U0003", ARN_A)
    assert changed.result is ChangeResult.NOTHING
    assert [e.client_token for e in world.gateway.events_on(ARN_A)] == [made.entry.client_token]


async def test_an_un_pin_of_a_message_never_pinned_costs_one_read(world: World) -> None:
    changed = await world.changes.pin_removed(MessageRef(TEAM, CHANNEL, "1.000001"), "U0001", ARN_A)
    assert changed.result is ChangeResult.NOTHING and changed.stored is None
    assert world.calls() == []


# The shortcut and the pin of one message


async def test_a_shortcut_for_a_pinned_message_updates_its_event(world: World) -> None:
    pinned = await world.pin("U0001")
    shaped = await world.shortcut("primary failed over, as alice puts it", user="U0003")
    assert isinstance(shaped, EntryAdded) and shaped.updated
    assert len(world.gateway.created) == 1
    (shown,) = world.gateway.events_on(ARN_A)
    assert shown.event_type is EventType.CUSTOM_EVENT
    assert shown.text.startswith("primary failed over, as alice puts it\n\n— bob, via Slack (added by carol)")
    (update,) = world.gateway.called("UpdateTimelineEvent")
    assert update["client_token"] == change_token(pinned.entry.client_token, 1)
    # The person shaped its text: edits in Slack no longer change it.
    changed = await world.changes.message_edited(REF, "db is on fire", "U0002", EDITED_AT)
    assert [c.result for c in changed] == [ChangeResult.NOTHING]


async def test_a_pin_of_a_message_the_shortcut_added_joins_it(world: World) -> None:
    await world.shortcut("db ok", changed=False)
    joined = await world.pin("U0003")
    assert isinstance(joined, EntryAdded) and joined.repeat
    assert len(world.gateway.created) == 1


# Undo


async def test_undo_by_who_added_it_deletes_it(world: World) -> None:
    added = await world.note()
    changed = await world.changes.undo(added.entry.client_token, "U0001", datetime.now(UTC))
    assert changed.result is ChangeResult.DONE
    assert world.gateway.events_on(ARN_A) == []
    again = await world.changes.undo(added.entry.client_token, "U0001", datetime.now(UTC))
    assert again.result is ChangeResult.NOTHING


async def test_undo_is_refused_to_someone_else_and_after_the_window(world: World) -> None:
    added = await world.note()
    token = added.entry.client_token
    with pytest.raises(UndoNotAllowed) as stranger:
        await world.changes.undo(token, "U0003", datetime.now(UTC))
    assert stranger.value.reason is UndoRefusal.NOT_YOURS
    with pytest.raises(UndoNotAllowed) as late:
        await world.changes.undo(token, "U0001", datetime.now(UTC) + timedelta(minutes=11))
    assert late.value.reason is UndoRefusal.WINDOW_PASSED
    with pytest.raises(UndoNotAllowed) as unknown:
        await world.changes.undo(client_token("never"), "U0001", datetime.now(UTC))
    assert unknown.value.reason is UndoRefusal.UNKNOWN
    assert len(world.gateway.events_on(ARN_A)) == 1 and world.calls() == []


async def test_with_bind_allowed_those_it_names_may_undo_anyones(store: SqlStore) -> None:
    world = make_world(store, others_may_undo=True, undo_window=timedelta(minutes=2))
    added = await world.note()
    with pytest.raises(UndoNotAllowed):
        await world.changes.undo(added.entry.client_token, "U0009", datetime.now(UTC))  # not named
    with pytest.raises(UndoNotAllowed) as late:
        await world.changes.undo(added.entry.client_token, "U0003", datetime.now(UTC) + timedelta(minutes=3))
    assert late.value.reason is UndoRefusal.WINDOW_PASSED
    changed = await world.changes.undo(added.entry.client_token, "U0003", datetime.now(UTC))
    assert changed.result is ChangeResult.DONE
    await world.outbox.stop(1.0)


# Edits and deletes


async def test_an_edit_updates_the_event_keeping_its_time_type_and_references(world: World) -> None:
    added = await world.pin("U0001")
    (changed,) = await world.changes.message_edited(REF, "db <@U0003> is *really* ok", "U0002", EDITED_AT)
    assert changed.result is ChangeResult.DONE
    (update,) = world.gateway.called("UpdateTimelineEvent")
    assert update["client_token"] == change_token(added.entry.client_token, 1)
    assert len(update["client_token"]) <= 128
    (shown,) = world.gateway.events_on(ARN_A)
    assert shown.text == (
        "db @carol is *really* ok\n\n— bob, via Slack (added by alice)\n"
        f"https://acme.slack.com/archives/{CHANNEL}/p{TS.replace('.', '')}\n(edited in Slack at 10:05 UTC)"
    )
    assert shown.event_time == added.entry.event_time and shown.event_type is EventType.NOTE
    assert shown.event_references == [{"resource": ARN_A}]
    # The same text again changes nothing.
    (same,) = await world.changes.message_edited(REF, "db <@U0003> is *really* ok", "U0002", EDITED_AT)
    assert same.result is ChangeResult.NOTHING
    assert len(world.gateway.called("UpdateTimelineEvent")) == 1


async def test_a_deleted_message_deletes_its_event_by_default(world: World) -> None:
    await world.pin("U0001")
    (changed,) = await world.changes.message_deleted(REF, datetime.now(UTC))
    assert changed.result is ChangeResult.DONE
    assert world.gateway.events_on(ARN_A) == []


async def test_a_deleted_message_can_be_marked_instead(store: SqlStore) -> None:
    world = make_world(store, deleted_message_action=DeletedMessageAction.MARK)
    await world.shortcut("shaped by hand")
    (changed,) = await world.changes.message_deleted(REF, datetime.now(UTC))
    assert changed.result is ChangeResult.DONE
    (shown,) = world.gateway.events_on(ARN_A)
    assert shown.text == "(deleted in Slack)\n\n— bob, via Slack (added by alice)"
    await world.outbox.stop(1.0)


# The outbox's ordering rules, with AWS failing


async def test_a_delete_of_a_queued_create_cancels_it_and_nothing_reaches_aws(world: World) -> None:
    world.gateway.outage = THROTTLED
    queued = await world.pin("U0001")
    assert isinstance(queued, EntryQueued)
    changed = await world.changes.pin_removed(REF, "U0001", ARN_A)
    assert changed.result is ChangeResult.CANCELLED
    world.gateway.outage = None
    for _ in range(5):
        await world.outbox.sweep()
        await asyncio.sleep(0.03)
    assert world.gateway.created == [] and world.calls() == []
    assert await world.store.pending_count() == 0


async def test_an_edit_of_a_create_never_attempted_is_folded_into_it(world: World) -> None:
    # Recorded, not yet sent (its turn had not come when the edit arrived).
    captured, notice = pinned_entry(
        team_id=TEAM,
        channel_id=CHANNEL,
        user_id="U0001",
        message=SlackMessage(TS, "U0002", "bob", "db ok"),
        incident_arn=ARN_A,
        permalink=None,
    )
    token = client_token(*captured.token_source)
    await world.store.save_entry_once(
        replace_entry(token, "db ok"), notice.to_json(), datetime.now(UTC), source_of(captured)
    )
    (changed,) = await world.changes.message_edited(REF, "db really ok", "U0002", EDITED_AT)
    assert changed.result is ChangeResult.QUEUED
    await world.until(lambda: bool(world.gateway.created))
    (created,) = world.gateway.created
    assert created.text.startswith("db really ok") and created.text.endswith("(edited in Slack at 10:05 UTC)")
    assert world.calls() == []  # folded: no update of its own


async def test_an_edit_of_a_create_that_was_tried_is_sent_after_it(world: World) -> None:
    world.gateway.outage = THROTTLED
    queued = await world.pin("U0001", text="db ok")
    assert isinstance(queued, EntryQueued)
    (changed,) = await world.changes.message_edited(REF, "db really ok", "U0002", EDITED_AT)
    assert changed.result is ChangeResult.QUEUED
    world.gateway.outage = None
    await world.until(lambda: bool(world.gateway.called("UpdateTimelineEvent")))
    (created,) = world.gateway.created
    assert created.text.startswith("db ok")  # the create is sent as it was first tried
    (shown,) = world.gateway.events_on(ARN_A)
    assert shown.text.startswith("db really ok")
    stored = await world.store.get_entry(queued.entry.client_token)
    assert stored is not None and stored.change is None and stored.entry.text.startswith("db really ok")


async def test_a_delete_of_a_create_that_may_have_landed_finishes_it_then_deletes_it(world: World) -> None:
    world.gateway.outage = OutcomeUnknown("read timeout")
    added = await world.note("maybe landed")
    assert isinstance(added, EntryQueued)
    changed = await world.changes.undo(added.entry.client_token, "U0001", datetime.now(UTC))
    assert changed.result is ChangeResult.QUEUED
    world.gateway.outage = None
    await world.until(lambda: bool(world.gateway.deleted))
    assert len(world.gateway.created) == 1  # one create, the same token
    assert world.gateway.events_on(ARN_A) == []
    stored = await world.store.get_entry(added.entry.client_token)
    assert stored is not None and stored.state is EntryState.DELETED
    # The person who asked to undo hears it landed; nobody hears "added" in between.
    await world.until(lambda: bool(world.follow_ups.told))
    (told,) = world.follow_ups.told
    assert told.reply.startswith("delete done") and told.notice.change == ChangeKind.DELETE
    assert told.notice.user_id == "U0001" and told.landed


async def test_a_delete_answered_not_found_counts_as_done(world: World) -> None:
    added = await world.pin("U0001")
    world.gateway.fail_next(
        "DeleteTimelineEvent", IncidentNotFound("gone", code="ResourceNotFoundException", status=404)
    )
    changed = await world.changes.pin_removed(REF, "U0001", ARN_A)
    assert changed.result is ChangeResult.DONE
    assert changed.stored is not None and changed.stored.state is EntryState.DELETED
    assert added.entry.client_token == changed.stored.entry.client_token


async def test_an_update_refused_for_good_leaves_the_event_as_it_was(world: World) -> None:
    await world.pin("U0001", text="db ok")
    refusal = IncidentManagerError("nope", code="ValidationException", status=400)
    world.gateway.fail_next("UpdateTimelineEvent", refusal)
    (changed,) = await world.changes.message_edited(REF, "db on fire", "U0002", EDITED_AT)
    assert changed.result is ChangeResult.REFUSED and changed.error is refusal
    assert changed.stored is not None and changed.stored.change is None
    assert changed.stored.entry.text.startswith("db ok")
    # Nothing is owed any more: the sweep sends nothing.
    await world.outbox.sweep()
    assert len(world.gateway.called("UpdateTimelineEvent")) == 1


async def test_an_undo_queued_while_aws_fails_is_told_once_it_lands(world: World) -> None:
    added = await world.pin("U0001")
    assert isinstance(added, EntryAdded)
    world.gateway.outage = THROTTLED
    changed = await world.changes.pin_removed(REF, "U0001", ARN_A)
    assert changed.result is ChangeResult.QUEUED
    assert len(world.gateway.events_on(ARN_A)) == 1
    world.gateway.outage = None
    await world.until(lambda: bool(world.follow_ups.told))
    (told,) = world.follow_ups.told
    assert told.notice.kind is NoticeKind.PIN and told.notice.message_ts == TS and told.landed
    assert world.gateway.deleted == [added.event_id]


async def test_a_delete_given_up_on_is_told_with_the_error(store: SqlStore) -> None:
    world = make_world(store)
    world.outbox._policy = replace(FAST, give_up_after=timedelta(seconds=0))  # every failure is the last
    await world.pin("U0001")
    world.gateway.outage = THROTTLED
    changed = await world.changes.pin_removed(REF, "U0001", ARN_A)
    assert changed.result is ChangeResult.REFUSED
    stored = await store.get_entry(client_token(*pin_token_source(TEAM, CHANNEL, TS, ARN_A)))
    assert stored is not None and stored.state is EntryState.SENT and stored.live
    await world.outbox.stop(1.0)


def replace_entry(token: str, text: str) -> TimelineEntry:
    return TimelineEntry(token, ARN_A, EventType.NOTE, from_slack_ts(TS), encode_event_data(text))


def source_of(captured: CapturedEntry) -> EntrySource:
    assert captured.message is not None
    return EntrySource(
        message=captured.message,
        origin=captured.origin,
        author_id=captured.author_id,
        author_fallback=captured.author_fallback,
        added_by_id=captured.added_by_id,
    )
