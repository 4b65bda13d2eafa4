"""Schema migrations (Alembic), one process at a time.

Every replica migrates at start, and `python -m bot migrate` does it on its own. A migration runs inside
one transaction that first takes a lock: on PostgreSQL a transaction-scoped advisory lock, on SQLite the
write lock of BEGIN IMMEDIATE. A second replica starting meanwhile waits, then finds the schema current.
Migrations only ever add (columns, tables, indexes), so a replica of the previous version keeps working
on a database a newer one has migrated: a rolling deploy needs no downtime.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.legacy import move_replies_left_on_entries

logger = logging.getLogger(__name__)
# Alembic narrates each run at INFO ("Context impl SQLiteImpl.", "Will assume transactional DDL."): the
# bot's own "database migrated" line says what matters, so start-up stays a few readable lines.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock's key: any constant the bot alone uses ("incident-timeline-bot migrate").
ADVISORY_LOCK_KEY = 0x1C1DE47B07
# How long a replica waits for another's migration before giving up.
LOCK_WAIT_SECONDS = 120
SQLITE_BUSY_MILLISECONDS = 5_000


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


async def upgrade(engine: AsyncEngine, target: str | None = None) -> str | None:
    """Bring the schema to this version's head (or `target`, an older revision: tests) under the lock;
    return the revision it is at."""
    async with engine.connect() as connection:
        return await connection.run_sync(_upgrade, target)


def _upgrade(connection: Connection, target: str | None) -> str | None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Set before BEGIN IMMEDIATE: how long to wait for the write lock another replica may hold.
        _sqlite_busy_timeout(connection, LOCK_WAIT_SECONDS * 1000)
    try:
        with connection.begin():
            if not sqlite:
                connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            current = MigrationContext.configure(connection).get_current_revision()
            script = ScriptDirectory.from_config(_config(connection))
            try:
                if current is not None:
                    script.get_revision(current)
            except CommandError:
                # Written by a newer version (a rolling deploy, or a rollback): its migrations only
                # added, so this version still works on it.
                logger.warning(
                    "database schema is newer than this version; serving it as it is",
                    extra={"revision": current, "head": script.get_current_head()},
                )
                move_replies_left_on_entries(connection)
                return current
            wanted = target or head()
            if current != wanted:
                # A new database is simply created (start-up stays a few lines); changing one that holds
                # data, an earlier version's included, is worth the operator's eye.
                fresh = current is None and not inspect(connection).has_table("timeline_entries")
                command.upgrade(_config(connection), wanted)
                logger.log(
                    logging.DEBUG if fresh else logging.INFO,
                    "database schema created" if fresh else "database migrated",
                    extra={"from": current, "to": wanted},
                )
            if wanted == head():
                # An older replica still running (a rolling upgrade) may have kept a reply on its entry.
                move_replies_left_on_entries(connection)
            return wanted
    finally:
        if sqlite:
            _sqlite_busy_timeout(connection, SQLITE_BUSY_MILLISECONDS)


def _sqlite_busy_timeout(connection: Connection, milliseconds: int) -> None:
    # On the driver's own cursor: through SQLAlchemy, the statement would begin a transaction first.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    finally:
        cursor.close()
