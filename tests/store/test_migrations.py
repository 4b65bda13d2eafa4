"""Migrations: a new database is created at the newest revision, replicas starting together migrate it
once (under the lock), `python -m bot migrate` does it on its own, and a SQLite file written by the
version before Alembic is adopted in place without losing a binding, a pending entry or an owed reply."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.timeline import EventType, TimelineEntry
from bot.store import SqlStore
from bot.store.migrate import head, upgrade
from bot.usecases.ports import EntryState
from tests.store.support import ARN, EVENT_TIME, LEASE, binding, entry, raw

ROOT = Path(__file__).resolve().parents[2]

# The schema exactly as the version before migrations wrote it (bot/store/sqlite.py's _SCHEMA and index).
PREVIOUS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bindings (
    team_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    incident_arn TEXT NOT NULL,
    incident_title TEXT NOT NULL,
    bound_by TEXT NOT NULL,
    bound_at TEXT NOT NULL,
    PRIMARY KEY (team_id, channel_id)
);
CREATE TABLE IF NOT EXISTS timeline_entries (
    client_token TEXT PRIMARY KEY,
    incident_arn TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_time TEXT NOT NULL,
    event_data TEXT NOT NULL,
    state TEXT NOT NULL,
    event_id TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    notice TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    uncertain INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    reply_pending TEXT
);
CREATE TABLE IF NOT EXISTS drafts (
    draft_id TEXT NOT NULL,
    shown_key TEXT NOT NULL,
    full_text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (draft_id, shown_key)
);
CREATE INDEX IF NOT EXISTS drafts_by_age ON drafts (created_at);
CREATE INDEX IF NOT EXISTS entries_due ON timeline_entries (state, next_attempt_at);
"""
NOTICE = '{"kind":"pin","team_id":"T1","channel_id":"C1","user_id":"U1","response_url":"https://hooks.slack.com/x"}'


def _iso(moment: datetime) -> str:
    # As the previous version wrote its own times (_iso); event_time and bound_at were isoformat().
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def write_previous_version_database(path: Path, now: datetime) -> None:
    with sqlite3.connect(path) as connection:
        connection.executescript(PREVIOUS_SCHEMA)
        connection.execute(
            "INSERT OR REPLACE INTO bindings VALUES (?, ?, ?, ?, ?, ?)",
            (
                "T1",
                "C1",
                ARN,
                "DB down",
                "U0001",
                datetime(2024, 4, 5, 12, 0, 1, 250_000, tzinfo=UTC).isoformat(),
            ),
        )
        rows = [
            # token, state, event_id, notice, attempts, uncertain, last_error, next_attempt_at, reply_pending
            (
                "due",
                "pending",
                None,
                NOTICE,
                2,
                1,
                "ThrottlingException",
                _iso(now - timedelta(seconds=5)),
                None,
            ),
            ("held", "pending", None, NOTICE, 0, 0, None, _iso(now + timedelta(minutes=10)), None),
            (
                "owed",
                "sent",
                "event-9",
                NOTICE,
                1,
                0,
                None,
                _iso(now - timedelta(seconds=1)),
                "Now on the timeline",
            ),
            ("told", "sent", "event-8", NOTICE, 0, 0, None, None, None),
            ("refused", "failed", None, NOTICE, 0, 0, "AccessDeniedException", None, None),
        ]
        for token, state, event_id, notice, attempts, uncertain, error, next_at, reply in rows:
            connection.execute(
                "INSERT OR IGNORE INTO timeline_entries (client_token, incident_arn, event_type, event_time, "
                "event_data, state, event_id, last_error, created_at, updated_at, notice, attempts, uncertain, "
                "next_attempt_at, reply_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token, ARN, "Note", EVENT_TIME.isoformat(), '"text"', state, event_id, error,
                    _iso(now - timedelta(minutes=1)), _iso(now - timedelta(minutes=1)),
                    notice, attempts, uncertain, next_at, reply,
                ),
            )  # fmt: skip
        connection.execute(
            "INSERT OR REPLACE INTO drafts VALUES (?, ?, ?, ?)", ("d1", "shown", "the whole text", _iso(now))
        )


