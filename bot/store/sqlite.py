"""SQLite implementation of the store: the embedded default behind DATABASE_URL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.domain.binding import Binding
from bot.domain.timeline import EventType, TimelineEntry
from bot.usecases.ports import Awaiting, EntryState, OwedReply, StoredEntry

T = TypeVar("T")

_SCHEMA = """
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
"""

# Columns added to timeline_entries since the first release, added in place to an older database. Its
# pending entries keep no next attempt time (they carry no one to tell), so they are not resumed.
_OUTBOX_COLUMNS = {
    "notice": "TEXT NOT NULL DEFAULT ''",
    "attempts": "INTEGER NOT NULL DEFAULT 0",
    "uncertain": "INTEGER NOT NULL DEFAULT 0",
    "next_attempt_at": "TEXT",
}
_OUTBOX_INDEX = "CREATE INDEX IF NOT EXISTS entries_due ON timeline_entries (state, next_attempt_at)"
_ENTRY_COLUMNS = (
    "client_token, incident_arn, event_type, event_time, event_data, state, event_id, notice, attempts, "
    "uncertain, last_error, created_at, next_attempt_at"
)

# Owed replies (schema step 2; the DDL and its migration step are together here, to port as one).
#
# owed_replies: one row per person still owed a second reply about an entry (it landed or finally
# failed after they heard "saved"); written in the same transaction that settles the entry, deleted once
# told or given up on (24 h). due_at is when it is next tried and, while a teller works on it, the end of
# that teller's hold. awaiting_replies: people told "saved" about an entry another request recorded (a
# second pin); the transaction that settles the entry turns each into an owed reply, and refuses to settle
# it while someone awaits it whom the caller did not write a reply for (they read and try again).
#
# Migration: until now the one owed reply lived on its entry (timeline_entries.reply_pending, held by
# next_attempt_at). Each such reply becomes an owed_replies row (id "entry:<token>", so the step is
# idempotent) and the column is emptied; the column itself is left in place (unused), so an older replica
# still running during a rolling upgrade keeps working, and whatever it writes there moves on the next start.
_OWED_REPLIES_SCHEMA = """
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
_OWED_REPLIES_FROM_ENTRIES = (
    "INSERT OR IGNORE INTO owed_replies (id, client_token, notice, reply, landed, due_at, attempts, owed_since) "
    "SELECT 'entry:' || client_token, client_token, notice, reply_pending, state = 'sent', "
    "COALESCE(next_attempt_at, updated_at), 0, updated_at FROM timeline_entries "
    "WHERE reply_pending IS NOT NULL AND state != 'pending'"
)
_EMPTY_REPLY_PENDING = (
    "UPDATE timeline_entries SET reply_pending = NULL, next_attempt_at = NULL "
    "WHERE reply_pending IS NOT NULL AND state != 'pending'"
)
_OWED_COLUMNS = "id, client_token, notice, reply, landed, due_at, attempts, owed_since"


def _migrate_owed_replies(connection: sqlite3.Connection, entry_columns: set[str]) -> None:
    """Step 2, inside _migrate's transaction: the tables, then each reply kept on its entry moved to them."""
    for statement in _OWED_REPLIES_SCHEMA.split(";"):
        if statement.strip():
            connection.execute(statement)
    if "reply_pending" in entry_columns:
        connection.execute(_OWED_REPLIES_FROM_ENTRIES)
        connection.execute(_EMPTY_REPLY_PENDING)


# A form left open longer than this is abandoned; its whole text (a copy of a Slack message) is pruned.
DRAFT_MAX_AGE = timedelta(days=1)


def _now() -> str:
    return _iso(datetime.now(UTC))


