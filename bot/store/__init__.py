"""Where bindings, timeline entries and drafts live (an adapter): `SqlStore` implements the store ports in
`bot.usecases.ports` on SQLite (the embedded default) or PostgreSQL (several replicas), named by
DATABASE_URL. Nothing outside this package knows which database it is: the rest of the bot uses these
functions and `StoreUnavailable`."""

from __future__ import annotations

from datetime import timedelta

from bot.store.errors import StoreUnavailable
from bot.store.migrate import head
from bot.store.sql import DEFAULT_ENTRY_RETENTION, SqlStore
from bot.store.urls import UnsupportedDatabaseUrl, describe, validate_database_url

__all__ = [
    "SqlStore",
    "StoreUnavailable",
    "UnsupportedDatabaseUrl",
    "describe",
    "migrate_database",
    "open_store",
    "validate_database_url",
]


def open_store(
    database_url: str, entry_retention: timedelta = DEFAULT_ENTRY_RETENTION, holder: str | None = None
) -> SqlStore:
    """The store DATABASE_URL names; it connects (and migrates) on first use. `holder` names this replica
    on the holds it takes."""
    return SqlStore(database_url, entry_retention=entry_retention, holder=holder)


async def migrate_database(database_url: str) -> str:
    """`python -m bot migrate`: bring the schema up to date; say where it stands, in one line."""
    store = SqlStore(database_url)
    try:
        revision = await store.migrate()
    finally:
        await store.close()
    state = "current" if revision == head() else "newer than this version"
    return f"{store.description} is at schema revision {revision} ({state})"
