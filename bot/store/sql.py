"""The store on SQLAlchemy Core's asyncio engine: one implementation for SQLite (aiosqlite, the embedded
default) and PostgreSQL (asyncpg, for several replicas).

Claims are atomic on both. On PostgreSQL they select with `FOR UPDATE SKIP LOCKED`, so two replicas
sweeping at once take disjoint sets without waiting for each other. SQLAlchemy leaves that clause out on
SQLite, where every unit of several statements is BEGIN IMMEDIATE instead: it takes the file's write lock
at once, so a read-then-write is atomic across processes (a unit of one statement is atomic by itself).
In one process, SQLite work goes through one connection, one unit at a time (it serializes writes
anyway; waiting here is an asyncio wait, not a busy-loop on the file lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    ColumnElement,
    Executable,
    Row,
    Select,
    Update,
    case,
    delete,
    event,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.domain.binding import Binding
from bot.domain.slack_message import MessageRef
from bot.domain.timeline import EventType, TimelineEntry
from bot.store.errors import StoreUnavailable
from bot.store.migrate import SQLITE_BUSY_MILLISECONDS, upgrade
from bot.store.schema import (
    awaiting_replies,
    bindings,
    deliveries,
    drafts,
    entry_pinners,
    owed_replies,
    replicas,
    timeline_entries,
)
from bot.store.urls import describe, engine_url, is_in_memory
from bot.usecases.ports import (
    Awaiting,
    ChangeApplied,
    ChangeKind,
    EntryOrigin,
    EntrySource,
    EntryState,
    OwedChange,
    OwedReply,
    StoredEntry,
)

logger = logging.getLogger(__name__)

# A form left open longer than this is abandoned; its whole text (a copy of a Slack message) is pruned.
DRAFT_MAX_AGE = timedelta(days=1)
# Settled entries (with their notice: who to tell, and the response_url) are kept this long by default.
DEFAULT_ENTRY_RETENTION = timedelta(days=30)
# How long a Slack delivery is remembered: Slack retries within about five minutes.
DELIVERY_MEMORY = timedelta(minutes=15)
# A replica not seen for this long died without saying so (kill -9, a lost host): its row is deleted.
REPLICA_MEMORY = timedelta(minutes=10)
# Retention deletes in batches, so it never holds SQLite's write lock (or many row locks) for long.
PRUNE_BATCH = 1_000
# How long a PostgreSQL connection attempt may take before the store is called unavailable.
CONNECT_TIMEOUT_SECONDS = 5.0
POSTGRES_POOL_SIZE = 5

_entries = timeline_entries.c
_ENTRY_COLUMNS = (
    _entries.client_token,
    _entries.incident_arn,
    _entries.event_type,
    _entries.event_time,
    _entries.event_data,
    _entries.state,
    _entries.event_id,
    _entries.notice,
    _entries.attempts,
    _entries.uncertain,
    _entries.last_error,
    _entries.created_at,
    _entries.next_attempt_at,
    _entries.message_team,
    _entries.message_channel,
    _entries.message_ts,
    _entries.origin,
    _entries.follows_edits,
    _entries.generation,
    _entries.render,
    _entries.revision,
    _entries.change,
    _entries.change_type,
    _entries.change_time,
    _entries.change_data,
    _entries.change_notice,
    _entries.change_since,
    _entries.in_flight,
)
_pinners = entry_pinners.c
# Tries at recording an entry of a message whose live entry keeps appearing and dying meanwhile.
SAVE_ROUNDS = 5
_owed = owed_replies.c
# A unit of work of one statement, atomic by itself: on SQLite it runs in the driver's autocommit, without
# BEGIN and COMMIT (each a trip to aiosqlite's thread), and a read never waits for the write lock.
_ONE_STATEMENT = "incident_bot_one_statement"


def _utc_now() -> datetime:
    return datetime.now(UTC)


# The sweep's queries, also read by the EXPLAIN checks (tests/store, bench/sweep_plan.py).


def due_entries(now: datetime, limit: int, skip: Collection[str] = ()) -> Select[Any]:
    """Pending entries due by `now`, oldest first, locked for the claim (rows another worker is claiming
    are skipped, on PostgreSQL)."""
    query = select(*_ENTRY_COLUMNS).where(
        _entries.state == EntryState.PENDING.value, _entries.next_attempt_at <= now
    )
    if skip:
        query = query.where(_entries.client_token.not_in(list(skip)))
    return query.order_by(_entries.next_attempt_at).limit(limit).with_for_update(skip_locked=True)


def due_owed_replies(now: datetime, limit: int, skip: Collection[str] = ()) -> Select[Any]:
    """Owed replies due by `now` (a retry's time, or their teller's hold ran out), oldest first, locked for
    the claim."""
    query = select(*owed_replies.c).where(_owed.due_at <= now)
    if skip:
        query = query.where(_owed.id.not_in(list(skip)))
    return query.order_by(_owed.due_at).limit(limit).with_for_update(skip_locked=True)


def due_changes(now: datetime, limit: int, skip: Collection[str] = ()) -> Select[Any]:
    """Sent entries whose owed change is due by `now` (through entries_due, as creates), locked for the
    claim."""
    query = select(*_ENTRY_COLUMNS).where(
        _entries.state == EntryState.SENT.value, _entries.next_attempt_at <= now
    )
    if skip:
        query = query.where(_entries.client_token.not_in(list(skip)))
    return query.order_by(_entries.next_attempt_at).limit(limit).with_for_update(skip_locked=True)


def live_entries_of(message_key: str) -> Select[Any]:
    """The live entries made from one message (through entries_live)."""
    return select(*_ENTRY_COLUMNS).where(_entries.live_message == message_key)


def message_key(message: MessageRef) -> str:
    # Slack ids and timestamps hold no "/".
    return f"{message.team_id}/{message.channel_id}/{message.ts}"


def pending_entries_count() -> Select[Any]:
    return (
        select(func.count()).select_from(timeline_entries).where(_entries.state == EntryState.PENDING.value)
    )


def expired_entries(cutoff: datetime, limit: int) -> Select[Any]:
    """Settled entries last changed before `cutoff`: what retention deletes (a batch of them)."""
    return (
        select(_entries.client_token)
        .where(
            _entries.updated_at < cutoff,
            _entries.state != EntryState.PENDING.value,
            # A sent entry still owing a change is not history yet (a failed or cancelled one keeps the
            # change it was asked for, settled with it).
            (_entries.state != EntryState.SENT.value) | _entries.change.is_(None),
        )
        .limit(limit)
    )


class SqlStore:
    """Implements `bot.usecases.ports.Store`. The schema is migrated (under a lock) before the first unit
    of work, so a store is ready to use once made; `ping()` at start makes that happen up front."""

    def __init__(
        self,
        database_url: str,
        *,
        entry_retention: timedelta = DEFAULT_ENTRY_RETENTION,
        clock: Callable[[], datetime] = _utc_now,
        holder: str | None = None,
    ) -> None:
        self._url: URL = engine_url(database_url)
        self._sqlite = self._url.get_backend_name() == "sqlite"
        self._engine = _engine(self._url)
        self._statement_engine = self._engine.execution_options(**{_ONE_STATEMENT: True})
        self._retention = entry_retention
        self._clock = clock
        # Stamped on every hold this store's caller takes (see release_holds); one of its own by default.
        self.holder = holder or f"store:{uuid4().hex}"
        self._serial = asyncio.Lock()
        self._migrate_lock = asyncio.Lock()
        self._migrated = False

    @property
    def description(self) -> str:
        """Which database, for people: kind, name and host, never the password."""
        return describe(self._url)

    @property
    def is_postgresql(self) -> bool:
        return not self._sqlite

    async def migrate(self) -> str | None:
        """Bring the schema up to date, once per store (the first unit of work does it anyway)."""
        if self._migrated:
            return None
        async with self._migrate_lock:
            if self._migrated:
                return None
            try:
                async with self._one_at_a_time():
                    revision = await upgrade(self._engine)
            except Exception as error:  # whatever the driver raises: one clear line
                raise StoreUnavailable(self._url, "cannot use", error) from error
            self._migrated = True
        if is_in_memory(self._url):
            logger.warning("DATABASE_URL is an in-memory database: bindings are lost when the bot restarts")
        return revision

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self) -> AsyncIterator[None]:
        if not self._sqlite:
            yield  # PostgreSQL: a pool of connections, concurrent transactions
            return
        async with self._serial:
            yield

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        await self.migrate()
        async with self._one_at_a_time(), self._engine.begin() as connection:
            yield connection

    @contextlib.asynccontextmanager
    async def _one_statement(self) -> AsyncIterator[AsyncConnection]:
        await self.migrate()
        async with self._one_at_a_time(), self._statement_engine.begin() as connection:
            yield connection

    async def ping(self) -> None:
        try:
            async with self._one_statement() as connection:
                # A real table's page: a SQLite file that is gone, unreadable or corrupt fails here.
                await connection.execute(select(bindings.c.team_id).limit(1))
        except StoreUnavailable:
            raise
        except Exception as error:  # any failure means the database cannot serve
            raise StoreUnavailable(self._url, "cannot reach", error) from error

    async def close(self) -> None:
        await self._engine.dispose()

    # Bindings

    async def get_binding(self, team_id: str, channel_id: str) -> Binding | None:
        async with self._one_statement() as connection:
            return await _select_binding(connection, team_id, channel_id)

    async def put_binding(self, binding: Binding) -> Binding | None:
        values = {
            "team_id": binding.team_id,
            "channel_id": binding.channel_id,
            "incident_arn": binding.incident_arn,
            "incident_title": binding.incident_title,
            "bound_by": binding.bound_by,
            "bound_at": binding.bound_at,
        }
        while True:
            async with self._write() as connection:
                previous = await _select_binding(connection, binding.team_id, binding.channel_id, lock=True)
                if previous is not None:
                    await connection.execute(
                        update(bindings)
                        .where(*_binding_key(binding.team_id, binding.channel_id))
                        .values(values)
                    )
                    return previous
                inserted = await connection.execute(
                    _insert(connection, bindings).values(values).on_conflict_do_nothing()
                )
                if inserted.rowcount == 1:
                    return None
            # Another replica bound this channel between the read and the insert: read theirs, replace it.

    async def delete_binding(self, team_id: str, channel_id: str) -> Binding | None:
        async with self._one_statement() as connection:
            removed = await connection.execute(
                delete(bindings).where(*_binding_key(team_id, channel_id)).returning(*bindings.c)
            )
            row = removed.first()
        return _binding_from_row(row) if row is not None else None

    # Timeline entries

    async def save_entry_once(
        self,
        entry: TimelineEntry,
        notice: str,
        lease_until: datetime,
        source: EntrySource | None = None,
        pinner: str | None = None,
    ) -> StoredEntry:
        for _ in range(SAVE_ROUNDS):
            try:
                return await self._save_once(entry, notice, lease_until, source, pinner)
            except IntegrityError:
                # Its message has a live entry on this incident under another token: that one stands.
                assert source is not None
                key = message_key(source.message)
                async with self._one_statement() as connection:
                    row = (
                        await connection.execute(
                            live_entries_of(key).where(_entries.incident_arn == entry.incident_arn)
                        )
                    ).first()
                if row is None:
                    continue  # it died meanwhile: this one may be recorded now
                live = _entry_from_row(row)
                if pinner is None:
                    return await self._with_pinners(live)
                joined = await self.add_pinner(live.entry.client_token, pinner)
                if joined is not None:
                    return joined
        raise RuntimeError(f"the entries of one message kept changing while {entry.client_token} was saved")

    async def _save_once(
        self,
        entry: TimelineEntry,
        notice: str,
        lease_until: datetime,
        source: EntrySource | None,
        pinner: str | None,
    ) -> StoredEntry:
        now = self._clock()
        fresh: dict[str, Any] = {
            "notice": notice,
            "next_attempt_at": lease_until,
            "held_by": self.holder,
            "created_at": now,
            "updated_at": now,
        }
        if source is not None:
            fresh["live_message"] = message_key(source.message)
        upsert = _insert_for(self._sqlite, timeline_entries).values(
            client_token=entry.client_token,
            incident_arn=entry.incident_arn,
            event_type=entry.event_type.value,
            event_time=entry.event_time,
            event_data=entry.event_data,
            state=EntryState.PENDING.value,
            **_source_values(source),
            **fresh,
        )
        # One statement: recorded new; or, asked for again after it finally failed (access granted since,
        # say), pending again, this caller's to send and this person's to hear about, with a fresh give-up
        # clock. Either way it comes back; a token known otherwise is left as it is, and read below.
        # (A message's live entry under another token makes it fail on entries_live: IntegrityError.)
        statement = upsert.on_conflict_do_update(
            index_elements=[_entries.client_token],
            set_={
                "state": EntryState.PENDING.value,
                "attempts": 0,
                # Kept: an earlier attempt that may have landed still may have (no folding an edit in).
                "in_flight": False,
                **_NO_CHANGE,
                **fresh,
            },
            where=_entries.state == EntryState.FAILED.value,
        ).returning(*_ENTRY_COLUMNS)
        if pinner is None:
            async with self._one_statement() as connection:
                row = (await connection.execute(statement)).first()
            if row is None:
                async with self._one_statement() as connection:
                    row = (await connection.execute(_entry_by_token(entry.client_token))).one()
            return await self._with_pinners(_entry_from_row(row))
        async with self._write() as connection:
            row = (await connection.execute(statement)).first()
            if row is None:
                row = (await connection.execute(_entry_by_token(entry.client_token).with_for_update())).one()
            stored = _entry_from_row(row)
            if stored.live:
                await _insert_pinner(connection, entry.client_token, pinner, now)
            return replace(stored, pinners=await _pinners_of(connection, entry.client_token))

    async def entries_for_message(self, message: MessageRef) -> list[StoredEntry]:
        key = message_key(message)
        async with self._one_statement() as connection:
            rows = (await connection.execute(live_entries_of(key))).all()
        return [_entry_from_row(row) for row in rows]

    async def pin_generation(self, message: MessageRef, incident_arn: str) -> int:
        query = select(func.max(_entries.generation)).where(
            _entries.message_team == message.team_id,
            _entries.message_channel == message.channel_id,
            _entries.message_ts == message.ts,
            _entries.incident_arn == incident_arn,
            _entries.generation.is_not(None),
            # Gone, or going: a re-pin while the un-pin's delete is still owed is a new entry too.
            _entries.state.in_([EntryState.DELETED.value, EntryState.CANCELLED.value])
            | (_entries.change == ChangeKind.DELETE.value),
        )
        async with self._one_statement() as connection:
            latest = (await connection.execute(query)).scalar_one_or_none()
        return 0 if latest is None else int(latest) + 1

    async def add_pinner(self, client_token: str, user_id: str) -> StoredEntry | None:
        async with self._write() as connection:
            stored = await _locked_entry(connection, client_token)
            if stored is None or not stored.live:
                return None
            await _insert_pinner(connection, client_token, user_id, self._clock())
            return replace(stored, pinners=await _pinners_of(connection, client_token))

    async def remove_pinner(self, client_token: str, user_id: str) -> StoredEntry | None:
        async with self._write() as connection:
            stored = await _locked_entry(connection, client_token)
            if stored is None:
                return None
            await connection.execute(
                delete(entry_pinners).where(
                    _pinners.client_token == client_token, _pinners.user_id == user_id
                )
            )
            return replace(stored, pinners=await _pinners_of(connection, client_token))

    async def request_update(
        self,
        client_token: str,
        content: TimelineEntry,
        notice: str,
        now: datetime,
        *,
        stop_following: bool = False,
        hold_until: datetime | None = None,
    ) -> tuple[ChangeApplied, StoredEntry | None]:
        async with self._write() as connection:
            stored = await _locked_entry(connection, client_token)
            if stored is None or not stored.live:
                return ChangeApplied.GONE, None
            content_values = {
                "event_type": content.event_type.value,
                "event_time": content.event_time,
                "event_data": content.event_data,
            }
            never_attempted = (
                stored.state is EntryState.PENDING
                and stored.attempts == 0
                and not stored.uncertain
                and not stored.in_flight
                and stored.change is None
            )
            if never_attempted:
                # AWS never saw its token: the create itself says it now. Due at once, so that a worker
                # holding the old content finds its hold moved and leaves it (NotSent).
                applied = ChangeApplied.FOLDED
                values: dict[str, Any] = {
                    **content_values,
                    "next_attempt_at": now,
                    "held_by": None,
                    "updated_at": now,
                }
            else:
                applied = ChangeApplied.OWED
                values = {
                    "change": ChangeKind.UPDATE.value,
                    "revision": stored.revision + 1,
                    "change_type": content.event_type.value,
                    "change_time": content.event_time,
                    "change_data": content.event_data,
                    "change_notice": notice,
                    "change_since": now,
                    "updated_at": now,
                }
                if stored.state is EntryState.SENT and not stored.in_flight:
                    # Due now; one in flight (an earlier update) leaves it due when it is recorded.
                    values.update(attempts=0, uncertain=False, **self._due(now, hold_until))
            if stop_following:
                values["follows_edits"] = False
            return applied, await _rewritten(connection, client_token, values)

    async def request_delete(
        self,
        client_token: str,
        notice: str,
        now: datetime,
        *,
        unless_pinned: bool = False,
        hold_until: datetime | None = None,
    ) -> tuple[ChangeApplied, StoredEntry | None]:
        async with self._write() as connection:
            locked = await _locked_entry(connection, client_token)
            if locked is None:
                return ChangeApplied.GONE, None
            stored = replace(locked, pinners=await _pinners_of(connection, client_token))
            if not stored.live:
                return ChangeApplied.GONE, stored
            if unless_pinned and stored.pinners:
                return ChangeApplied.PINNED, stored
            dead = {"live_message": None, "updated_at": now}
            if stored.state is EntryState.PENDING and not (stored.uncertain or stored.in_flight):
                # Its create surely never reached AWS: nothing will. A worker holding it finds it settled.
                values: dict[str, Any] = {
                    **dead,
                    "state": EntryState.CANCELLED.value,
                    "next_attempt_at": None,
                    "held_by": None,
                    "change": None,
                }
                applied = ChangeApplied.CANCELLED
                await _forget_pinners(connection, client_token)
            else:
                values = {
                    **dead,
                    "change": ChangeKind.DELETE.value,
                    "change_type": None,
                    "change_time": None,
                    "change_data": None,
                    "change_notice": notice,
                    "change_since": now,
                }
                if stored.state is EntryState.SENT and not stored.in_flight:
                    values.update(attempts=0, uncertain=False, **self._due(now, hold_until))
                applied = ChangeApplied.OWED
            return applied, await _rewritten(connection, client_token, values)

    def _due(self, now: datetime, hold_until: datetime | None) -> dict[str, Any]:
        """A change due now: held by this replica for its caller until `hold_until` (so the sweep, here or
        on another replica, leaves it to the caller's own attempt), or due for the sweep."""
        if hold_until is None:
            return {"next_attempt_at": now, "held_by": None}
        return {"next_attempt_at": hold_until, "held_by": self.holder}

    async def claim_due_changes(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[StoredEntry]:
        return await self._claim(due_changes(now, limit, skip), lease_until)

    async def change_done(
        self, client_token: str, kind: ChangeKind, revision: int, owed: Sequence[OwedReply] = ()
    ) -> StoredEntry | None:
        now = self._clock()
        async with self._write() as connection:
            stored = await _locked_entry(connection, client_token)
            if stored is None:
                return None
            settled = _change_settled(now)
            if kind is ChangeKind.DELETE:
                values: dict[str, Any] = {
                    **settled,
                    **_NO_CHANGE,
                    "state": EntryState.DELETED.value,
                    "live_message": None,
                    "next_attempt_at": None,
                    "last_error": None,
                }
                await _forget_pinners(connection, client_token)
            elif (
                stored.change is not None
                and stored.change.kind is ChangeKind.UPDATE
                and (stored.change.revision == revision)
            ):
                content = stored.change.entry
                assert content is not None
                values = {
                    **settled,
                    **_NO_CHANGE,
                    "event_type": content.event_type.value,
                    "event_time": content.event_time,
                    "event_data": content.event_data,
                    "revision": revision,
                    "next_attempt_at": None,
                    "last_error": None,
                }
            else:
                # A newer change was asked while this one was on its way: it is due now.
                values = {**settled, "next_attempt_at": now if stored.change is not None else None}
            await _insert_owed(connection, owed, self.holder)
            return await _rewritten(connection, client_token, values)

    async def change_failed(
        self,
        client_token: str,
        kind: ChangeKind,
        revision: int,
        reason: str,
        owed: Sequence[OwedReply] = (),
    ) -> StoredEntry | None:
        now = self._clock()
        async with self._write() as connection:
            stored = await _locked_entry(connection, client_token)
            if stored is None:
                return None
            settled = _change_settled(now)
            same = (
                stored.change is not None
                and stored.change.kind is kind
                and stored.change.revision == revision
            )
            if same:
                values: dict[str, Any] = {
                    **settled,
                    **_NO_CHANGE,
                    "next_attempt_at": None,
                    "last_error": reason,
                }
                if kind is ChangeKind.DELETE and stored.state is EntryState.SENT:
                    # Still on the timeline: live again, unless another entry of its message took its place.
                    values["live_message"] = await _free_live_key(connection, stored)
            else:
                values = {**settled, "next_attempt_at": now if stored.change is not None else None}
            await _insert_owed(connection, owed, self.holder)
            return await _rewritten(connection, client_token, values)

    async def _with_pinners(self, stored: StoredEntry) -> StoredEntry:
        if stored.source is None:
            return stored
        async with self._one_statement() as connection:
            return replace(stored, pinners=await _pinners_of(connection, stored.entry.client_token))

    async def get_entry(self, client_token: str) -> StoredEntry | None:
        async with self._one_statement() as connection:
            row = (await connection.execute(_entry_by_token(client_token))).first()
        return _entry_from_row(row) if row is not None else None

    async def renew_lease(
        self, client_token: str, held: datetime | None, until: datetime, *, sending: bool = False
    ) -> bool:
        # Compare-and-set: only whoever left the lease as `held` may move it.
        values: dict[str, Any] = {"next_attempt_at": until, "held_by": self.holder}
        if sending:
            # From here until its outcome is recorded, the attempt may reach AWS. One still marked in
            # flight (its sender died, or lost its hold, mid-call) may have: the entry is uncertain now.
            values["in_flight"] = True
            values["uncertain"] = _entries.uncertain | _entries.in_flight
        return (
            await self._change(
                update(timeline_entries)
                .where(
                    _entries.client_token == client_token,
                    _something_owed(),
                    _entries.next_attempt_at.is_not_distinct_from(held),
                )
                .values(values)
            )
            == 1
        )

    async def mark_sent(
        self,
        client_token: str,
        event_id: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
    ) -> bool:
        return await self._settle(
            client_token,
            owed,
            awaiting,
            update(timeline_entries)
            # Not over a deleted or cancelled entry (an attempt that lost its hold, late): it stays so.
            .where(
                _entries.client_token == client_token,
                _entries.state.in_([EntryState.PENDING.value, EntryState.FAILED.value]),
            )
            .values(
                state=EntryState.SENT.value,
                event_id=event_id,
                last_error=None,
                # A change asked for while the create was owed is due now, with a fresh count.
                next_attempt_at=case((_entries.change.is_(None), None), else_=self._clock()),
                held_by=None,
                attempts=0,
                uncertain=False,
                in_flight=False,
                updated_at=self._clock(),
            ),
        )

    async def mark_failed(
        self,
        client_token: str,
        reason: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
        *,
        uncertain: bool = False,
    ) -> bool:
        may_have_landed = true() if uncertain else _entries.uncertain
        return await self._settle(
            client_token,
            owed,
            awaiting,
            update(timeline_entries)
            # Not over a sent, deleted or cancelled entry (an attempt that lost its hold, late).
            .where(
                _entries.client_token == client_token,
                _entries.state.in_([EntryState.PENDING.value, EntryState.FAILED.value]),
            )
            .values(
                # A delete owed, and no attempt that may have landed: nothing is on the timeline, as asked.
                state=case(
                    (
                        (_entries.change == ChangeKind.DELETE.value) & ~may_have_landed,
                        EntryState.CANCELLED.value,
                    ),
                    else_=EntryState.FAILED.value,
                ),
                uncertain=may_have_landed,
                last_error=reason,
                next_attempt_at=None,
                held_by=None,
                in_flight=False,
                live_message=None,
                updated_at=self._clock(),
            ),
        )

    async def _settle(
        self, client_token: str, owed: Sequence[OwedReply], awaiting: Collection[int], settle: Update
    ) -> bool:
        """Settle an entry and write the replies it owes, in one transaction. Refused (False) while someone
        awaits it whom the caller has not written a reply for: add_awaiting only adds to a pending entry,
        and both hold the entry's row (on SQLite the whole file) while they look, so once this commits
        nobody can start awaiting it, and nobody who did is left untold."""
        async with self._write() as connection:
            await connection.execute(_lock_entry(client_token))
            present = set(
                (
                    await connection.execute(
                        select(awaiting_replies.c.id).where(awaiting_replies.c.client_token == client_token)
                    )
                ).scalars()
            )
            if not present <= set(awaiting):
                return False
            if (await connection.execute(settle)).rowcount:
                await _insert_owed(connection, owed, self.holder)
                await connection.execute(
                    delete(awaiting_replies).where(awaiting_replies.c.client_token == client_token)
                )
        return True

    async def add_awaiting(self, client_token: str, notice: str) -> bool:
        async with self._write() as connection:
            state = (await connection.execute(_lock_entry(client_token))).scalar_one_or_none()
            if state != EntryState.PENDING.value:
                return False
            await connection.execute(
                _insert(connection, awaiting_replies)
                .values(client_token=client_token, notice=notice)
                .on_conflict_do_nothing()
            )
        return True

    async def awaiting(self, client_token: str) -> list[Awaiting]:
        async with self._one_statement() as connection:
            rows = (
                await connection.execute(
                    select(awaiting_replies.c.id, awaiting_replies.c.notice)
                    .where(awaiting_replies.c.client_token == client_token)
                    .order_by(awaiting_replies.c.id)
                )
            ).all()
        return [Awaiting(int(row.id), str(row.notice)) for row in rows]

    async def owe_replies(self, owed: Sequence[OwedReply]) -> None:
        if owed:
            async with self._write() as connection:
                await _insert_owed(connection, owed, self.holder)

    async def owed_replies(self, client_token: str) -> list[OwedReply]:
        async with self._one_statement() as connection:
            rows = (
                await connection.execute(
                    select(*owed_replies.c)
                    .where(_owed.client_token == client_token)
                    .order_by(_owed.owed_since, _owed.id)
                )
            ).all()
        return [_owed_from_row(row) for row in rows]

    async def claim_owed_replies(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[OwedReply]:
        async with self._write() as connection:
            rows = (await connection.execute(due_owed_replies(now, limit, skip))).all()
            ids = [row.id for row in rows]
            if ids:
                await connection.execute(
                    update(owed_replies)
                    .where(_owed.id.in_(ids))
                    .values(due_at=lease_until, held_by=self.holder)
                )
        return [replace(_owed_from_row(row), due_at=lease_until) for row in rows]

    async def renew_reply_lease(self, reply_id: str, held: datetime | None, until: datetime) -> bool:
        # Compare-and-set, as renew_lease: only the teller that left the hold as `held` may move it.
        return (
            await self._change(
                update(owed_replies)
                .where(_owed.id == reply_id, _owed.due_at.is_not_distinct_from(held))
                .values(due_at=until, held_by=self.holder)
            )
            == 1
        )

    async def reschedule_reply(self, reply_id: str, due_at: datetime) -> None:
        await self._change(
            update(owed_replies)
            .where(_owed.id == reply_id)
            .values(attempts=_owed.attempts + 1, due_at=due_at, held_by=None)
        )

    async def forget_reply(self, reply_id: str) -> None:
        await self._change(delete(owed_replies).where(_owed.id == reply_id))

    async def schedule_retry(
        self, client_token: str, next_attempt_at: datetime, reason: str, uncertain: bool
    ) -> None:
        values: dict[str, Any] = {
            "attempts": _entries.attempts + 1,
            "last_error": reason,
            "next_attempt_at": next_attempt_at,
            "held_by": None,
            "updated_at": self._clock(),
        }
        if uncertain:
            values["uncertain"] = True  # once uncertain, always: a later refusal says nothing of that try
        values["in_flight"] = False
        await self._change(
            update(timeline_entries)
            .where(_entries.client_token == client_token, _something_owed())
            .values(values)
        )

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[StoredEntry]:
        return await self._claim(due_entries(now, limit, skip), lease_until)

    async def _claim(self, query: Select[Any], lease_until: datetime) -> list[StoredEntry]:
        async with self._write() as connection:
            rows = (await connection.execute(query)).all()
            tokens = [row.client_token for row in rows]
            if tokens:
                await connection.execute(
                    update(timeline_entries)
                    .where(_entries.client_token.in_(tokens))
                    .values(next_attempt_at=lease_until, held_by=self.holder)
                )
        claimed = [_entry_from_row(row) for row in rows]
        return [_held(stored, lease_until) for stored in claimed]

    async def pending_count(self) -> int:
        async with self._one_statement() as connection:
            return int((await connection.execute(pending_entries_count())).scalar_one())

    async def prune(self, now: datetime) -> int:
        """Delete settled entries older than the retention, and abandoned drafts; return how many entries."""
        cutoff = now - self._retention
        deleted = 0
        while True:
            batch = expired_entries(cutoff, PRUNE_BATCH).scalar_subquery()
            await self._change(delete(entry_pinners).where(_pinners.client_token.in_(batch)))
            count = await self._change(delete(timeline_entries).where(_entries.client_token.in_(batch)))
            deleted += count
            if count < PRUNE_BATCH:
                break
        # A reply owed that long is long past use (its response_url, 30 minutes), and holds a notice too.
        await self._change(delete(owed_replies).where(_owed.owed_since < cutoff))
        await self._change(delete(drafts).where(drafts.c.created_at < now - DRAFT_MAX_AGE))
        await self._change(delete(deliveries).where(deliveries.c.seen_at < now - DELIVERY_MEMORY))
        await self._change(delete(replicas).where(replicas.c.seen_at < now - REPLICA_MEMORY))
        return deleted

    # Replicas

    async def heartbeat_replica(self, replica_id: str, live_within: timedelta) -> int:
        # PostgreSQL's own clock (replicas on several hosts); SQLite's replicas share one host, and its clock.
        now: Any = self._clock() if self._sqlite else func.now()
        upsert = _insert_for(self._sqlite, replicas).values(
            replica_id=replica_id, started_at=now, seen_at=now
        )
        async with self._write() as connection:
            await connection.execute(
                upsert.on_conflict_do_update(index_elements=[replicas.c.replica_id], set_={"seen_at": now})
            )
            live = await connection.execute(
                select(func.count()).select_from(replicas).where(replicas.c.seen_at >= now - live_within)
            )
            return int(live.scalar_one())

    async def release_holds(self, holder: str, now: datetime) -> int:
        # Pending entries and sent ones owing a change (only those have a due time: the indexes on state and
        # due time find them, not the settled history).
        entries = await self._change(
            update(timeline_entries)
            .where(
                _entries.state.in_([EntryState.PENDING.value, EntryState.SENT.value]),
                _entries.next_attempt_at > now,
                _entries.held_by == holder,
            )
            .values(next_attempt_at=now, held_by=None)
        )
        await self._change(
            update(owed_replies)
            .where(_owed.due_at > now, _owed.held_by == holder)
            .values(due_at=now, held_by=None)
        )
        return entries

    async def remove_replica(self, replica_id: str) -> None:
        await self._change(delete(replicas).where(replicas.c.replica_id == replica_id))

    # Deliveries

    async def first_delivery(self, key: str, now: datetime) -> bool:
        upsert = _insert_for(self._sqlite, deliveries).values(delivery_key=key, seen_at=now)
        # New, or remembered from longer ago than the window (not pruned yet): this one is the first.
        statement = upsert.on_conflict_do_update(
            index_elements=[deliveries.c.delivery_key],
            set_={"seen_at": upsert.excluded.seen_at},
            where=deliveries.c.seen_at < now - DELIVERY_MEMORY,
        )
        return await self._change(statement) == 1

    # Drafts

    async def save_draft_texts(self, draft_id: str, texts: dict[str, str]) -> None:
        now = self._clock()
        async with self._write() as connection:
            await connection.execute(delete(drafts).where(drafts.c.created_at < now - DRAFT_MAX_AGE))
            if texts:
                upsert = _insert(connection, drafts)
                await connection.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[drafts.c.draft_id, drafts.c.shown_key],
                        set_={
                            "full_text": upsert.excluded.full_text,
                            "created_at": upsert.excluded.created_at,
                        },
                    ),
                    [
                        {"draft_id": draft_id, "shown_key": key, "full_text": text, "created_at": now}
                        for key, text in texts.items()
                    ],
                )

    async def draft_text(self, draft_id: str, shown_key: str) -> str | None:
        async with self._one_statement() as connection:
            found = await connection.execute(
                select(drafts.c.full_text).where(
                    drafts.c.draft_id == draft_id, drafts.c.shown_key == shown_key
                )
            )
            text = found.scalar_one_or_none()
        return str(text) if text is not None else None

    # Helpers

    async def _change(self, statement: Executable) -> int:
        async with self._one_statement() as connection:
            return (await connection.execute(statement)).rowcount


def _engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            # One connection, which the store hands to one unit of work at a time (memory must keep its
            # one connection anyway). Every unit ends in COMMIT or ROLLBACK, so the pool's own reset on
            # return would only cost another trip to the driver's thread.
            poolclass=StaticPool,
            pool_reset_on_return=None,
        )
        _take_over_sqlite_transactions(engine, journal=not is_in_memory(url))
        return engine
    return create_async_engine(
        url,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_POOL_SIZE,
        # A connection the server closed (a failover, a restart) is replaced before use.
        pool_pre_ping=True,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )


