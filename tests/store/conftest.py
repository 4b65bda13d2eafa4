"""The store contract runs against both databases: a SQLite file, and a real PostgreSQL server
(TEST_DATABASE_URL; this session's own database, emptied before each test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import SqlStore
from bot.store.sql import DEFAULT_ENTRY_RETENTION
from tests.support.postgres import run, scratch_database, truncate

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
TABLES = (
    "bindings",
    "timeline_entries",
    "drafts",
    "deliveries",
    "owed_replies",
    "awaiting_replies",
    "entry_pinners",
)

StoreMaker = Callable[..., Awaitable[SqlStore]]


@pytest.fixture(scope="session")
def migrated_postgres(postgres_database: str) -> str:
    async def migrate() -> None:
        store = SqlStore(postgres_database)
        try:
            await store.migrate()
        finally:
            await store.close()

    run(migrate())
    return postgres_database


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/bot.db"
    url: str = request.getfixturevalue("migrated_postgres")
    truncate(url, TABLES)
    return url


@pytest.fixture
async def open_store(database_url: str) -> AsyncIterator[StoreMaker]:
    """Opens stores on the test's database (another one is another replica); all closed afterwards."""
    opened: list[SqlStore] = []

    async def make(
        entry_retention: timedelta = DEFAULT_ENTRY_RETENTION, clock: Callable[[], datetime] | None = None
    ) -> SqlStore:
        store = SqlStore(
            database_url, entry_retention=entry_retention, clock=clock or (lambda: datetime.now(UTC))
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: StoreMaker) -> SqlStore:
    opened = await open_store()
    await opened.ping()
    return opened


@pytest.fixture
def postgres_url(migrated_postgres: str) -> str:
    """For what only PostgreSQL has (row locks)."""
    truncate(migrated_postgres, TABLES)
    return migrated_postgres


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no bot has used yet: a new SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    server: str = request.getfixturevalue("postgres_server")
    with scratch_database(server, prefix="incident_bot_fresh") as url:
        yield url
