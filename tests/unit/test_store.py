"""SqliteStore on real files: bindings, write-once timeline entries, persistence, two writers on one file,
and an event loop that keeps running while the disk works."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.binding import Binding
from bot.domain.timeline import EventType, TimelineEntry, client_token, encode_event_data
from bot.store.factory import UnsupportedDatabaseUrl, open_store, sqlite_path
from bot.store.sqlite import SqliteStore
from bot.usecases.ports import EntryState, OwedReply

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
OTHER_ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/def"
BOUND_AT = datetime(2024, 4, 5, 12, 0, 1, 250_000, tzinfo=UTC)
EVENT_TIME = datetime(2024, 4, 5, 12, 34, 56, 123_456, tzinfo=UTC)
# Held by whoever saves it, well past any test's end.
LEASE = datetime.now(UTC) + timedelta(hours=1)


def binding(team: str = "T1", channel: str = "C1", arn: str = ARN, title: str = "DB down") -> Binding:
    return Binding(team, channel, arn, title, "U0001", BOUND_AT)


def entry(
    token: str,
    text: str = "first",
    *,
    arn: str = ARN,
    event_type: EventType = EventType.NOTE,
    at: datetime = EVENT_TIME,
) -> TimelineEntry:
    return TimelineEntry(token, arn, event_type, at, encode_event_data(text))


def owed(token: str, reply: str, landed: bool, due_at: datetime, notice: str = "{}") -> OwedReply:
    return OwedReply(
        id=f"{token}:{notice}:{reply}",
        client_token=token,
        notice=notice,
        reply=reply,
        landed=landed,
        due_at=due_at,
        owed_since=datetime.now(UTC),
    )


def rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT client_token, state FROM timeline_entries").fetchall()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(str(db_path))
    await opened.ping()
    yield opened
    await opened.close()


# sqlite_path / open_store


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///rel.db", "rel.db"),
        ("sqlite:///data/rel.db", "data/rel.db"),
        ("sqlite:////abs/x.db", "/abs/x.db"),
        ("sqlite://", ":memory:"),
        ("sqlite:///", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite+pysqlite:///rel.db", "rel.db"),
        ("sqlite:///rel.db?timeout=5", "rel.db"),
    ],
)
def test_sqlite_path(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://app:pw@db/incidents", "DATABASE_URL must be a sqlite URL"),
        ("mysql+pymysql://db/incidents", "DATABASE_URL must be a sqlite URL"),
        ("sqlite:rel.db", "DATABASE_URL must be a sqlite URL"),
        ("rel.db", "DATABASE_URL must be a sqlite URL"),
        ("", "DATABASE_URL must be a sqlite URL"),
        ("sqlite://host/x.db", "DATABASE_URL must look like sqlite:///relative.db or sqlite:////absolute.db"),
    ],
)
def test_sqlite_path_rejections(url: str, problem: str) -> None:
    with pytest.raises(UnsupportedDatabaseUrl, match="^" + problem) as raised:
        sqlite_path(url)
    assert isinstance(raised.value, ValueError)
    assert "pw" not in str(raised.value)


async def test_open_store_in_memory_serves() -> None:
    store = open_store("sqlite://")
    assert isinstance(store, SqliteStore)
    try:
        await store.ping()
        assert await store.put_binding(binding()) is None
        assert await store.get_binding("T1", "C1") == binding()
    finally:
        await store.close()


async def test_open_store_uses_the_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'via-url.db'}")
    try:
        await store.ping()
    finally:
        await store.close()
    assert (tmp_path / "via-url.db").exists()


# Bindings


async def test_ping(store: SqliteStore) -> None:
    await store.ping()


async def test_binding_put_and_get(store: SqliteStore) -> None:
    assert await store.get_binding("T1", "C1") is None
    assert await store.put_binding(binding()) is None
    got = await store.get_binding("T1", "C1")
    assert got == binding()
    assert got is not None and got.bound_at.utcoffset() == timedelta(0)


async def test_bindings_are_keyed_by_team_and_channel(store: SqliteStore) -> None:
    await store.put_binding(binding("T1", "C1", title="one"))
    await store.put_binding(binding("T2", "C1", title="same channel id, other team"))
    await store.put_binding(binding("T1", "C2", title="other channel"))
    assert (await store.get_binding("T1", "C1")) == binding("T1", "C1", title="one")
    assert (await store.get_binding("T2", "C1")) == binding("T2", "C1", title="same channel id, other team")
    assert (await store.get_binding("T1", "C2")) == binding("T1", "C2", title="other channel")
    assert await store.get_binding("T2", "C2") is None


async def test_put_replaces_and_returns_the_previous_binding(store: SqliteStore) -> None:
    first = binding(arn=ARN, title="first")
    second = binding(arn=OTHER_ARN, title="second")
    assert await store.put_binding(first) is None
    assert await store.put_binding(second) == first
    assert await store.get_binding("T1", "C1") == second
    assert await store.put_binding(second) == second


async def test_delete_returns_what_it_removed(store: SqliteStore) -> None:
    await store.put_binding(binding())
    await store.put_binding(binding("T1", "C2"))
    assert await store.delete_binding("T1", "C1") == binding()
    assert await store.get_binding("T1", "C1") is None
    assert await store.delete_binding("T1", "C1") is None
    assert await store.get_binding("T1", "C2") == binding("T1", "C2")


async def test_everything_persists_across_close_and_reopen(db_path: Path) -> None:
    token = client_token("slash", "T1", "trigger-1")
    first = SqliteStore(str(db_path))
    await first.put_binding(binding(title="kept"))
    await first.save_entry_once(entry(token, "kept text"), "", LEASE)
    await first.mark_sent(token, "event-1")
    await first.close()

    again = SqliteStore(str(db_path))
    try:
        assert await again.get_binding("T1", "C1") == binding(title="kept")
        stored = await again.save_entry_once(entry(token, "other text"), "", LEASE)
        assert (stored.entry, stored.state, stored.event_id) == (
            entry(token, "kept text"),
            EntryState.SENT,
            "event-1",
        )
    finally:
        await again.close()


async def test_close_is_safe_when_never_opened_and_twice(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.close()
    await store.close()


# Timeline entries


async def test_save_entry_once_returns_the_first_entry_unchanged(store: SqliteStore) -> None:
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
async def test_event_time_round_trips_to_the_microsecond(store: SqliteStore, at: datetime) -> None:
    stored = await store.save_entry_once(entry(client_token("t", str(at)), at=at), "", LEASE)
    assert stored.entry.event_time == at
    assert stored.entry.event_time.microsecond == at.microsecond
    assert stored.entry.event_time.utcoffset() == timedelta(0)


async def test_mark_sent_records_the_event_id(store: SqliteStore) -> None:
    token = client_token("a")
    await store.save_entry_once(entry(token), "", LEASE)
    await store.mark_sent(token, "event-42")
    stored = await store.save_entry_once(entry(token), "", LEASE)
    assert (stored.entry, stored.state, stored.event_id) == (entry(token), EntryState.SENT, "event-42")


async def test_a_failed_entry_asked_for_again_is_pending_again_for_the_new_caller(store: SqliteStore) -> None:
    token = client_token("b")
    await store.save_entry_once(entry(token), '{"user_id":"U1"}', LEASE)
    await store.schedule_retry(token, LEASE, "ThrottlingException", True)
    await store.mark_failed(token, "AccessDeniedException")
    failed = await store.get_entry(token)
    assert failed is not None and failed.state is EntryState.FAILED
    # Another pin of the same message once access is granted: it goes out again, and U2 hears about it.
    later = LEASE + timedelta(minutes=1)
    again = await store.save_entry_once(entry(token, "ignored"), '{"user_id":"U2"}', later)
    assert (again.state, again.attempts, again.uncertain) == (EntryState.PENDING, 0, False)
    assert again.entry == entry(token) and again.notice == '{"user_id":"U2"}'
    assert again.next_attempt_at == later
    await store.mark_sent(token, "event-7")
    stored = await store.get_entry(token)
    assert stored is not None and (stored.state, stored.event_id) == (EntryState.SENT, "event-7")


async def test_a_lease_is_renewed_only_by_whoever_holds_it(store: SqliteStore) -> None:
    token = client_token("lease")
    saved = await store.save_entry_once(entry(token), "", LEASE)
    assert saved.next_attempt_at == LEASE
    later = LEASE + timedelta(minutes=1)
    assert await store.renew_lease(token, saved.next_attempt_at, later)
    # The stale holder (it still thinks the lease ends at LEASE) has lost it.
    assert not await store.renew_lease(token, saved.next_attempt_at, later + timedelta(minutes=1))
    await store.mark_sent(token, "event-1")
    assert not await store.renew_lease(token, None, later)


async def test_mark_failed_never_overrides_sent(store: SqliteStore) -> None:
    token = client_token("c")
    await store.save_entry_once(entry(token), "", LEASE)
    await store.mark_sent(token, "event-1")
    await store.mark_failed(token, "late timeout from a duplicate delivery")
    await store.schedule_retry(token, LEASE, "a late throttle from a duplicate attempt", False)
    stored = await store.save_entry_once(entry(token), "", LEASE)
    assert (stored.state, stored.event_id) == (EntryState.SENT, "event-1")


async def test_a_retry_cannot_bring_back_an_entry_that_finally_failed(store: SqliteStore) -> None:
    token = client_token("final")
    await store.save_entry_once(entry(token), "", LEASE)
    await store.mark_failed(token, "AccessDeniedException")
    await store.schedule_retry(token, LEASE, "a throttle seen by another worker", False)
    stored = await store.get_entry(token)
    assert stored is not None and stored.state is EntryState.FAILED
    assert await store.pending_count() == 0


async def test_marks_on_unknown_tokens_change_nothing(store: SqliteStore, db_path: Path) -> None:
    await store.mark_sent("slack-unknown", "event-1")
    await store.mark_failed("slack-unknown", "nope")
    assert rows(db_path) == []


async def test_two_stores_on_one_file_write_each_token_once(db_path: Path) -> None:
    # Two processes' worth: separate connections and threads, both starting cold on the same file.
    first, second = SqliteStore(str(db_path)), SqliteStore(str(db_path))
    tokens = [client_token("race", str(i)) for i in range(20)]
    try:
        for token in tokens:
            mine = entry(token, "from the first process")
            theirs = entry(token, "from the second process", at=EVENT_TIME + timedelta(seconds=1))
            a, b = await asyncio.gather(
                first.save_entry_once(mine, "", LEASE), second.save_entry_once(theirs, "", LEASE)
            )
            assert a == b
            assert a.entry in (mine, theirs)
            assert a.state is EntryState.PENDING
    finally:
        await asyncio.gather(first.close(), second.close())
    stored = rows(db_path)
    assert sorted(token for token, _ in stored) == sorted(tokens)


async def test_store_work_never_blocks_the_event_loop(store: SqliteStore) -> None:
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


# The outbox: due entries, leases, retries


async def test_an_entry_held_by_its_sender_is_not_due_until_the_lease_ends(store: SqliteStore) -> None:
    now = datetime.now(UTC)
    token = client_token("held")
    await store.save_entry_once(entry(token), '{"kind":"reply"}', now + timedelta(seconds=30))
    assert await store.claim_due(now, now + timedelta(minutes=1), 10) == []
    (claimed,) = await store.claim_due(now + timedelta(seconds=31), now + timedelta(minutes=2), 10)
    assert claimed.entry == entry(token) and claimed.notice == '{"kind":"reply"}'
    # Claimed means held again: a second sweeper (another process) gets nothing until that lease ends.
    assert await store.claim_due(now + timedelta(seconds=90), now + timedelta(minutes=3), 10) == []
    assert len(await store.claim_due(now + timedelta(minutes=2, seconds=1), now, 10)) == 1


async def test_schedule_retry_counts_attempts_and_keeps_uncertainty(store: SqliteStore) -> None:
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


async def test_sent_and_failed_entries_are_never_due_and_not_counted(store: SqliteStore) -> None:
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


async def test_claim_due_takes_the_oldest_first_up_to_the_limit(store: SqliteStore) -> None:
    now = datetime.now(UTC)
    tokens = [client_token("order", str(i)) for i in range(5)]
    for i, token in enumerate(reversed(tokens)):
        await store.save_entry_once(entry(token), "", now - timedelta(seconds=i))
    claimed = await store.claim_due(now, now + timedelta(minutes=1), 3)
    assert [c.entry.client_token for c in claimed] == tokens[:3]


async def test_two_stores_never_claim_the_same_entry(db_path: Path) -> None:
    first, second = SqliteStore(str(db_path)), SqliteStore(str(db_path))
    now = datetime.now(UTC)
    try:
        for i in range(40):
            await first.save_entry_once(entry(client_token("shared", str(i))), "", now)
        later = now + timedelta(seconds=1)
        a, b = await asyncio.gather(
            first.claim_due(later, later + timedelta(minutes=1), 25),
            second.claim_due(later, later + timedelta(minutes=1), 25),
        )
    finally:
        await asyncio.gather(first.close(), second.close())
    tokens_a = {c.entry.client_token for c in a}
    tokens_b = {c.entry.client_token for c in b}
    assert not tokens_a & tokens_b
    assert len(tokens_a | tokens_b) == 40


async def test_a_database_from_before_the_outbox_is_upgraded_in_place(db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute(
            "CREATE TABLE timeline_entries (client_token TEXT PRIMARY KEY, incident_arn TEXT NOT NULL, "
            "event_type TEXT NOT NULL, event_time TEXT NOT NULL, event_data TEXT NOT NULL, state TEXT NOT NULL, "
            "event_id TEXT, last_error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        connection.execute(
            "INSERT INTO timeline_entries VALUES ('old-sent', ?, 'Note', ?, '\"x\"', 'sent', 'event-1', NULL, "
            "'2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00')",
            (ARN, EVENT_TIME.isoformat()),
        )
        connection.execute(
            "INSERT INTO timeline_entries VALUES ('old-pending', ?, 'Note', ?, '\"y\"', 'pending', NULL, NULL, "
            "'2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00')",
            (ARN, EVENT_TIME.isoformat()),
        )
    store = SqliteStore(str(db_path))
    try:
        old = await store.save_entry_once(entry("old-sent"), "", LEASE)
        assert (old.state, old.event_id, old.attempts, old.notice) == (EntryState.SENT, "event-1", 0, "")
        # The earlier version told the person about its pending entry; it is closed, not resumed.
        old_pending = await store.get_entry("old-pending")
        assert old_pending is not None and old_pending.state is EntryState.FAILED
        assert await store.pending_count() == 0
        far = datetime.now(UTC) + timedelta(days=1)
        assert await store.claim_due(far, far, 10) == []
        await store.save_entry_once(entry("new"), "{}", datetime.now(UTC))
        assert [c.entry.client_token for c in await store.claim_due(far, far, 10)] == ["new"]
    finally:
        await store.close()


async def test_an_owed_reply_is_due_once_its_tellers_hold_runs_out_and_gone_once_told(
    store: SqliteStore,
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


# Owed replies and the people awaiting an entry


async def test_people_await_only_a_pending_entry_and_each_is_recorded_once(store: SqliteStore) -> None:
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


async def test_settling_is_refused_while_someone_awaits_it_without_a_reply(store: SqliteStore) -> None:
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


async def test_a_failure_over_a_sent_entry_owes_nothing(store: SqliteStore) -> None:
    token = client_token("sent-first")
    await store.save_entry_once(entry(token), "{}", LEASE)
    await store.mark_sent(token, "event-1")
    assert await store.mark_failed(token, "late timeout", [owed(token, "failed", False, LEASE)])
    assert await store.owed_replies(token) == []


async def test_asking_again_for_a_failed_entry_keeps_the_reply_owed_to_the_first_person(
    store: SqliteStore,
) -> None:
    token = client_token("failed-then-asked-again")
    await store.save_entry_once(entry(token), '{"user_id":"U1"}', LEASE)
    await store.mark_failed(
        token, "AccessDeniedException", [owed(token, "failed", False, LEASE, '{"user_id":"U1"}')]
    )
    revived = await store.save_entry_once(entry(token), '{"user_id":"U2"}', LEASE)
    assert (revived.state, revived.notice) == (EntryState.PENDING, '{"user_id":"U2"}')
    assert [(o.notice, o.reply) for o in await store.owed_replies(token)] == [('{"user_id":"U1"}', "failed")]


async def test_owed_replies_are_claimed_when_due_up_to_the_limit_and_rescheduled(store: SqliteStore) -> None:
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


async def test_a_reply_owed_by_the_previous_schema_becomes_an_owed_reply(db_path: Path) -> None:
    # A database written by the previous version: the one owed reply lived on its entry.
    with sqlite3.connect(db_path) as connection:
        connection.execute(
            "CREATE TABLE timeline_entries (client_token TEXT PRIMARY KEY, incident_arn TEXT NOT NULL, "
            "event_type TEXT NOT NULL, event_time TEXT NOT NULL, event_data TEXT NOT NULL, state TEXT NOT NULL, "
            "event_id TEXT, last_error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
            "notice TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0, "
            "uncertain INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, reply_pending TEXT)"
        )
        for token, state, reply, held in (
            ("owed-landed", "sent", "Now on the timeline", "2025-01-01T00:00:05.000000+00:00"),
            ("owed-failed", "failed", "Nothing was added", None),
            ("told", "sent", None, None),
            ("queued", "pending", None, "2025-01-01T00:00:09.000000+00:00"),
        ):
            connection.execute(
                "INSERT INTO timeline_entries VALUES (?, ?, 'Note', ?, '\"x\"', ?, NULL, NULL, "
                "'2025-01-01T00:00:00+00:00', '2025-01-01T00:00:01.000000+00:00', ?, 1, 0, ?, ?)",
                (token, ARN, EVENT_TIME.isoformat(), state, f'{{"user_id":"{token}"}}', held, reply),
            )
    for _ in range(2):  # the step is idempotent: a second start moves nothing twice
        store = SqliteStore(str(db_path))
        try:
            await store.ping()
            now = datetime.now(UTC)
            claimed = await store.claim_owed_replies(now, now, 10)
            # Held by nobody now (its hold ended with the run that wrote it): due at once, both times.
            assert {(c.client_token, c.notice, c.reply, c.landed) for c in claimed} == {
                ("owed-landed", '{"user_id":"owed-landed"}', "Now on the timeline", True),
                ("owed-failed", '{"user_id":"owed-failed"}', "Nothing was added", False),
            }
            owed_now = await store.owed_replies("owed-landed") + await store.owed_replies("owed-failed")
            assert len(owed_now) == 2
            assert all(o.owed_since == datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC) for o in owed_now)
            queued = await store.get_entry("queued")
            assert queued is not None and queued.state is EntryState.PENDING  # still resumed as before
            assert [c.entry.client_token for c in await store.claim_due(now, now, 10)] == ["queued"]
        finally:
            await store.close()
    with sqlite3.connect(db_path) as connection:
        assert connection.execute(
            "SELECT COUNT(*) FROM timeline_entries WHERE reply_pending IS NOT NULL"
        ).fetchone() == (0,)