def _take_over_sqlite_transactions(engine: AsyncEngine, *, journal: bool) -> None:
    """SQLAlchemy's recipe: the driver emits no BEGIN of its own, and a unit of work of several statements
    begins IMMEDIATE (the write lock, at once); one of a single statement needs none."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MILLISECONDS}")
        if journal:
            # Readers never wait for the writer, nor the writer for readers. The mode is kept in the file:
            # while another connection is writing (a replica migrating a new file) it cannot change, and
            # SQLite says so at once; whichever connection comes next sets it.
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as error:
                logger.debug("journal mode left as it is for now", extra={"error": str(error)})
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        if not connection.get_execution_options().get(_ONE_STATEMENT, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _insert(connection: AsyncConnection, table: Any) -> Any:
    return _insert_for(connection.dialect.name == "sqlite", table)


def _insert_for(on_sqlite: bool, table: Any) -> Any:
    # The one statement whose form differs by database: INSERT ... ON CONFLICT.
    return sqlite.insert(table) if on_sqlite else postgresql.insert(table)


def _binding_key(team_id: str, channel_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return bindings.c.team_id == team_id, bindings.c.channel_id == channel_id


async def _select_binding(
    connection: AsyncConnection, team_id: str, channel_id: str, *, lock: bool = False
) -> Binding | None:
    query = select(*bindings.c).where(*_binding_key(team_id, channel_id))
    if lock:
        query = query.with_for_update()
    row = (await connection.execute(query)).first()
    return _binding_from_row(row) if row is not None else None


def _binding_from_row(row: Row[Any]) -> Binding:
    return Binding(
        row.team_id, row.channel_id, row.incident_arn, row.incident_title, row.bound_by, row.bound_at
    )


def _entry_by_token(client_token: str) -> Select[Any]:
    return select(*_ENTRY_COLUMNS).where(_entries.client_token == client_token)


def _entry_from_row(row: Row[Any]) -> StoredEntry:
    entry = TimelineEntry(
        client_token=row.client_token,
        incident_arn=row.incident_arn,
        event_type=EventType(row.event_type),
        event_time=row.event_time,
        event_data=row.event_data,
    )
    return StoredEntry(
        entry=entry,
        state=EntryState(row.state),
        event_id=row.event_id,
        notice=row.notice or "",
        attempts=int(row.attempts or 0),
        uncertain=bool(row.uncertain),
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        source=_source_from_row(row),
        change=_change_from_row(row, entry),
        revision=int(row.revision or 0),
        in_flight=bool(row.in_flight),
    )


def _source_from_row(row: Row[Any]) -> EntrySource | None:
    if row.message_ts is None or row.origin is None:
        return None
    try:
        render: dict[str, Any] = json.loads(row.render) if row.render else {}
    except ValueError:
        render = {}
    return EntrySource(
        message=MessageRef(row.message_team, row.message_channel, row.message_ts),
        origin=EntryOrigin(row.origin),
        follows_edits=bool(row.follows_edits),
        author_id=render.get("author_id"),
        author_fallback=str(render.get("author_fallback") or ""),
        added_by_id=render.get("added_by_id"),
        permalink=render.get("permalink"),
        generation=int(row.generation or 0),
    )


def _change_from_row(row: Row[Any], entry: TimelineEntry) -> OwedChange | None:
    if row.change is None:
        return None
    kind = ChangeKind(row.change)
    content = None
    if kind is ChangeKind.UPDATE:
        content = TimelineEntry(
            client_token=entry.client_token,
            incident_arn=entry.incident_arn,
            event_type=EventType(row.change_type),
            event_time=row.change_time,
            event_data=row.change_data,
        )
    revision = int(row.revision or 0)
    return OwedChange(
        kind=kind,
        revision=revision,
        entry=content,
        notice=row.change_notice or "",
        since=row.change_since,
    )


def _source_values(source: EntrySource | None) -> dict[str, Any]:
    if source is None:
        return {"origin": EntryOrigin.TYPED.value}
    render = {
        "author_id": source.author_id,
        "author_fallback": source.author_fallback,
        "added_by_id": source.added_by_id,
        "permalink": source.permalink,
    }
    return {
        "message_team": source.message.team_id,
        "message_channel": source.message.channel_id,
        "message_ts": source.message.ts,
        "origin": source.origin.value,
        "follows_edits": source.follows_edits,
        "generation": source.generation if source.origin.counts_generations else None,
        "render": json.dumps(render, ensure_ascii=False, separators=(",", ":")),
    }


# What recording a change as made (or given up) clears.
_NO_CHANGE: dict[str, Any] = {
    "change": None,
    "change_type": None,
    "change_time": None,
    "change_data": None,
    "change_notice": None,
    "change_since": None,
}


def _change_settled(now: datetime) -> dict[str, Any]:
    """What a change's outcome, recorded, always resets: no attempt in flight, nobody holding it."""
    return {"in_flight": False, "held_by": None, "attempts": 0, "uncertain": False, "updated_at": now}


