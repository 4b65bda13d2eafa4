"""The store's contract, run on SQLite and on a real PostgreSQL server alike: bindings, write-once
timeline entries, leases and compare-and-set, claims by several workers at once, owed replies, drafts,
retention, persistence, and an event loop that keeps running while the database works."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.domain.timeline import EventType, client_token
from bot.store import SqlStore, StoreUnavailable
from bot.store.schema import iso
from bot.store.sql import DELIVERY_MEMORY, DRAFT_MAX_AGE, REPLICA_MEMORY
from bot.store.urls import engine_url
from bot.usecases.ports import EntryState, Store
from tests.store.conftest import StoreMaker
from tests.store.support import ARN, EVENT_TIME, LEASE, OTHER_ARN, Clock, binding, entry, owed, raw


def test_the_store_implements_the_port() -> None:
    store: Store = SqlStore("sqlite://")  # mypy checks the whole Protocol here
    assert isinstance(store, SqlStore)


# Bindings


async def test_ping(store: SqlStore) -> None:
    await store.ping()


async def test_binding_put_and_get(store: SqlStore) -> None:
    assert await store.get_binding("T1", "C1") is None
    assert await store.put_binding(binding()) is None
    got = await store.get_binding("T1", "C1")
    assert got == binding()
    assert got is not None and got.bound_at.utcoffset() == timedelta(0)


async def test_bindings_are_keyed_by_team_and_channel(store: SqlStore) -> None:
    await store.put_binding(binding("T1", "C1", title="one"))
    await store.put_binding(binding("T2", "C1", title="same channel id, other team"))
    await store.put_binding(binding("T1", "C2", title="other channel"))
    assert (await store.get_binding("T1", "C1")) == binding("T1", "C1", title="one")
    assert (await store.get_binding("T2", "C1")) == binding("T2", "C1", title="same channel id, other team")
    assert (await store.get_binding("T1", "C2")) == binding("T1", "C2", title="other channel")
    assert await store.get_binding("T2", "C2") is None


async def test_put_replaces_and_returns_the_previous_binding(store: SqlStore) -> None:
    first = binding(arn=ARN, title="first")
    second = binding(arn=OTHER_ARN, title="second")
    assert await store.put_binding(first) is None
    assert await store.put_binding(second) == first
    assert await store.get_binding("T1", "C1") == second
    assert await store.put_binding(second) == second


async def test_delete_returns_what_it_removed(store: SqlStore) -> None:
    await store.put_binding(binding())
    await store.put_binding(binding("T1", "C2"))
    assert await store.delete_binding("T1", "C1") == binding()
    assert await store.get_binding("T1", "C1") is None
    assert await store.delete_binding("T1", "C1") is None
    assert await store.get_binding("T1", "C2") == binding("T1", "C2")


async def test_two_replicas_binding_one_channel_at_once_each_see_the_other(open_store: StoreMaker) -> None:
    first, second = await open_store(), await open_store()
    for i in range(10):
        mine, theirs = binding(channel=f"C{i}", title="mine"), binding(channel=f"C{i}", title="theirs")
        replaced = await asyncio.gather(first.put_binding(mine), second.put_binding(theirs))
        # One of them bound a new channel; the other replaced exactly that binding.
        assert sorted(replaced, key=lambda b: b is not None) in ([None, mine], [None, theirs])
        last = theirs if replaced[1] is not None else mine
        assert await first.get_binding("T1", f"C{i}") == last


async def test_everything_persists_across_close_and_reopen(open_store: StoreMaker) -> None:
    token = client_token("slash", "T1", "trigger-1")
    first = await open_store()
    await first.put_binding(binding(title="kept"))
    await first.save_entry_once(entry(token, "kept text"), "", LEASE)
    await first.mark_sent(token, "event-1")
    await first.close()

    again = await open_store()
    assert await again.get_binding("T1", "C1") == binding(title="kept")
    stored = await again.save_entry_once(entry(token, "other text"), "", LEASE)
    assert (stored.entry, stored.state, stored.event_id) == (
        entry(token, "kept text"),
        EntryState.SENT,
        "event-1",
    )


async def test_close_is_safe_when_never_opened_and_twice(open_store: StoreMaker) -> None:
    store = await open_store()
    await store.close()
    await store.close()


# Timeline entries


async def test_save_entry_once_returns_the_first_entry_unchanged(store: SqlStore) -> None:
    token = client_token("slash", "T1", "trigger-1")
    first = entry(token, "first text")
    saved = await store.save_entry_once(first, "", LEASE)
    assert (saved.entry, saved.state, saved.event_id, saved.attempts) == (first, EntryState.PENDING, None, 0)

    repeat = entry(
        token,
        "different text",
        arn=OTHER_ARN,
        event_type=EventType.CUSTOM_EVENT,
        at=EVENT_TIME + timedelta(minutes=5, microseconds=1),
    )
    again = await store.save_entry_once(repeat, "", LEASE)
    assert again.entry == first
    assert again.entry.text == "first text"
    assert again.entry.event_time == EVENT_TIME
    assert again.entry.event_time.microsecond == 123_456
    assert again.entry.event_time.utcoffset() == timedelta(0)
    assert again.state is EntryState.PENDING
    assert again.event_id is None


@pytest.mark.parametrize(
    "at",
    [
        datetime(2024, 4, 5, 12, 34, 56, tzinfo=UTC),  # no fraction: isoformat leaves it out
        datetime(2024, 4, 5, 12, 34, 56, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
async def test_event_time_round_trips_to_the_microsecond(store: SqlStore, at: datetime) -> None:
    stored = await store.save_entry_once(entry(client_token("t", str(at)), at=at), "", LEASE)
    assert stored.entry.event_time == at
    assert stored.entry.event_time.microsecond == at.microsecond
    assert stored.entry.event_time.utcoffset() == timedelta(0)


async def test_mark_sent_records_the_event_id(store: SqlStore) -> None:
    token = client_token("a")
    await store.save_entry_once(entry(token), "", LEASE)
    await store.mark_sent(token, "event-42")
    stored = await store.save_entry_once(entry(token), "", LEASE)
    assert (stored.entry, stored.state, stored.event_id) == (entry(token), EntryState.SENT, "event-42")


async def test_a_failed_entry_asked_for_again_is_pending_again_for_the_new_caller(store: SqlStore) -> None:
    token = client_token("b")
    await store.save_entry_once(entry(token), '{"user_id":"U1"}', LEASE)
    await store.schedule_retry(token, LEASE, "ThrottlingException", True)
    await store.mark_failed(token, "AccessDeniedException")
    failed = await store.get_entry(token)
    assert failed is not None and failed.state is EntryState.FAILED
    # Another pin of the same message once access is granted: it goes out again, and U2 hears about it.
    later = LEASE + timedelta(minutes=1)
    again = await store.save_entry_once(entry(token, "ignored"), '{"user_id":"U2"}', later)
    # Its earlier attempt may have reached AWS (uncertain): still so, so no edit is folded into it.
    assert (again.state, again.attempts, again.uncertain) == (EntryState.PENDING, 0, True)
    assert again.entry == entry(token) and again.notice == '{"user_id":"U2"}'
    assert again.next_attempt_at == later
    await store.mark_sent(token, "event-7")
    stored = await store.get_entry(token)
    assert stored is not None and (stored.state, stored.event_id) == (EntryState.SENT, "event-7")


async def test_a_lease_is_renewed_only_by_whoever_holds_it(store: SqlStore) -> None:
    token = client_token("lease")
    saved = await store.save_entry_once(entry(token), "", LEASE)
    assert saved.next_attempt_at == LEASE
    later = LEASE + timedelta(minutes=1)
    assert await store.renew_lease(token, saved.next_attempt_at, later)
    # The stale holder (it still thinks the lease ends at LEASE) has lost it.
    assert not await store.renew_lease(token, saved.next_attempt_at, later + timedelta(minutes=1))
    await store.mark_sent(token, "event-1")
    assert not await store.renew_lease(token, None, later)


async def test_a_heartbeat_keeps_a_short_lease_and_a_claim_ends_it(store: SqlStore) -> None:
    """What a heartbeat needs: renew_lease, again and again, with what it holds now."""
    now = datetime.now(UTC)
    token = client_token("beat")
    held = now + timedelta(seconds=5)
    assert (await store.save_entry_once(entry(token), "", held)).next_attempt_at == held
    for beat in range(1, 4):
        until = now + timedelta(seconds=5 * (beat + 1))
        assert await store.renew_lease(token, held, until)
        held = until
    # The heartbeat stopped (the replica died): once the lease runs out another worker claims it, and
    # the old holder can no longer renew it.
    (claimed,) = await store.claim_due(held + timedelta(microseconds=1), held + timedelta(seconds=5), 10)
    assert claimed.next_attempt_at == held + timedelta(seconds=5)
    assert not await store.renew_lease(token, held, held + timedelta(seconds=10))
    assert await store.renew_lease(token, claimed.next_attempt_at, held + timedelta(seconds=10))


async def test_only_one_of_two_workers_renewing_one_lease_at_once_wins(open_store: StoreMaker) -> None:
    first, second = await open_store(), await open_store()
    for i in range(10):
        token = client_token("cas", str(i))
        held = (await first.save_entry_once(entry(token), "", LEASE)).next_attempt_at
        won = await asyncio.gather(
            first.renew_lease(token, held, LEASE + timedelta(seconds=1)),
            second.renew_lease(token, held, LEASE + timedelta(seconds=2)),
        )
        assert sorted(won) == [False, True]


async def test_mark_failed_never_overrides_sent(store: SqlStore) -> None:
    token = client_token("c")
    await store.save_entry_once(entry(token), "", LEASE)
    await store.mark_sent(token, "event-1")
    await store.mark_failed(token, "late timeout from a duplicate delivery")
    await store.schedule_retry(token, LEASE, "a late throttle from a duplicate attempt", False)
    stored = await store.save_entry_once(entry(token), "", LEASE)
    assert (stored.state, stored.event_id) == (EntryState.SENT, "event-1")


async def test_a_retry_cannot_bring_back_an_entry_that_finally_failed(store: SqlStore) -> None:
    token = client_token("final")
    await store.save_entry_once(entry(token), "", LEASE)
    await store.mark_failed(token, "AccessDeniedException")
    await store.schedule_retry(token, LEASE, "a throttle seen by another worker", False)
    stored = await store.get_entry(token)
    assert stored is not None and stored.state is EntryState.FAILED
    assert await store.pending_count() == 0


async def test_marks_on_unknown_tokens_change_nothing(store: SqlStore, database_url: str) -> None:
    await store.mark_sent("slack-unknown", "event-1")
    await store.mark_failed("slack-unknown", "nope")
    await store.forget_reply("slack-unknown")
    await store.reschedule_reply("slack-unknown", LEASE)
    assert await store.add_awaiting("slack-unknown", "{}") is False
    await store.schedule_retry("slack-unknown", LEASE, "nope", True)
    assert not await store.renew_lease("slack-unknown", LEASE, LEASE)
    assert await store.get_entry("slack-unknown") is None
    assert await raw(database_url, "SELECT client_token FROM timeline_entries") == []


async def test_two_stores_on_one_database_write_each_token_once(
    open_store: StoreMaker, database_url: str
) -> None:
    # Two processes' worth: separate engines and connections, both starting cold on the same database.
    first, second = await open_store(), await open_store()
    tokens = [client_token("race", str(i)) for i in range(20)]
    for token in tokens:
        mine = entry(token, "from the first process")
        theirs = entry(token, "from the second process", at=EVENT_TIME + timedelta(seconds=1))
        a, b = await asyncio.gather(
            first.save_entry_once(mine, "", LEASE), second.save_entry_once(theirs, "", LEASE)
        )
        assert a == b
        assert a.entry in (mine, theirs)
        assert a.state is EntryState.PENDING
    stored = await raw(database_url, "SELECT client_token FROM timeline_entries")
    assert sorted(token for (token,) in stored) == sorted(tokens)


async def test_store_work_never_blocks_the_event_loop(store: SqlStore) -> None:
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    stalled = 0
    try:
        for i in range(200):
            before = ticks
            if i % 2:
                await store.put_binding(binding(channel=f"C{i}"))
            else:
                await store.save_entry_once(entry(client_token("loop", str(i))), "", LEASE)
            # Had the write run on the loop's thread, the ticker could not have run during it.
            stalled += ticks == before
    finally:
        stop.set()
        await task
    assert stalled == 0
    assert ticks >= 200


# The outbox: due entries, leases, retries, claims


async def test_an_entry_held_by_its_sender_is_not_due_until_the_lease_ends(store: SqlStore) -> None:
    now = datetime.now(UTC)
    token = client_token("held")
    await store.save_entry_once(entry(token), '{"kind":"reply"}', now + timedelta(seconds=30))
    assert await store.claim_due(now, now + timedelta(minutes=1), 10) == []
    (claimed,) = await store.claim_due(now + timedelta(seconds=31), now + timedelta(minutes=2), 10)
    assert claimed.entry == entry(token) and claimed.notice == '{"kind":"reply"}'
    # Claimed means held again: a second sweeper (another process) gets nothing until that lease ends.
    assert await store.claim_due(now + timedelta(seconds=90), now + timedelta(minutes=3), 10) == []
    assert len(await store.claim_due(now + timedelta(minutes=2, seconds=1), now, 10)) == 1


async def test_schedule_retry_counts_attempts_and_keeps_uncertainty(store: SqlStore) -> None:
    now = datetime.now(UTC)
    token = client_token("retry")
    await store.save_entry_once(entry(token), "", now)
    await store.schedule_retry(token, now + timedelta(seconds=5), "ReadTimeoutError: timed out", True)
    await store.schedule_retry(token, now + timedelta(seconds=9), "ThrottlingException: Rate exceeded", False)
    assert await store.claim_due(now + timedelta(seconds=8), now + timedelta(minutes=1), 10) == []
    (claimed,) = await store.claim_due(now + timedelta(seconds=10), now + timedelta(minutes=1), 10)
    assert claimed.attempts == 2
    assert claimed.uncertain is True  # a later definite refusal says nothing about the timed-out attempt
    assert claimed.last_error == "ThrottlingException: Rate exceeded"
    assert claimed.created_at is not None and abs(claimed.created_at - now) < timedelta(seconds=5)


async def test_sent_and_failed_entries_are_never_due_and_not_counted(store: SqlStore) -> None:
    now = datetime.now(UTC)
    sent, failed, pending = client_token("s"), client_token("f"), client_token("p")
    for token in (sent, failed, pending):
        await store.save_entry_once(entry(token), "", now)
    await store.mark_sent(sent, "event-1")
    await store.mark_failed(failed, "AccessDeniedException")
    # A late retry schedule (a slow duplicate attempt) cannot bring a sent entry back.
    await store.schedule_retry(sent, now, "ThrottlingException", False)
    assert await store.pending_count() == 1
    claimed = await store.claim_due(now + timedelta(seconds=1), now + timedelta(minutes=1), 10)
    assert [c.entry.client_token for c in claimed] == [pending]


async def test_claim_due_takes_the_oldest_first_up_to_the_limit(store: SqlStore) -> None:
    now = datetime.now(UTC)
    tokens = [client_token("order", str(i)) for i in range(5)]
    for i, token in enumerate(reversed(tokens)):
        await store.save_entry_once(entry(token), "", now - timedelta(seconds=i))
    claimed = await store.claim_due(now, now + timedelta(minutes=1), 3)
    assert [c.entry.client_token for c in claimed] == tokens[:3]


async def test_claim_due_leaves_the_callers_own_attempts_alone(store: SqlStore) -> None:
    now = datetime.now(UTC)
    tokens = [client_token("skip", str(i)) for i in range(4)]
    for i, token in enumerate(tokens):
        await store.save_entry_once(entry(token), "", now - timedelta(seconds=10 - i))
    claimed = await store.claim_due(now, now + timedelta(minutes=1), 2, skip=tokens[:2])
    assert [c.entry.client_token for c in claimed] == tokens[2:]
    # The skipped ones are as they were: still due, with their old hold.
    left = await store.claim_due(now, now + timedelta(minutes=1), 10)
    assert [c.entry.client_token for c in left] == tokens[:2]


async def test_two_stores_never_claim_the_same_entry(open_store: StoreMaker) -> None:
    first, second = await open_store(), await open_store()
    now = datetime.now(UTC)
    for i in range(40):
        await first.save_entry_once(entry(client_token("shared", str(i))), "", now)
    later = now + timedelta(seconds=1)
    a, b = await asyncio.gather(
        first.claim_due(later, later + timedelta(minutes=1), 25),
        second.claim_due(later, later + timedelta(minutes=1), 25),
    )
    tokens_a = {c.entry.client_token for c in a}
    tokens_b = {c.entry.client_token for c in b}
    assert not tokens_a & tokens_b
    assert len(tokens_a | tokens_b) == 40


async def test_four_workers_sweeping_together_claim_every_entry_exactly_once(open_store: StoreMaker) -> None:
    workers = [await open_store() for _ in range(4)]
    now = datetime.now(UTC)
    tokens = {client_token("sweep", str(i)) for i in range(60)}
    for token in tokens:
        await workers[0].save_entry_once(entry(token), "", now)
    claimed: list[str] = []

    async def sweep(worker: SqlStore) -> None:
        while batch := await worker.claim_due(now + timedelta(seconds=1), now + timedelta(hours=1), 4):
            claimed.extend(c.entry.client_token for c in batch)
            await asyncio.sleep(0)

    await asyncio.gather(*(sweep(worker) for worker in workers))
    assert sorted(claimed) == sorted(tokens)


async def test_owed_replies_are_claimed_by_one_worker_each(open_store: StoreMaker) -> None:
    first, second = await open_store(), await open_store()
    now = datetime.now(UTC)
    tokens = [client_token("owed-race", str(i)) for i in range(30)]
    for token in tokens:
        await first.save_entry_once(entry(token), "{}", now)
        await first.mark_sent(token, f"event-{token}", [owed(token, "Now on the timeline", True, now)])
    later = now + timedelta(seconds=1)
    a, b = await asyncio.gather(
        first.claim_owed_replies(later, later + timedelta(minutes=1), 20),
        second.claim_owed_replies(later, later + timedelta(minutes=1), 20),
    )
    tokens_a = {c.client_token for c in a}
    tokens_b = {c.client_token for c in b}
    assert not tokens_a & tokens_b
    assert tokens_a | tokens_b == set(tokens)


async def test_an_owed_reply_is_due_once_its_tellers_hold_runs_out_and_gone_once_told(
    store: SqlStore,
) -> None:
    now = datetime.now(UTC)
    sent, failed, quiet = client_token("owed-s"), client_token("owed-f"), client_token("quiet")
    for token in (sent, failed, quiet):
        await store.save_entry_once(entry(token), "{}", now)
    hold = now + timedelta(seconds=30)
    assert await store.mark_sent(sent, "event-1", [owed(sent, "Now on the timeline", True, hold)])
    assert await store.mark_failed(
        failed, "AccessDeniedException", [owed(failed, "Nothing was added", False, hold)]
    )
    await store.mark_sent(quiet, "event-2")  # its person heard at once: nothing owed
    assert await store.claim_owed_replies(now + timedelta(seconds=10), now, 10) == []
    claimed = await store.claim_owed_replies(now + timedelta(seconds=31), now + timedelta(minutes=5), 10)
    assert {(c.client_token, c.landed, c.reply) for c in claimed} == {
        (sent, True, "Now on the timeline"),
        (failed, False, "Nothing was added"),
    }
    assert await store.claim_owed_replies(now + timedelta(minutes=1), now, 10) == []  # held by the claim
    for told in claimed:
        await store.forget_reply(told.id)
    assert await store.claim_owed_replies(now + timedelta(days=1), now, 10) == []
    assert await store.claim_due(now + timedelta(days=1), now, 10) == []  # settled entries are never resent


async def test_an_owed_reply_hold_is_renewed_only_by_its_teller_and_keeps_it_from_other_claims(
    open_store: StoreMaker,
) -> None:
    """What the heartbeat of a teller needs: a compare-and-set renewal, again and again."""
    first, second = await open_store(), await open_store()
    now = datetime.now(UTC)
    token = client_token("owed-held")
    await first.save_entry_once(entry(token), "{}", now)
    assert await first.mark_sent(token, "event-1", [owed(token, "Now on the timeline", True, now)])
    (claimed,) = await first.claim_owed_replies(now, now + timedelta(seconds=3), 10)
    held = claimed.due_at
    for beat in range(1, 6):
        until = now + timedelta(seconds=3 + beat)
        assert await first.renew_reply_lease(claimed.id, held, until)
        held = until
        assert (
            await second.claim_owed_replies(now + timedelta(seconds=beat), now + timedelta(minutes=1), 10)
            == []
        )
    assert not await second.renew_reply_lease(claimed.id, now, now + timedelta(minutes=1))  # not theirs
    # Its hold ran out and another teller took it: the first one's renewal now fails.
    (taken,) = await second.claim_owed_replies(held, held + timedelta(seconds=3), 10)
    assert not await first.renew_reply_lease(claimed.id, held, held + timedelta(seconds=3))
    await second.forget_reply(taken.id)
    assert not await second.renew_reply_lease(taken.id, taken.due_at, held + timedelta(seconds=6))  # gone


# Owed replies and the people awaiting an entry


async def test_people_await_only_a_pending_entry_and_each_is_recorded_once(store: SqlStore) -> None:
    token = client_token("awaited")
    assert await store.add_awaiting(token, '{"user_id":"U2"}') is False  # not recorded at all
    await store.save_entry_once(entry(token), "{}", LEASE)
    assert await store.add_awaiting(token, '{"user_id":"U2"}')
    assert await store.add_awaiting(token, '{"user_id":"U2"}')  # the same request twice
    assert await store.add_awaiting(token, '{"user_id":"U3"}')
    assert [a.notice for a in await store.awaiting(token)] == ['{"user_id":"U2"}', '{"user_id":"U3"}']
    await store.mark_sent(token, "event-1", [], [a.id for a in await store.awaiting(token)])
    assert await store.add_awaiting(token, '{"user_id":"U4"}') is False  # settled: answer from its outcome
    assert await store.awaiting(token) == []


async def test_settling_is_refused_while_someone_awaits_it_without_a_reply(store: SqlStore) -> None:
    token = client_token("awaited-late")
    await store.save_entry_once(entry(token), "{}", LEASE)
    assert await store.add_awaiting(token, "U2")
    (u2,) = await store.awaiting(token)
    assert await store.add_awaiting(token, "U3")  # began awaiting after the caller read who awaits
    written = [owed(token, "landed", True, LEASE, "U1"), owed(token, "landed", True, LEASE, "U2")]
    assert await store.mark_sent(token, "event-1", written, [u2.id]) is False
    refused = await store.get_entry(token)
    assert refused is not None and refused.state is EntryState.PENDING  # nothing recorded
    assert await store.owed_replies(token) == []
    everyone = await store.awaiting(token)
    written.append(owed(token, "landed", True, LEASE, "U3"))
    assert await store.mark_sent(token, "event-1", written, [a.id for a in everyone])
    settled = await store.get_entry(token)
    assert settled is not None and settled.state is EntryState.SENT
    assert sorted(o.notice for o in await store.owed_replies(token)) == ["U1", "U2", "U3"]
    assert await store.awaiting(token) == []


async def test_someone_awaiting_while_another_replica_settles_is_never_left_untold(
    open_store: StoreMaker,
) -> None:
    """add_awaiting and mark_sent at once, from two replicas: either the person is recorded before the
    entry settles (and the settle, not knowing them, is refused), or they are told it is settled."""
    settler, pinner = await open_store(), await open_store()
    for i in range(15):
        token = client_token("race-await", str(i))
        await settler.save_entry_once(entry(token), "{}", LEASE)
        added, settled = await asyncio.gather(
            pinner.add_awaiting(token, "U2"),
            settler.mark_sent(token, "event-1", [owed(token, "landed", True, LEASE, "U1")], []),
        )
        stored = await settler.get_entry(token)
        assert stored is not None
        if settled:
            assert stored.state is EntryState.SENT and added is False
            assert await settler.awaiting(token) == []
        else:
            assert added and stored.state is EntryState.PENDING
            assert [a.notice for a in await settler.awaiting(token)] == ["U2"]


async def test_a_failure_over_a_sent_entry_owes_nothing(store: SqlStore) -> None:
    token = client_token("sent-first")
    await store.save_entry_once(entry(token), "{}", LEASE)
    await store.mark_sent(token, "event-1")
    assert await store.mark_failed(token, "late timeout", [owed(token, "failed", False, LEASE)])
    assert await store.owed_replies(token) == []


async def test_asking_again_for_a_failed_entry_keeps_the_reply_owed_to_the_first_person(
    store: SqlStore,
) -> None:
    token = client_token("failed-then-asked-again")
    await store.save_entry_once(entry(token), '{"user_id":"U1"}', LEASE)
    await store.mark_failed(
        token, "AccessDeniedException", [owed(token, "failed", False, LEASE, '{"user_id":"U1"}')]
    )
    revived = await store.save_entry_once(entry(token), '{"user_id":"U2"}', LEASE)
    assert (revived.state, revived.notice) == (EntryState.PENDING, '{"user_id":"U2"}')
    assert [(o.notice, o.reply) for o in await store.owed_replies(token)] == [('{"user_id":"U1"}', "failed")]


async def test_owed_replies_are_claimed_when_due_up_to_the_limit_and_rescheduled(store: SqlStore) -> None:
    now = datetime.now(UTC)
    token = client_token("many-owed")
    await store.save_entry_once(entry(token), "{}", now)
    written = [owed(token, f"r{i}", True, now - timedelta(seconds=10 - i)) for i in range(4)]
    await store.mark_sent(token, "event-1", written)
    claimed = await store.claim_owed_replies(now, now + timedelta(minutes=1), 2, skip=[written[0].id])
    assert [c.reply for c in claimed] == ["r1", "r2"]  # oldest first, the caller's own teller left alone
    assert all(c.due_at == now + timedelta(minutes=1) for c in claimed)
    await store.reschedule_reply(claimed[0].id, now - timedelta(seconds=1))
    again = await store.claim_owed_replies(now, now + timedelta(minutes=1), 10)
    assert [(c.reply, c.attempts) for c in again] == [("r0", 0), ("r3", 0), ("r1", 1)]
    for reply in again + claimed:
        await store.forget_reply(reply.id)
    assert await store.owed_replies(token) == []


async def test_owe_replies_keeps_them_once(store: SqlStore) -> None:
    now = datetime.now(UTC)
    token = client_token("owed-later")
    await store.save_entry_once(entry(token), "{}", now)
    await store.mark_sent(token, "event-1")
    reply = owed(token, "Now on the timeline", True, now)
    await store.owe_replies([reply])
    await store.owe_replies([reply])  # the same reply again: kept once
    (kept,) = await store.owed_replies(token)
    assert (kept.id, kept.reply, kept.landed, kept.due_at) == (reply.id, reply.reply, True, now)


async def test_on_postgresql_a_claim_skips_rows_another_worker_has_locked(postgres_url: str) -> None:
    """FOR UPDATE SKIP LOCKED: a sweep neither waits for nor takes a row another replica is claiming.
    (SQLite has no row locks: its BEGIN IMMEDIATE serializes whole claims instead.)"""
    store = SqlStore(postgres_url)
    database_url = postgres_url
    now = datetime.now(UTC)
    locked, free = client_token("locked"), client_token("free")
    for token in (locked, free):
        await store.save_entry_once(entry(token), "", now)
    other = create_async_engine(engine_url(database_url), poolclass=NullPool)
    try:
        async with other.begin() as connection:
            await connection.execute(
                text("SELECT client_token FROM timeline_entries WHERE client_token = :t FOR UPDATE"),
                {"t": locked},
            )
            # Without SKIP LOCKED this claim would wait for the other transaction, which waits for it.
            claimed = await asyncio.wait_for(
                store.claim_due(now + timedelta(seconds=1), now + timedelta(minutes=1), 10), timeout=10
            )
            assert [c.entry.client_token for c in claimed] == [free]
        (later,) = await store.claim_due(now + timedelta(seconds=1), now + timedelta(minutes=1), 10)
        assert later.entry.client_token == locked
    finally:
        await other.dispose()
        await store.close()


# Drafts


async def test_draft_texts_are_kept_per_shown_text(store: SqlStore) -> None:
    await store.save_draft_texts("d1", {"k1": "whole one"})
    await store.save_draft_texts("d1", {"k2": "whole two"})
    await store.save_draft_texts("d1", {"k2": "whole two, again"})
    assert await store.draft_text("d1", "k1") == "whole one"
    assert await store.draft_text("d1", "k2") == "whole two, again"
    assert await store.draft_text("d1", "k3") is None
    assert await store.draft_text("d2", "k1") is None


async def test_old_drafts_are_pruned_when_new_ones_are_saved(open_store: StoreMaker) -> None:
    clock = Clock(datetime.now(UTC))
    store = await open_store(clock=clock)
    await store.save_draft_texts("old", {"k": "text"})
    clock.now += DRAFT_MAX_AGE + timedelta(minutes=1)
    await store.save_draft_texts("new", {"k": "text"})
    assert await store.draft_text("old", "k") is None
    assert await store.draft_text("new", "k") == "text"


# Retention


async def test_prune_deletes_settled_entries_past_the_retention_and_keeps_the_rest(
    open_store: StoreMaker,
) -> None:
    now = datetime.now(UTC)
    clock = Clock(now - timedelta(days=31))
    store = await open_store(clock=clock)
    old_sent, old_failed, old_owed, old_pending = (client_token("old", n) for n in "sfop")
    for token in (old_sent, old_failed, old_owed, old_pending):
        await store.save_entry_once(entry(token), '{"response_url":"https://hooks.slack.com/x"}', now)
    await store.mark_sent(old_sent, "event-1")
    await store.mark_failed(old_failed, "AccessDeniedException")
    long_owed = replace(owed(old_owed, "Now on the timeline", True, now), owed_since=now - timedelta(days=31))
    await store.mark_sent(old_owed, "event-2", [long_owed])
    clock.now = now - timedelta(days=29)
    recent = client_token("recent")
    await store.save_entry_once(entry(recent), "{}", now)
    await store.mark_sent(recent, "event-3", [owed(recent, "Now on the timeline", True, now)])

    assert await store.prune(now) == 3
    for token in (old_sent, old_failed, old_owed):
        assert await store.get_entry(token) is None  # with its notice and response_url
    kept = {t: await store.get_entry(t) for t in (old_pending, recent)}
    assert {t: s.state for t, s in kept.items() if s} == {
        old_pending: EntryState.PENDING,
        recent: EntryState.SENT,
    }
    assert await store.owed_replies(old_owed) == []  # a reply owed that long goes too (it holds a notice)
    assert len(await store.owed_replies(recent)) == 1
    assert await store.prune(now) == 0


async def test_the_retention_is_the_stores_setting(open_store: StoreMaker) -> None:
    now = datetime.now(UTC)
    clock = Clock(now - timedelta(days=3))
    store = await open_store(entry_retention=timedelta(days=2), clock=clock)
    await store.save_entry_once(entry(client_token("3d")), "", now)
    await store.mark_sent(client_token("3d"), "event-1")
    clock.now = now - timedelta(days=1)
    await store.save_entry_once(entry(client_token("1d")), "", now)
    await store.mark_sent(client_token("1d"), "event-2")
    assert await store.prune(now) == 1
    assert await store.get_entry(client_token("3d")) is None
    assert await store.get_entry(client_token("1d")) is not None


async def test_prune_deletes_in_batches_until_none_is_left(
    open_store: StoreMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.sql.PRUNE_BATCH", 3)
    now = datetime.now(UTC)
    store = await open_store(clock=Clock(now - timedelta(days=40)))
    for i in range(7):
        await store.save_entry_once(entry(client_token("batch", str(i))), "", now)
        await store.mark_sent(client_token("batch", str(i)), f"event-{i}")
    assert await store.prune(now) == 7
    assert await store.pending_count() == 0


async def test_prune_deletes_drafts_older_than_a_day(open_store: StoreMaker) -> None:
    now = datetime.now(UTC)
    clock = Clock(now - DRAFT_MAX_AGE - timedelta(minutes=1))
    store = await open_store(clock=clock)
    await store.save_draft_texts("old", {"k": "a copy of a Slack message"})
    clock.now = now - timedelta(hours=1)
    await store.save_draft_texts("young", {"k": "text"})
    await store.prune(now)
    assert await store.draft_text("old", "k") is None
    assert await store.draft_text("young", "k") == "text"


# When the database cannot serve


async def test_ping_raises_store_unavailable_naming_the_database_without_its_password(
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        url, named = "sqlite:////nonexistent-folder/bot.db", "the SQLite database /nonexistent-folder/bot.db"
    else:
        # Nothing listens on port 9 of loopback: refused at once.
        url, named = "postgresql://bot:hunter2-secret@127.0.0.1:9/incidents", "'incidents' on 127.0.0.1:9"
    store = SqlStore(url)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await store.ping()
    finally:
        await store.close()
        # aiosqlite's worker thread for the failed connection answers its own stop a moment later: let it,
        # before this test's event loop closes.
        await asyncio.sleep(0.1)
    message = str(raised.value)
    assert named in message
    assert "hunter2" not in message and "\n" not in message
    assert "sqlalche.me" not in message  # SQLAlchemy's link and statement dump are left out


# Deliveries: what Slack has re-delivered, known by every replica


async def test_a_delivery_is_first_once_and_a_repeat_after(store: SqlStore) -> None:
    now = datetime.now(UTC)
    assert await store.first_delivery("T1:Ev1", now)
    assert not await store.first_delivery("T1:Ev1", now + timedelta(minutes=5))  # Slack's retries
    assert await store.first_delivery("T1:Ev2", now)
    assert await store.first_delivery("T2:Ev1", now)  # keys are the caller's: another workspace's


async def test_of_replicas_seeing_one_delivery_at_once_exactly_one_handles_it(open_store: StoreMaker) -> None:
    replicas = [await open_store() for _ in range(3)]
    now = datetime.now(UTC)
    for i in range(10):
        firsts = await asyncio.gather(*(r.first_delivery(f"T1:Ev{i}", now) for r in replicas))
        assert sorted(firsts) == [False, False, True]


async def test_a_delivery_is_forgotten_after_its_window_and_pruned(
    store: SqlStore, database_url: str
) -> None:
    now = datetime.now(UTC)
    assert await store.first_delivery("T1:old", now - DELIVERY_MEMORY - timedelta(seconds=1))
    assert await store.first_delivery("T1:young", now - timedelta(minutes=1))
    # Not pruned yet, but older than the window: a new delivery with that key is handled again.
    assert await store.first_delivery("T1:old", now)
    assert await store.first_delivery("T1:gone", now - DELIVERY_MEMORY - timedelta(minutes=1))
    await store.prune(now)
    assert sorted(key for (key,) in await raw(database_url, "SELECT delivery_key FROM deliveries")) == [
        "T1:old",
        "T1:young",
    ]


# Replicas: who is serving the database, for the share of the rate limit

LIVE = timedelta(seconds=3.5)


async def last_seen(database_url: str, replica_id: str, at: datetime) -> None:
    """Make a replica's latest heartbeat `at` (as if it had stopped beating then)."""
    seen = iso(at) if database_url.startswith("sqlite") else at
    await raw(
        database_url, "UPDATE replicas SET seen_at = :seen WHERE replica_id = :id", seen=seen, id=replica_id
    )


