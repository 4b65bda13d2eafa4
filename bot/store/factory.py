"""Pick the store implementation from DATABASE_URL (SQLAlchemy's URL form)."""

from __future__ import annotations

from bot.store.sqlite import SqliteStore
from bot.usecases.ports import Store


class UnsupportedDatabaseUrl(ValueError):
    pass


def sqlite_path(database_url: str) -> str:
    """`sqlite:///relative.db` -> `relative.db`; `sqlite:////abs/x.db` -> `/abs/x.db`; `sqlite://` -> memory."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        # Never echo it: a scheme-less DSN may carry a password.
        raise UnsupportedDatabaseUrl("DATABASE_URL must be a sqlite URL such as sqlite:///incident-bot.db")
    if scheme not in ("sqlite", "sqlite+pysqlite"):
        raise UnsupportedDatabaseUrl(
            f"DATABASE_URL must be a sqlite URL such as sqlite:///incident-bot.db (got '{scheme[:30]}://…')"
        )
    path = rest.split("?", 1)[0]
    if path in ("", "/", "/:memory:"):
        return ":memory:"
    if not path.startswith("/"):
        raise UnsupportedDatabaseUrl(
            "DATABASE_URL must look like sqlite:///relative.db or sqlite:////absolute.db"
        )
    return path[1:]


def is_in_memory(database_url: str) -> bool:
    return sqlite_path(database_url) == ":memory:"


def open_store(database_url: str) -> Store:
    return SqliteStore(sqlite_path(database_url))