def _something_owed() -> ColumnElement[bool]:
    """A create (pending) or a change is owed: the rows an attempt may hold and send."""
    return (_entries.state == EntryState.PENDING.value) | (
        (_entries.state == EntryState.SENT.value) & _entries.change.is_not(None)
    )


async def _insert_pinner(connection: AsyncConnection, client_token: str, user_id: str, now: datetime) -> None:
    await connection.execute(
        _insert(connection, entry_pinners)
        .values(client_token=client_token, user_id=user_id, pinned_at=now)
        .on_conflict_do_nothing()
    )


async def _locked_entry(connection: AsyncConnection, client_token: str) -> StoredEntry | None:
    """The entry, its row held until the transaction ends (a change reads it, decides, then writes)."""
    row = (await connection.execute(_entry_by_token(client_token).with_for_update())).first()
    return _entry_from_row(row) if row is not None else None


async def _rewritten(connection: AsyncConnection, client_token: str, values: dict[str, Any]) -> StoredEntry:
    """Write `values` to the entry and read it back, with who pins it."""
    await connection.execute(
        update(timeline_entries).where(_entries.client_token == client_token).values(values)
    )
    after = _entry_from_row((await connection.execute(_entry_by_token(client_token))).one())
    return replace(after, pinners=await _pinners_of(connection, client_token))


