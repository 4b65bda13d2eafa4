"""DATABASE_URL: the forms the store takes (each mapped to its asyncio driver), the ones it refuses with
one sentence that never repeats a password, and how a database is named for people."""

from __future__ import annotations

import pytest

from bot.store import describe, validate_database_url
from bot.store.urls import UnsupportedDatabaseUrl, engine_url


@pytest.mark.parametrize(
    ("url", "driver", "database"),
    [
        ("sqlite:///rel.db", "sqlite+aiosqlite", "rel.db"),
        ("sqlite:///data/rel.db", "sqlite+aiosqlite", "data/rel.db"),
        ("sqlite:////abs/x.db", "sqlite+aiosqlite", "/abs/x.db"),
        ("sqlite://", "sqlite+aiosqlite", ":memory:"),
        ("sqlite:///", "sqlite+aiosqlite", ":memory:"),
        ("sqlite:///:memory:", "sqlite+aiosqlite", ":memory:"),
        ("sqlite+pysqlite:///rel.db", "sqlite+aiosqlite", "rel.db"),
        ("sqlite+aiosqlite:///rel.db", "sqlite+aiosqlite", "rel.db"),
        ("sqlite:///rel.db?timeout=5", "sqlite+aiosqlite", "rel.db"),
        ("postgresql://app:pw@db.internal:5432/incidents", "postgresql+asyncpg", "incidents"),
        ("postgresql+asyncpg://app:pw@db.internal/incidents", "postgresql+asyncpg", "incidents"),
        ("postgres://app@db/incidents", "postgresql+asyncpg", "incidents"),
    ],
)
def test_each_form_maps_to_its_asyncio_driver(url: str, driver: str, database: str) -> None:
    parsed = engine_url(url)
    assert (parsed.drivername, parsed.database) == (driver, database)
    assert validate_database_url(url) is None


def test_libpq_sslmode_becomes_asyncpgs_ssl() -> None:
    parsed = engine_url("postgresql://app:pw@db/incidents?sslmode=require")
    assert dict(parsed.query) == {"ssl": "require"}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql+pymysql://db/incidents", "DATABASE_URL must be a sqlite:// or postgresql:// URL"),
        ("postgresql+psycopg2://app:pw@db/x", "DATABASE_URL must be a sqlite:// or postgresql:// URL"),
        ("sqlite:rel.db", "DATABASE_URL must be a URL such as sqlite:///incident-bot.db"),
        ("rel.db", "DATABASE_URL must be a URL such as"),
        ("", "DATABASE_URL must be a URL such as"),
        ("sqlite://host/x.db", "DATABASE_URL must look like sqlite:///relative.db or sqlite:////absolute.db"),
        ("postgresql://app:pw@db:5432", "DATABASE_URL must look like postgresql://user:password@host:5432"),
        ("postgresql://app:pw@db:port/x", "DATABASE_URL must look like postgresql://user:password@host:5432"),
    ],
)
def test_refusals_are_one_sentence_without_the_password(url: str, problem: str) -> None:
    message = validate_database_url(url)
    assert message is not None and message.startswith(problem)
    assert "pw" not in message
    with pytest.raises(UnsupportedDatabaseUrl) as raised:
        engine_url(url)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("sqlite:///rel.db", "the SQLite database rel.db"),
        ("sqlite://", "an in-memory SQLite database"),
        (
            "postgresql://app:s3cr3t@db.internal:6543/incidents",
            "the PostgreSQL database 'incidents' on db.internal:6543",
        ),
        (
            "postgresql+asyncpg://app:s3cr3t@db.internal/incidents",
            "the PostgreSQL database 'incidents' on db.internal:5432",
        ),
    ],
)
def test_a_database_is_named_by_kind_name_and_host_never_its_password(url: str, named: str) -> None:
    assert describe(url) == named
    assert "s3cr3t" not in describe(url) and "app" not in describe(url)