async def test_each_replica_counts_the_live_ones_itself_included(open_store: StoreMaker) -> None:
    first, second, third = await open_store(), await open_store(), await open_store()
    assert await first.heartbeat_replica("a", LIVE) == 1
    assert await second.heartbeat_replica("b", LIVE) == 2
    assert await first.heartbeat_replica("a", LIVE) == 2  # beating again is not another replica
    assert await third.heartbeat_replica("c", LIVE) == 3
    await third.remove_replica("c")  # stopping: the others take its share at their next beat
    assert await first.heartbeat_replica("a", LIVE) == 2
    assert await second.heartbeat_replica("b", LIVE) == 2


async def test_a_replica_not_seen_lately_stops_counting_and_is_pruned_long_after(
    open_store: StoreMaker, database_url: str
) -> None:
    store, dead = await open_store(), await open_store()
    await dead.heartbeat_replica("dead", LIVE)
    await dead.heartbeat_replica("long-gone", LIVE)
    assert await store.heartbeat_replica("alive", LIVE) == 3
    now = datetime.now(UTC)
    await last_seen(database_url, "dead", now - LIVE - timedelta(seconds=1))  # killed a moment ago
    await last_seen(database_url, "long-gone", now - REPLICA_MEMORY - timedelta(minutes=1))
    assert await store.heartbeat_replica("alive", LIVE) == 1
    await store.prune(now)
    assert sorted(r for (r,) in await raw(database_url, "SELECT replica_id FROM replicas")) == [
        "alive",
        "dead",
    ]
    # A replica that comes back (its heartbeat was only late) counts again.
    assert await dead.heartbeat_replica("dead", LIVE) == 2