async def test_a_database_written_by_the_previous_version_is_adopted_without_losing_anything(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    now = datetime.now(UTC)
    write_previous_version_database(path, now)
    url = f"sqlite:///{path}"
    store = SqlStore(url)
    try:
        assert await store.migrate() == head()
        binding = await store.get_binding("T1", "C1")
        assert binding is not None and (binding.incident_arn, binding.incident_title) == (ARN, "DB down")
        assert binding.bound_at == datetime(2024, 4, 5, 12, 0, 1, 250_000, tzinfo=UTC)
        assert await store.pending_count() == 2
        # The pending entry whose lease ran out is resumed, as it was (its attempts, its uncertainty).
        (due,) = await store.claim_due(now, now + timedelta(hours=1), 10)
        assert (due.entry.client_token, due.state, due.attempts, due.uncertain) == (
            "due",
            EntryState.PENDING,
            2,
            True,
        )
        assert due.notice == NOTICE and due.last_error == "ThrottlingException"
        assert due.entry == TimelineEntry("due", ARN, EventType.NOTE, EVENT_TIME, '"text"')
        # The held one waits for its holder's lease; then it is due too.
        assert [
            e.entry.client_token for e in await store.claim_due(now + timedelta(minutes=11), now, 10)
        ] == ["held"]
        # The owed reply is still owed (now in owed_replies), due at once: its teller's hold had ended.
        (owed,) = await store.claim_owed_replies(now, now + timedelta(minutes=1), 10)
        assert (owed.id, owed.client_token, owed.reply, owed.landed, owed.notice) == (
            "entry:owed",
            "owed",
            "Now on the timeline",
            True,
            NOTICE,
        )
        told = await store.get_entry("told")
        refused = await store.get_entry("refused")
        assert told is not None and (told.state, told.event_id) == (EntryState.SENT, "event-8")
        assert refused is not None and refused.state is EntryState.FAILED
        assert await store.draft_text("d1", "shown") == "the whole text"
        # A write-once token from before is still write-once.
        again = await store.save_entry_once(entry("told", "other"), "{}", LEASE)
        assert (again.state, again.event_id) == (EntryState.SENT, "event-8")
    finally:
        await store.close()
    assert await raw(url, "SELECT version_num FROM alembic_version") == [(head(),)]
    indexes = {name for (name,) in await raw(url, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {
        "entries_due",
        "entries_owed",
        "entries_by_age",
        "drafts_by_age",
        "deliveries_by_age",
        "owed_replies_due",
        "owed_replies_by_entry",
    } <= indexes


# The schema exactly as the last version before migrations wrote it once it had owed_replies
# (bot/store/sqlite.py's _SCHEMA, _OUTBOX_INDEX and _OWED_REPLIES_SCHEMA): no reply_pending column.
LAST_SCHEMA = """
CREATE TABLE IF NOT EXISTS bindings (
    team_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    incident_arn TEXT NOT NULL,
    incident_title TEXT NOT NULL,
    bound_by TEXT NOT NULL,
    bound_at TEXT NOT NULL,
    PRIMARY KEY (team_id, channel_id)
);
CREATE TABLE IF NOT EXISTS timeline_entries (
    client_token TEXT PRIMARY KEY,
    incident_arn TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_time TEXT NOT NULL,
    event_data TEXT NOT NULL,
    state TEXT NOT NULL,
    event_id TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    notice TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    uncertain INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT
);
CREATE TABLE IF NOT EXISTS drafts (
    draft_id TEXT NOT NULL,
    shown_key TEXT NOT NULL,
    full_text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (draft_id, shown_key)
);
CREATE INDEX IF NOT EXISTS drafts_by_age ON drafts (created_at);
CREATE INDEX IF NOT EXISTS entries_due ON timeline_entries (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS owed_replies (
    id TEXT PRIMARY KEY,
    client_token TEXT NOT NULL,
    notice TEXT NOT NULL,
    reply TEXT NOT NULL,
    landed INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owed_since TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS owed_replies_due ON owed_replies (due_at);
CREATE INDEX IF NOT EXISTS owed_replies_by_entry ON owed_replies (client_token);
CREATE TABLE IF NOT EXISTS awaiting_replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_token TEXT NOT NULL,
    notice TEXT NOT NULL,
    UNIQUE (client_token, notice)
);
"""


async def test_a_database_written_by_the_last_version_before_migrations_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    now = datetime.now(UTC)
    with sqlite3.connect(path) as connection:
        connection.executescript(LAST_SCHEMA)
        connection.execute(
            "INSERT INTO bindings VALUES ('T1', 'C1', ?, 'DB down', 'U0001', ?)",
            (ARN, EVENT_TIME.isoformat()),
        )
        for token, state, next_at in (
            ("queued", "pending", _iso(now - timedelta(seconds=3))),
            ("pinned-twice", "pending", _iso(now + timedelta(minutes=10))),
            ("landed", "sent", None),
        ):
            connection.execute(
                "INSERT INTO timeline_entries VALUES (?, ?, 'Note', ?, '\"t\"', ?, NULL, NULL, ?, ?, ?, 1, 0, ?)",
                (token, ARN, EVENT_TIME.isoformat(), state, _iso(now), _iso(now), NOTICE, next_at),
            )
        connection.execute(
            "INSERT INTO owed_replies VALUES ('landed:U1', 'landed', ?, 'Now on the timeline', 1, ?, 2, ?)",
            (NOTICE, _iso(now - timedelta(seconds=1)), _iso(now - timedelta(minutes=5))),
        )
        connection.execute(
            "INSERT INTO awaiting_replies (client_token, notice) VALUES ('pinned-twice', '{\"user_id\":\"U2\"}')"
        )
    store = SqlStore(f"sqlite:///{path}")
    try:
        assert await store.migrate() == head()
        assert await store.get_binding("T1", "C1") is not None
        # Pending entries are resumed, not closed (this schema has no reply_pending: it is added, empty).
        assert await store.pending_count() == 2
        (queued,) = await store.claim_due(now, now + timedelta(hours=1), 10)
        assert (queued.entry.client_token, queued.attempts, queued.notice) == ("queued", 1, NOTICE)
        (owed,) = await store.claim_owed_replies(now, now + timedelta(minutes=1), 10)
        assert (owed.id, owed.reply, owed.landed, owed.attempts) == (
            "landed:U1",
            "Now on the timeline",
            True,
            2,
        )
        assert owed.owed_since == now.replace(microsecond=now.microsecond) - timedelta(minutes=5)
        (awaits,) = await store.awaiting("pinned-twice")
        assert awaits.notice == '{"user_id":"U2"}'
        # The awaiting row's id carries on: a new one gets the next id, never a reused one.
        assert await store.add_awaiting("pinned-twice", '{"user_id":"U3"}')
        assert [a.id for a in await store.awaiting("pinned-twice")] == [awaits.id, awaits.id + 1]
    finally:
        await store.close()


async def test_a_reply_owed_by_the_previous_schema_becomes_an_owed_reply(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.db"
    # A database written by the version before owed_replies: the one owed reply lived on its entry.
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
    for _ in range(2):  # a second start moves nothing twice
        store = SqlStore(f"sqlite:///{db_path}")
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
    url = f"sqlite:///{db_path}"
    assert await raw(url, "SELECT COUNT(*) FROM timeline_entries WHERE reply_pending IS NOT NULL") == [(0,)]


async def test_a_reply_an_older_replica_keeps_on_its_entry_moves_at_the_next_start(
    fresh_database_url: str,
) -> None:
    """A rolling upgrade: a replica of the version before owed_replies still writes reply_pending."""
    first = SqlStore(fresh_database_url)
    await first.save_entry_once(entry("t"), NOTICE, LEASE)
    await first.mark_sent("t", "event-1")
    await first.close()
    await raw(fresh_database_url, "UPDATE timeline_entries SET reply_pending = 'Now on the timeline'")
    store = SqlStore(fresh_database_url)
    try:
        (moved,) = await store.owed_replies("t")
        assert (moved.id, moved.reply, moved.landed, moved.notice) == (
            "entry:t",
            "Now on the timeline",
            True,
            NOTICE,
        )
    finally:
        await store.close()


async def test_a_database_from_before_the_outbox_is_upgraded_in_place(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.db"
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
    store = SqlStore(f"sqlite:///{db_path}")
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
        assert await store.get_binding("T1", "C1") is None  # the tables it lacked were created
        await store.save_draft_texts("d", {"k": "v"})
    finally:
        await store.close()


async def test_a_new_database_is_created_at_the_newest_revision(fresh_database_url: str) -> None:
    store = SqlStore(fresh_database_url)
    try:
        assert await store.migrate() == head()
        assert await store.migrate() is None  # once per store
        await store.ping()
    finally:
        await store.close()
    assert await raw(fresh_database_url, "SELECT version_num FROM alembic_version") == [(head(),)]


async def test_replicas_starting_together_migrate_it_once(fresh_database_url: str) -> None:
    """The lock: without it, two replicas would both create the tables and one would fail."""
    stores = [SqlStore(fresh_database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(store.ping() for store in stores))
        await asyncio.gather(*(store.put_binding(binding(channel=f"C{i}")) for i, store in enumerate(stores)))
    finally:
        for store in stores:
            await store.close()
    assert await raw(fresh_database_url, "SELECT version_num FROM alembic_version") == [(head(),)]
    assert len(await raw(fresh_database_url, "SELECT team_id FROM bindings")) == 3


async def test_a_schema_newer_than_this_version_is_served_as_it_is(
    fresh_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = SqlStore(fresh_database_url)
    await first.migrate()
    await first.close()
    # A newer version's migration has run (a rolling deploy, or a rollback of this one).
    await raw(fresh_database_url, "UPDATE alembic_version SET version_num = '9999_from_the_future'")
    store = SqlStore(fresh_database_url)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.store.migrate"):
            assert await store.migrate() == "9999_from_the_future"
        assert "database schema is newer than this version" in caplog.text
        await store.save_entry_once(entry("t"), "{}", LEASE)
        assert await store.pending_count() == 1
    finally:
        await store.close()


def run_migrate(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_python_m_bot_migrate_brings_the_schema_up_to_date(fresh_database_url: str) -> None:
    for _ in range(2):  # and a second time finds nothing to do
        result = run_migrate(fresh_database_url)
        assert result.returncode == 0, result.stderr
        (line,) = result.stdout.strip().splitlines()
        assert line.endswith(f"is at schema revision {head()} (current)")
        assert ("PostgreSQL database" in line) or ("SQLite database" in line)


def test_python_m_bot_migrate_names_a_database_it_cannot_reach_in_one_line() -> None:
    result = run_migrate("postgresql://bot:hunter2-secret@127.0.0.1:9/incidents")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Cannot migrate: cannot use the PostgreSQL database 'incidents' on 127.0.0.1:9: ")
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


async def test_a_database_at_the_first_revision_is_upgraded_keeping_its_rows(fresh_database_url: str) -> None:
    old = SqlStore(fresh_database_url)
    await upgrade(old._engine, "0001")  # as the version before deliveries left it
    await old.close()
    assert await raw(fresh_database_url, "SELECT version_num FROM alembic_version") == [("0001",)]
    await raw(
        fresh_database_url,
        "INSERT INTO bindings VALUES ('T1', 'C1', :arn, 'DB down', 'U1', :at)",
        arn=ARN,
        at="2024-04-05T12:00:01.250000+00:00"
        if fresh_database_url.startswith("sqlite")
        else datetime(2024, 4, 5, tzinfo=UTC),
    )
    store = SqlStore(fresh_database_url)
    try:
        assert await store.migrate() == head()
        found = await store.get_binding("T1", "C1")
        assert found is not None and found.incident_title == "DB down"
        assert await store.first_delivery("T1:Ev1", datetime.now(UTC))
    finally:
        await store.close()
    assert await raw(fresh_database_url, "SELECT version_num FROM alembic_version") == [(head(),)]


async def test_a_database_at_revision_0003_gains_the_lifecycle_keeping_its_rows(
    fresh_database_url: str,
) -> None:
    """Entries a pin or the shortcut made before 0005 get their message back from their notice: an un-pin
    or a delete in Slack reaches them; the older of two live entries of one message keeps it live."""
    old = SqlStore(fresh_database_url)
    await upgrade(old._engine, "0003")
    now = datetime.now(UTC)
    pin = '{"kind":"pin","team_id":"T1","channel_id":"C1","user_id":"U1","message_ts":"1712345678.000100"}'
    capture = (
        '{"kind":"capture","team_id":"T1","channel_id":"C1","user_id":"U2","message_ts":"1712345678.000100"}'
    )
    typed = '{"kind":"reply","team_id":"T1","channel_id":"C1","user_id":"U1","message_ts":null}'
    at = (lambda moment: _iso(moment)) if fresh_database_url.startswith("sqlite") else (lambda moment: moment)
    for token, notice, state, age in (
        ("pin", pin, "sent", 2),
        ("shortcut", capture, "sent", 1),
        ("typed", typed, "pending", 0),
    ):
        await raw(
            fresh_database_url,
            "INSERT INTO timeline_entries (client_token, incident_arn, event_type, event_time, event_data, "
            "state, event_id, created_at, updated_at, notice, next_attempt_at) VALUES (:token, :arn, 'Note', "
            ":at, '\"x\"', :state, :event, :at, :at, :notice, :due)",
            token=token,
            arn=ARN,
            at=at(now - timedelta(minutes=age)),
            state=state,
            event=f"event-{token}" if state == "sent" else None,
            notice=notice,
            due=at(now) if state == "pending" else None,
        )
    await old.close()
    store = SqlStore(fresh_database_url)
    try:
        assert await store.migrate() == head()
        from bot.domain.slack_message import MessageRef
        from bot.usecases.ports import EntryOrigin

        (live,) = await store.entries_for_message(MessageRef("T1", "C1", "1712345678.000100"))
        assert live.entry.client_token == "pin" and live.source is not None
        assert live.source.origin is EntryOrigin.PIN and not live.source.follows_edits
        removed = await store.remove_pinner("pin", "nobody")
        assert removed is not None and removed.pinners == frozenset({"U1"})
        shortcut = await store.get_entry("shortcut")
        assert shortcut is not None and shortcut.source is not None
        assert shortcut.source.origin is EntryOrigin.SHORTCUT and shortcut.state is EntryState.SENT
        typed_entry = await store.get_entry("typed")
        assert typed_entry is not None and typed_entry.source is None
        assert typed_entry.state is EntryState.PENDING and await store.pending_count() == 1
    finally:
        await store.close()
