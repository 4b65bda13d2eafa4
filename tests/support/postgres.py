"""A real PostgreSQL server for the tests: TEST_DATABASE_URL names it (a database on it the tests may
connect to, to create their own). Each test session creates its own database and drops it after.

Without a reachable server the PostgreSQL tests are skipped with one line saying how to run them; under
CI (CI=true) they fail instead, so a CI run can never pass without them."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

T = TypeVar("T")

ENV = "TEST_DATABASE_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
HOW_TO_RUN = (
    f"to run them, set {ENV} (default {DEFAULT_SERVER}) to a PostgreSQL server whose user may create "
    "databases, e.g. one started with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
)


def server_url() -> str:
    return os.environ.get(ENV, "").strip() or DEFAULT_SERVER


def database_url(server: str, database: str) -> str:
    return make_url(server).set(database=database).render_as_string(hide_password=False)


async def execute(url: str, *statements: str) -> None:
    # Outside any transaction: CREATE and DROP DATABASE refuse to run in one.
    engine = create_async_engine(
        make_url(url).set(drivername="postgresql+asyncpg"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"timeout": 5},
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run async work to its end from sync code, even where an event loop is already running (a
    fixture set up inside an async test): on a thread with a loop of its own."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def server_problem() -> str | None:
    """Why the server cannot be used (with how to run these tests), or None when it can."""
    try:
        run(execute(server_url(), "SELECT 1"))
    except (OSError, SQLAlchemyError, TimeoutError) as error:
        return f"no server ({type(error).__name__}: {str(error)[:100]}); {HOW_TO_RUN}"
    return None


def reachable_server() -> str:
    """The server's URL; without one, skip (fail under CI)."""
    problem = server_problem()
    if problem is not None:
        if under_ci():
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    return server_url()


def needs_postgres(item: pytest.Item) -> bool:
    return item.get_closest_marker("postgres") is not None or "postgres_server" in getattr(
        item, "fixturenames", ()
    )


@contextmanager
def scratch_database(server: str, prefix: str = "incident_bot_test") -> Iterator[str]:
    """A new, empty database on the server (its URL), dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    run(execute(server, f'CREATE DATABASE "{name}"'))
    try:
        yield database_url(server, name)
    finally:
        run(execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def truncate(url: str, tables: tuple[str, ...]) -> None:
    run(execute(url, f"TRUNCATE {', '.join(tables)}"))