async def _forget_pinners(connection: AsyncConnection, client_token: str) -> None:
    await connection.execute(delete(entry_pinners).where(_pinners.client_token == client_token))


async def _pinners_of(connection: AsyncConnection, client_token: str) -> frozenset[str]:
    found = await connection.execute(select(_pinners.user_id).where(_pinners.client_token == client_token))
    return frozenset(str(user) for user in found.scalars())


async def _free_live_key(connection: AsyncConnection, stored: StoredEntry) -> str | None:
    """The entry's message key, unless another live entry of its message on its incident holds it."""
    if stored.source is None:
        return None
    key = message_key(stored.source.message)
    taken = await connection.execute(
        select(_entries.client_token).where(
            _entries.live_message == key, _entries.incident_arn == stored.entry.incident_arn
        )
    )
    return None if taken.first() is not None else key


def _owed_from_row(row: Row[Any]) -> OwedReply:
    return OwedReply(
        id=str(row.id),
        client_token=row.client_token,
        notice=row.notice,
        reply=row.reply,
        landed=bool(row.landed),
        due_at=row.due_at,
        owed_since=row.owed_since,
        attempts=int(row.attempts),
    )


async def _insert_owed(connection: AsyncConnection, owed: Sequence[OwedReply], holder: str) -> None:
    if not owed:
        return
    await connection.execute(
        _insert(connection, owed_replies).on_conflict_do_nothing(),
        [
            {
                "id": reply.id,
                "client_token": reply.client_token,
                "notice": reply.notice,
                "reply": reply.reply,
                "landed": reply.landed,
                "due_at": reply.due_at,
                "attempts": reply.attempts,
                "owed_since": reply.owed_since,
                # Held by the caller until due_at, while it tells them at once.
                "held_by": holder,
            }
            for reply in owed
        ],
    )


def _lock_entry(client_token: str) -> Select[Any]:
    # The entry's row, held until the transaction ends (PostgreSQL; SQLite's BEGIN IMMEDIATE holds all).
    return select(_entries.state).where(_entries.client_token == client_token).with_for_update()


def _held(stored: StoredEntry, lease_until: datetime) -> StoredEntry:
    return replace(stored, next_attempt_at=lease_until)