async def test_replicas_beating_at_once_all_count_each_other(open_store: StoreMaker) -> None:
    stores = [await open_store() for _ in range(4)]
    await asyncio.gather(*(s.heartbeat_replica(f"r{i}", LIVE) for i, s in enumerate(stores)))
    counts = await asyncio.gather(*(s.heartbeat_replica(f"r{i}", LIVE) for i, s in enumerate(stores)))
    assert counts == [4, 4, 4, 4]


async def test_a_replica_restarted_takes_back_at_once_what_its_previous_run_held(
    open_store: StoreMaker,
) -> None:
    killed, other = await open_store(), await open_store()
    killed.holder = "host-a:3000"
    now = datetime.now(UTC)
    held = now + timedelta(seconds=3)
    sending, waiting, backing_off = (client_token("held", name) for name in ("sending", "waiting", "backoff"))
    for token in (sending, waiting, backing_off):
        await killed.save_entry_once(entry(token), "{}", held)
    await killed.schedule_retry(backing_off, now + timedelta(seconds=30), "ThrottlingException", False)
    others = client_token("held", "by another replica")
    await other.save_entry_once(entry(others), "{}", held)
    told = client_token("held", "told")
    await killed.save_entry_once(entry(told), "{}", held)
    assert await killed.mark_sent(told, "event-1", [owed(told, "Now on the timeline", True, held)])

    restarted = await open_store()
    restarted.holder = "host-a:3000"  # the same host and port: the killed run's successor
    assert await restarted.release_holds(restarted.holder, now) == 2
    claimed = await restarted.claim_due(now, now + timedelta(seconds=3), 10)
    assert {c.entry.client_token for c in claimed} == {sending, waiting}  # not its backoff, not others'
    (reply,) = await restarted.claim_owed_replies(now, now + timedelta(seconds=3), 10)
    assert reply.client_token == told
    # Another name takes nothing back, and the holds just taken are the restarted replica's.
    assert await restarted.release_holds("host-b:3000", now) == 0
    assert await restarted.claim_due(now + timedelta(seconds=1), now + timedelta(seconds=3), 10) == []