class SqliteStore:
    """One connection used from one worker thread: SQLite serializes writes anyway, and the event loop
    never waits on disk."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._connection: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._with_connection, work)

    def _with_connection(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            # Wait (up to 5 s) rather than fail when another process holds the lock, from the first statement.
            connection = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
            connection.execute("PRAGMA busy_timeout=5000")
            if self._path != ":memory:":
                connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            _migrate(connection)
            self._connection = connection
        return work(self._connection)

    async def ping(self) -> None:
        # Reads the database's first page, so a file that is gone, unreadable or corrupt fails it.
        await self._run(
            lambda connection: connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        )

    async def close(self) -> None:
        def _close(connection: sqlite3.Connection) -> None:
            connection.close()
            self._connection = None

        if self._connection is not None:
            await self._run(_close)
        await asyncio.to_thread(self._executor.shutdown, True)

    # Bindings

    async def get_binding(self, team_id: str, channel_id: str) -> Binding | None:
        return await self._run(lambda connection: _select_binding(connection, team_id, channel_id))

    async def put_binding(self, binding: Binding) -> Binding | None:
        def _put(connection: sqlite3.Connection) -> Binding | None:
            with _transaction(connection):
                previous = _select_binding(connection, binding.team_id, binding.channel_id)
                connection.execute(
                    "INSERT OR REPLACE INTO bindings VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        binding.team_id,
                        binding.channel_id,
                        binding.incident_arn,
                        binding.incident_title,
                        binding.bound_by,
                        binding.bound_at.isoformat(),
                    ),
                )
            return previous

        return await self._run(_put)

    async def delete_binding(self, team_id: str, channel_id: str) -> Binding | None:
        def _delete(connection: sqlite3.Connection) -> Binding | None:
            with _transaction(connection):
                removed = _select_binding(connection, team_id, channel_id)
                connection.execute(
                    "DELETE FROM bindings WHERE team_id = ? AND channel_id = ?", (team_id, channel_id)
                )
            return removed

        return await self._run(_delete)

    # Timeline entries

    async def save_entry_once(self, entry: TimelineEntry, notice: str, lease_until: datetime) -> StoredEntry:
        def _save(connection: sqlite3.Connection) -> StoredEntry:
            now = _now()
            with _transaction(connection):
                connection.execute(
                    "INSERT OR IGNORE INTO timeline_entries "
                    "(client_token, incident_arn, event_type, event_time, event_data, state, created_at, "
                    "updated_at, notice, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.client_token,
                        entry.incident_arn,
                        entry.event_type.value,
                        entry.event_time.isoformat(),
                        entry.event_data,
                        EntryState.PENDING.value,
                        now,
                        now,
                        notice,
                        _iso(lease_until),
                    ),
                )
                # Asked for again after it finally failed (access granted since, say): pending again, this
                # caller's to send and this person's to hear about, with a fresh give-up clock.
                connection.execute(
                    "UPDATE timeline_entries SET state = ?, attempts = 0, uncertain = 0, notice = ?, "
                    "next_attempt_at = ?, created_at = ?, updated_at = ? WHERE client_token = ? AND state = ?",
                    (
                        EntryState.PENDING.value,
                        notice,
                        _iso(lease_until),
                        now,
                        now,
                        entry.client_token,
                        EntryState.FAILED.value,
                    ),
                )
                row = connection.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM timeline_entries WHERE client_token = ?",
                    (entry.client_token,),
                ).fetchone()
            return _entry_from_row(row)

        return await self._run(_save)

    async def mark_sent(
        self,
        client_token: str,
        event_id: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
    ) -> bool:
        return await self._run(
            lambda connection: _settle(
                connection,
                client_token,
                owed,
                awaiting,
                "UPDATE timeline_entries SET state = ?, event_id = ?, last_error = NULL, next_attempt_at = NULL, "
                "updated_at = ? WHERE client_token = ?",
                (EntryState.SENT.value, event_id, _now(), client_token),
            )
        )

    async def mark_failed(
        self,
        client_token: str,
        reason: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
    ) -> bool:
        return await self._run(
            lambda connection: _settle(
                connection,
                client_token,
                owed,
                awaiting,
                "UPDATE timeline_entries SET state = ?, last_error = ?, next_attempt_at = NULL, updated_at = ? "
                "WHERE client_token = ? AND state != ?",
                (EntryState.FAILED.value, reason, _now(), client_token, EntryState.SENT.value),
            )
        )

    async def add_awaiting(self, client_token: str, notice: str) -> bool:
        def _add(connection: sqlite3.Connection) -> bool:
            with _transaction(connection):
                row = connection.execute(
                    "SELECT state FROM timeline_entries WHERE client_token = ?", (client_token,)
                ).fetchone()
                if row is None or row[0] != EntryState.PENDING.value:
                    return False
                connection.execute(
                    "INSERT OR IGNORE INTO awaiting_replies (client_token, notice) VALUES (?, ?)",
                    (client_token, notice),
                )
            return True

        return await self._run(_add)

    async def awaiting(self, client_token: str) -> list[Awaiting]:
        def _select(connection: sqlite3.Connection) -> list[Awaiting]:
            rows = connection.execute(
                "SELECT id, notice FROM awaiting_replies WHERE client_token = ? ORDER BY id", (client_token,)
            ).fetchall()
            return [Awaiting(int(row[0]), str(row[1])) for row in rows]

        return await self._run(_select)

    async def owe_replies(self, owed: Sequence[OwedReply]) -> None:
        def _insert(connection: sqlite3.Connection) -> None:
            with _transaction(connection):
                _insert_owed(connection, owed)

        await self._run(_insert)

    async def owed_replies(self, client_token: str) -> list[OwedReply]:
        def _select(connection: sqlite3.Connection) -> list[OwedReply]:
            rows = connection.execute(
                f"SELECT {_OWED_COLUMNS} FROM owed_replies WHERE client_token = ? ORDER BY owed_since, id",
                (client_token,),
            ).fetchall()
            return [_owed_from_row(row) for row in rows]

        return await self._run(_select)

    async def claim_owed_replies(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[OwedReply]:
        skipped = set(skip)

        def _claim(connection: sqlite3.Connection) -> list[OwedReply]:
            with _transaction(connection):
                due = connection.execute(
                    f"SELECT {_OWED_COLUMNS} FROM owed_replies WHERE due_at <= ? ORDER BY due_at LIMIT ?",
                    (_iso(now), limit + len(skipped)),
                ).fetchall()
                rows = [row for row in due if row[0] not in skipped][:limit]
                connection.executemany(
                    "UPDATE owed_replies SET due_at = ? WHERE id = ?",
                    [(_iso(lease_until), row[0]) for row in rows],
                )
            return [replace(_owed_from_row(row), due_at=lease_until) for row in rows]

        return await self._run(_claim)

    async def reschedule_reply(self, reply_id: str, due_at: datetime) -> None:
        await self._run(
            lambda connection: connection.execute(
                "UPDATE owed_replies SET attempts = attempts + 1, due_at = ? WHERE id = ?",
                (_iso(due_at), reply_id),
            )
        )

    async def forget_reply(self, reply_id: str) -> None:
        await self._run(
            lambda connection: connection.execute("DELETE FROM owed_replies WHERE id = ?", (reply_id,))
        )

    async def schedule_retry(
        self, client_token: str, next_attempt_at: datetime, reason: str, uncertain: bool
    ) -> None:
        await self._run(
            lambda connection: connection.execute(
                "UPDATE timeline_entries SET state = ?, attempts = attempts + 1, last_error = ?, "
                "uncertain = MAX(uncertain, ?), next_attempt_at = ?, updated_at = ? "
                "WHERE client_token = ? AND state = ?",
                (
                    EntryState.PENDING.value,
                    reason,
                    int(uncertain),
                    _iso(next_attempt_at),
                    _now(),
                    client_token,
                    EntryState.PENDING.value,
                ),
            )
        )

    async def get_entry(self, client_token: str) -> StoredEntry | None:
        def _select(connection: sqlite3.Connection) -> StoredEntry | None:
            row = connection.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM timeline_entries WHERE client_token = ?", (client_token,)
            ).fetchone()
            return _entry_from_row(row) if row else None

        return await self._run(_select)

    async def renew_lease(self, client_token: str, held: datetime | None, until: datetime) -> bool:
        def _renew(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE timeline_entries SET next_attempt_at = ? "
                "WHERE client_token = ? AND state = ? AND next_attempt_at IS ?",
                (_iso(until), client_token, EntryState.PENDING.value, _iso(held) if held else None),
            )
            return cursor.rowcount == 1

        return await self._run(_renew)

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[StoredEntry]:
        skipped = set(skip)

        def _claim(connection: sqlite3.Connection) -> list[StoredEntry]:
            with _transaction(connection):
                due = connection.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM timeline_entries "
                    "WHERE state = ? AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                    (EntryState.PENDING.value, _iso(now), limit + len(skipped)),
                ).fetchall()
                rows = [row for row in due if row[0] not in skipped][:limit]
                connection.executemany(
                    "UPDATE timeline_entries SET next_attempt_at = ? WHERE client_token = ?",
                    [(_iso(lease_until), row[0]) for row in rows],
                )
            return [replace(_entry_from_row(row), next_attempt_at=lease_until) for row in rows]

        return await self._run(_claim)

    async def pending_count(self) -> int:
        def _count(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT COUNT(*) FROM timeline_entries WHERE state = ?", (EntryState.PENDING.value,)
            ).fetchone()
            return int(row[0])

        return await self._run(_count)

    # Drafts

    async def save_draft_texts(self, draft_id: str, texts: dict[str, str]) -> None:
        def _save(connection: sqlite3.Connection) -> None:
            now = datetime.now(UTC)
            with _transaction(connection):
                connection.execute("DELETE FROM drafts WHERE created_at < ?", (_iso(now - DRAFT_MAX_AGE),))
                connection.executemany(
                    "INSERT OR REPLACE INTO drafts VALUES (?, ?, ?, ?)",
                    [(draft_id, key, text, _iso(now)) for key, text in texts.items()],
                )

        await self._run(_save)

    async def draft_text(self, draft_id: str, shown_key: str) -> str | None:
        def _select(connection: sqlite3.Connection) -> str | None:
            row = connection.execute(
                "SELECT full_text FROM drafts WHERE draft_id = ? AND shown_key = ?", (draft_id, shown_key)
            ).fetchone()
            return str(row[0]) if row else None

        return await self._run(_select)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, so a read-then-write is atomic even across processes."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._connection.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _select_binding(connection: sqlite3.Connection, team_id: str, channel_id: str) -> Binding | None:
    row = connection.execute(
        "SELECT team_id, channel_id, incident_arn, incident_title, bound_by, bound_at "
        "FROM bindings WHERE team_id = ? AND channel_id = ?",
        (team_id, channel_id),
    ).fetchone()
    return _binding_from_row(row) if row else None


def _binding_from_row(row: tuple[str, str, str, str, str, str]) -> Binding:
    team_id, channel_id, incident_arn, incident_title, bound_by, bound_at = row
    return Binding(
        team_id, channel_id, incident_arn, incident_title, bound_by, datetime.fromisoformat(bound_at)
    )


def _migrate(connection: sqlite3.Connection) -> None:
    # In one write transaction, so two replicas starting together don't both add a column.
    with _transaction(connection):
        present = {row[1] for row in connection.execute("PRAGMA table_info(timeline_entries)")}
        missing = [name for name in _OUTBOX_COLUMNS if name not in present]
        for name in missing:
            connection.execute(f"ALTER TABLE timeline_entries ADD COLUMN {name} {_OUTBOX_COLUMNS[name]}")
        if missing:
            # An earlier version told the person what happened to these (it retried nothing itself).
            connection.execute(
                "UPDATE timeline_entries SET state = ?, last_error = ? WHERE state = ?",
                (EntryState.FAILED.value, "left pending by an earlier version", EntryState.PENDING.value),
            )
        connection.execute(_OUTBOX_INDEX)
        _migrate_owed_replies(connection, present)


def _settle(
    connection: sqlite3.Connection,
    client_token: str,
    owed: Sequence[OwedReply],
    awaiting: Collection[int],
    update: str,
    parameters: tuple[Any, ...],
) -> bool:
    """Settle an entry and write the replies it owes, in one transaction. Refused (False) while someone
    awaits it whom the caller has not written a reply for: add_awaiting only adds to a pending entry, so
    once this commits nobody can start awaiting it, and nobody who did is left untold."""
    with _transaction(connection):
        present = {
            int(row[0])
            for row in connection.execute(
                "SELECT id FROM awaiting_replies WHERE client_token = ?", (client_token,)
            )
        }
        if not present <= set(awaiting):
            return False
        if connection.execute(update, parameters).rowcount:
            _insert_owed(connection, owed)
            connection.execute("DELETE FROM awaiting_replies WHERE client_token = ?", (client_token,))
    return True


def _insert_owed(connection: sqlite3.Connection, owed: Sequence[OwedReply]) -> None:
    connection.executemany(
        f"INSERT OR IGNORE INTO owed_replies ({_OWED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                reply.id,
                reply.client_token,
                reply.notice,
                reply.reply,
                int(reply.landed),
                _iso(reply.due_at),
                reply.attempts,
                _iso(reply.owed_since),
            )
            for reply in owed
        ],
    )


def _owed_from_row(row: tuple[Any, ...]) -> OwedReply:
    reply_id, token, notice, reply, landed, due_at, attempts, owed_since = row
    return OwedReply(
        id=str(reply_id),
        client_token=token,
        notice=notice,
        reply=reply,
        landed=bool(landed),
        due_at=datetime.fromisoformat(due_at),
        owed_since=datetime.fromisoformat(owed_since),
        attempts=int(attempts),
    )


def _iso(moment: datetime) -> str:
    # One fixed format (UTC, microseconds), so the text comparison in claim_due orders like time.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _entry_from_row(row: tuple[Any, ...]) -> StoredEntry:
    (
        token,
        incident_arn,
        event_type,
        event_time,
        event_data,
        state,
        event_id,
        notice,
        attempts,
        uncertain,
        last_error,
        created_at,
        next_attempt_at,
    ) = row
    entry = TimelineEntry(
        client_token=token,
        incident_arn=incident_arn,
        event_type=EventType(event_type),
        event_time=datetime.fromisoformat(event_time),
        event_data=event_data,
    )
    return StoredEntry(
        entry=entry,
        state=EntryState(state),
        event_id=event_id,
        notice=notice or "",
        attempts=int(attempts or 0),
        uncertain=bool(uncertain),
        last_error=last_error,
        created_at=datetime.fromisoformat(created_at),
        next_attempt_at=datetime.fromisoformat(next_attempt_at) if next_attempt_at else None,
    )
