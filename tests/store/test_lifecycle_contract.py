"""The entry lifecycle's store contract, on SQLite and PostgreSQL: one live entry per message and
incident, pinners, pin generations, and owed changes (folded, cancelled, owed, claimed and recorded)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.domain.slack_message import MessageRef
from bot.domain.timeline import client_token, encode_event_data
from bot.store import SqlStore
from bot.usecases.ports import (
    ChangeApplied,
    ChangeKind,
    EntryOrigin,
    EntrySource,
    EntryState,
    StoredEntry,
)
from tests.store.conftest import StoreMaker
from tests.store.support import ARN, LEASE, OTHER_ARN, entry, raw

MESSAGE = MessageRef("T1", "C1", "1712345678.000100")
OTHER_MESSAGE = MessageRef("T1", "C1", "1712345678.000200")


def source(
    origin: EntryOrigin = EntryOrigin.PIN, message: MessageRef = MESSAGE, generation: int = 0
) -> EntrySource:
    return EntrySource(
        message=message,
        origin=origin,
        author_id="U2",
        author_fallback="bob",
        added_by_id="U1",
        permalink="https://acme.slack.com/archives/C1/p1",
        generation=generation,
    )


async def pinned(store: SqlStore, name: str = "pin", pinner: str = "U1", arn: str = ARN) -> StoredEntry:
    return await store.save_entry_once(entry(client_token(name), arn=arn), "{}", LEASE, source(), pinner)


async def sent(store: SqlStore, name: str = "pin", pinner: str = "U1") -> StoredEntry:
    stored = await pinned(store, name, pinner)
    assert await store.mark_sent(stored.entry.client_token, f"event-{name}")
    found = await store.get_entry(stored.entry.client_token)
    assert found is not None
    return found


async def test_an_entry_remembers_its_message_and_how_it_was_rendered(store: SqlStore) -> None:
    stored = await pinned(store)
    assert stored.source == source()
    assert stored.pinners == frozenset({"U1"})
    assert stored.live and stored.change is None and stored.revision == 0
    (found,) = await store.entries_for_message(MESSAGE)
    assert found.entry == stored.entry and found.source == source()
    assert await store.entries_for_message(OTHER_MESSAGE) == []
    typed = await store.save_entry_once(entry(client_token("typed")), "{}", LEASE)
    assert typed.source is None


async def test_one_message_has_one_live_entry_per_incident(store: SqlStore) -> None:
    first = await pinned(store, "pin", "U1")
    # The shortcut, another token, same message and incident: the pin's entry comes back, and the
    # second pinner is recorded on it.
    again = await store.save_entry_once(
        entry(client_token("shortcut")), "{}", LEASE, source(EntryOrigin.SHORTCUT), "U3"
    )
    assert again.entry.client_token == first.entry.client_token
    assert again.pinners == frozenset({"U1", "U3"})
    assert await store.get_entry(client_token("shortcut")) is None
    elsewhere = await pinned(store, "pin-other", "U1", arn=OTHER_ARN)
    assert elsewhere.entry.client_token == client_token("pin-other")
    assert len(await store.entries_for_message(MESSAGE)) == 2


async def test_replicas_saving_one_message_at_once_keep_one_live_entry(
    open_store: StoreMaker, database_url: str
) -> None:
    stores = [await open_store() for _ in range(4)]
    saved = await asyncio.gather(
        *(
            store.save_entry_once(entry(client_token(f"way-{i}")), "{}", LEASE, source(), f"U{i}")
            for i, store in enumerate(stores)
        )
    )
    tokens = {stored.entry.client_token for stored in saved}
    assert len(tokens) == 1
    (live,) = await stores[0].entries_for_message(MESSAGE)
    pinners = await raw_pinners(database_url, live.entry.client_token)
    assert sorted(pinners) == ["U0", "U1", "U2", "U3"]


async def test_a_never_attempted_create_takes_an_edit_in_itself(store: SqlStore) -> None:
    stored = await pinned(store)
    token = stored.entry.client_token
    edited = entry(token, "edited")
    now = datetime.now(UTC)
    applied, after = await store.request_update(token, edited, "", now)
    assert applied is ChangeApplied.FOLDED
    assert after is not None and after.entry == edited and after.change is None
    # Due at once, and whoever held the old content has lost its hold.
    assert after.next_attempt_at == now
    assert not await store.renew_lease(token, stored.next_attempt_at, LEASE)


async def test_an_edit_of_a_create_on_its_way_is_owed_after_it(store: SqlStore) -> None:
    stored = await pinned(store)
    token = stored.entry.client_token
    assert await store.renew_lease(token, stored.next_attempt_at, LEASE, sending=True)  # it goes out
    applied, after = await store.request_update(
        token, entry(token, "edited"), '{"who":"x"}', datetime.now(UTC)
    )
    assert applied is ChangeApplied.OWED
    assert after is not None and after.in_flight
    assert after.entry == stored.entry  # the create is resent as it was
    assert after.change is not None and after.change.kind is ChangeKind.UPDATE and after.change.revision == 1
    assert after.shown.text == "edited" and after.change.notice == '{"who":"x"}'
    assert await store.mark_sent(token, "event-1")
    # Sent: the update is due now, through the same claim as any owed work.
    (claimed,) = await store.claim_due_changes(datetime.now(UTC) + timedelta(seconds=1), LEASE, 10)
    assert claimed.state is EntryState.SENT and claimed.change is not None
    assert claimed.change.entry == entry(token, "edited")


async def test_an_update_of_a_sent_entry_lands_and_a_newer_one_stays_owed(store: SqlStore) -> None:
    stored = await sent(store)
    token = stored.entry.client_token
    now = datetime.now(UTC)
    await store.request_update(token, entry(token, "one"), "", now)
    (claimed,) = await store.claim_due_changes(now + timedelta(seconds=1), LEASE, 10)
    assert claimed.change is not None and claimed.change.revision == 1
    assert await store.renew_lease(token, claimed.next_attempt_at, LEASE, sending=True)
    applied, during = await store.request_update(token, entry(token, "two"), "", now)
    assert applied is ChangeApplied.OWED and during is not None and during.change is not None
    assert during.change.revision == 2 and during.next_attempt_at == LEASE  # in flight: left held
    after = await store.change_done(token, ChangeKind.UPDATE, 1)
    assert after is not None and after.change is not None and after.change.revision == 2
    assert after.next_attempt_at is not None and not after.in_flight
    done = await store.change_done(token, ChangeKind.UPDATE, 2)
    assert done is not None and done.change is None and done.entry.text == "two" and done.revision == 2
    assert done.next_attempt_at is None
    assert await store.claim_due_changes(now + timedelta(minutes=1), LEASE, 10) == []


async def test_a_delete_of_a_create_that_never_reached_aws_cancels_it(store: SqlStore) -> None:
    stored = await pinned(store)
    token = stored.entry.client_token
    applied, after = await store.request_delete(token, "", datetime.now(UTC))
    assert applied is ChangeApplied.CANCELLED
    assert after is not None and after.state is EntryState.CANCELLED and not after.live
    assert not await store.renew_lease(token, stored.next_attempt_at, LEASE)
    assert await store.claim_due(datetime.now(UTC) + timedelta(hours=2), LEASE, 10) == []
    assert await store.entries_for_message(MESSAGE) == []
    # A re-pin takes the next generation.
    assert await store.pin_generation(MESSAGE, ARN) == 1
    assert await store.pin_generation(MESSAGE, OTHER_ARN) == 0


async def test_a_heartbeat_renewal_of_a_queued_create_leaves_it_cancellable(store: SqlStore) -> None:
    """A hold renewed while the entry waits its turn (the heartbeat) says nothing went to AWS: a delete
    still cancels it; only the renewal right before the call (`sending`) marks it in flight."""
    stored = await pinned(store)
    token = stored.entry.client_token
    assert await store.renew_lease(token, stored.next_attempt_at, LEASE)
    held = await store.get_entry(token)
    assert held is not None and not held.in_flight
    applied, after = await store.request_delete(token, "", datetime.now(UTC))
    assert applied is ChangeApplied.CANCELLED
    assert after is not None and after.state is EntryState.CANCELLED and after.next_attempt_at is None


async def test_a_delete_of_a_create_that_may_have_landed_is_owed_after_it(
    store: SqlStore, database_url: str
) -> None:
    stored = await pinned(store)
    token = stored.entry.client_token
    await store.schedule_retry(token, datetime.now(UTC), "timed out", uncertain=True)
    applied, after = await store.request_delete(token, '{"n":1}', datetime.now(UTC))
    assert applied is ChangeApplied.OWED
    assert after is not None and after.state is EntryState.PENDING and not after.live
    assert after.change is not None and after.change.kind is ChangeKind.DELETE
    # Not live: the message can be put on the timeline again meanwhile.
    assert await store.entries_for_message(MESSAGE) == []
    (claimed,) = await store.claim_due(datetime.now(UTC) + timedelta(seconds=1), LEASE, 10)
    assert claimed.entry == stored.entry  # the create is finished first
    assert await store.mark_sent(token, "event-1")
    (delete,) = await store.claim_due_changes(datetime.now(UTC) + timedelta(seconds=1), LEASE, 10)
    assert delete.change is not None and delete.change.kind is ChangeKind.DELETE
    gone = await store.change_done(token, ChangeKind.DELETE, delete.change.revision)
    assert gone is not None and gone.state is EntryState.DELETED and gone.pinners == frozenset()
    assert await raw_pinners(database_url, token) == []


async def raw_pinners(database_url: str, token: str) -> list[str]:
    rows = await raw(database_url, "SELECT user_id FROM entry_pinners WHERE client_token = :t", t=token)
    return [str(user) for (user,) in rows]


async def test_a_create_failing_for_good_with_a_delete_owed_is_cancelled(store: SqlStore) -> None:
    stored = await pinned(store)
    token = stored.entry.client_token
    assert await store.renew_lease(token, stored.next_attempt_at, LEASE, sending=True)
    await store.request_delete(token, "{}", datetime.now(UTC))
    await store.schedule_retry(token, datetime.now(UTC), "throttled", uncertain=False)
    assert await store.mark_failed(token, "AccessDenied")
    after = await store.get_entry(token)
    assert after is not None and after.state is EntryState.CANCELLED


async def test_a_delete_of_a_sent_entry_is_owed_and_the_last_pinner_decides(store: SqlStore) -> None:
    stored = await sent(store, pinner="U1")
    token = stored.entry.client_token
    assert await store.add_pinner(token, "U2") is not None
    after = await store.remove_pinner(token, "U1")
    assert after is not None and after.pinners == frozenset({"U2"})
    applied, _ = await store.request_delete(token, "", datetime.now(UTC), unless_pinned=True)
    assert applied is ChangeApplied.PINNED
    await store.remove_pinner(token, "U2")
    applied, owed = await store.request_delete(token, "", datetime.now(UTC), unless_pinned=True)
    assert applied is ChangeApplied.OWED and owed is not None and not owed.live
    # A pin arriving now does not join the dying entry.
    assert await store.add_pinner(token, "U3") is None
    applied, _ = await store.request_delete(token, "", datetime.now(UTC))
    assert applied is ChangeApplied.GONE


async def test_a_delete_refused_for_good_leaves_the_entry_live(store: SqlStore) -> None:
    stored = await sent(store)
    token = stored.entry.client_token
    await store.request_delete(token, "", datetime.now(UTC))
    after = await store.change_failed(token, ChangeKind.DELETE, 0, "AccessDenied")
    assert after is not None and after.state is EntryState.SENT and after.live and after.change is None
    assert [e.entry.client_token for e in await store.entries_for_message(MESSAGE)] == [token]


async def test_a_failed_pin_asked_again_is_live_again(store: SqlStore) -> None:
    stored = await pinned(store)
    token = stored.entry.client_token
    assert await store.mark_failed(token, "AccessDenied")
    assert await store.entries_for_message(MESSAGE) == []
    assert await store.pin_generation(MESSAGE, ARN) == 0  # a failure is asked again with the same token
    again = await pinned(store)
    assert again.state is EntryState.PENDING and again.live
    assert [e.entry.client_token for e in await store.entries_for_message(MESSAGE)] == [token]


async def test_an_update_of_an_entry_not_live_does_nothing(store: SqlStore) -> None:
    applied, after = await store.request_update(client_token("nope"), entry("x"), "", datetime.now(UTC))
    assert applied is ChangeApplied.GONE and after is None
    stored = await sent(store)
    token = stored.entry.client_token
    await store.request_delete(token, "", datetime.now(UTC))
    applied, _ = await store.request_update(token, entry(token, "late"), "", datetime.now(UTC))
    assert applied is ChangeApplied.GONE


async def test_stop_following_keeps_a_shaped_text_from_edits(store: SqlStore) -> None:
    stored = await sent(store)
    token = stored.entry.client_token
    shaped = entry(token, "shaped")
    _, after = await store.request_update(token, shaped, "", datetime.now(UTC), stop_following=True)
    assert after is not None and after.source is not None and not after.source.follows_edits
    assert after.shown.event_data == encode_event_data("shaped")


async def test_prune_keeps_an_entry_owing_a_change_and_drops_pinners_with_their_entry(
    open_store: StoreMaker, database_url: str
) -> None:
    store = await open_store(entry_retention=timedelta(seconds=0))
    owing = await sent(store, "owing")
    await store.request_update(
        owing.entry.client_token, entry(owing.entry.client_token, "x"), "", datetime.now(UTC)
    )
    other = await store.save_entry_once(
        entry(client_token("other")), "{}", LEASE, source(message=OTHER_MESSAGE), "U9"
    )
    assert await store.mark_sent(other.entry.client_token, "event-o")
    await asyncio.sleep(0.01)
    assert await store.prune(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert await store.get_entry(owing.entry.client_token) is not None
    assert await raw_pinners(database_url, other.entry.client_token) == []


async def test_a_change_held_for_its_caller_is_left_by_the_sweep_until_the_hold_ends(
    open_store: StoreMaker,
) -> None:
    """The replica whose request owes a change sends it itself (deliver_change): the sweep, there or on
    another replica, must not take it from that attempt while the hold lasts, and takes it once it ends."""
    caller, other = await open_store(), await open_store()
    caller.holder, other.holder = "replica-a:8000", "replica-b:8000"
    stored = await sent(caller)
    token = stored.entry.client_token
    now = datetime.now(UTC)
    hold = now + timedelta(seconds=3)
    applied, after = await caller.request_delete(token, "", now, hold_until=hold)
    assert applied is ChangeApplied.OWED and after is not None and after.next_attempt_at == hold
    assert await other.claim_due_changes(now + timedelta(seconds=1), LEASE, 10) == []
    # The caller's own attempt renews the hold it was given (compare-and-set on it).
    assert await caller.renew_lease(token, hold, hold + timedelta(seconds=3), sending=True)
    # A restarted replica gives back only its own holds.
    assert await other.release_holds("replica-b:8000", now) == 0
    (taken,) = await other.claim_due_changes(hold + timedelta(seconds=4), LEASE, 10)
    assert taken.change is not None and taken.change.kind is ChangeKind.DELETE
    # Without a hold (a change asked for where nobody sends it now) it is due for the sweep at once.
    second = await sent(caller, name="another")
    await caller.request_update(second.entry.client_token, entry(second.entry.client_token, "x"), "", now)
    (due,) = await other.claim_due_changes(now + timedelta(seconds=1), LEASE, 10)
    assert due.entry.client_token == second.entry.client_token


async def test_a_resend_after_an_attempt_that_never_came_back_is_uncertain(store: SqlStore) -> None:
    """Its sender died (or lost its hold) mid-call: that call may have made the event. The next attempt
    makes the entry uncertain, so a later throttled retry cannot make a delete cancel it."""
    stored = await pinned(store)
    token = stored.entry.client_token
    assert await store.renew_lease(token, stored.next_attempt_at, LEASE, sending=True)  # then killed
    (claimed,) = await store.claim_due(LEASE + timedelta(seconds=1), LEASE + timedelta(seconds=4), 10)
    assert not claimed.uncertain
    assert await store.renew_lease(token, claimed.next_attempt_at, LEASE + timedelta(seconds=8), sending=True)
    await store.schedule_retry(token, datetime.now(UTC), "throttled", uncertain=False)
    after = await store.get_entry(token)
    assert after is not None and after.uncertain and not after.in_flight
    applied, _ = await store.request_delete(token, "", datetime.now(UTC))
    assert applied is ChangeApplied.OWED


async def test_a_final_failure_that_may_have_landed_keeps_the_delete_owed_and_is_not_cancelled(
    store: SqlStore,
) -> None:
    stored = await pinned(store)
    token = stored.entry.client_token
    assert await store.renew_lease(token, stored.next_attempt_at, LEASE, sending=True)
    await store.request_delete(token, "{}", datetime.now(UTC))
    assert await store.mark_failed(token, "gave up", uncertain=True)
    after = await store.get_entry(token)
    assert after is not None and after.state is EntryState.FAILED and after.uncertain
    assert after.change is not None and after.change.kind is ChangeKind.DELETE
