"""DATABASE_URL: which database, checked once at start, and named for people without its password."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"})
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+asyncpg"})
_EXAMPLES = "sqlite:///incident-bot.db or postgresql://user:password@host:5432/database"


class UnsupportedDatabaseUrl(ValueError):
    """A DATABASE_URL the store cannot use; the message never repeats the URL (it may hold a password)."""


def engine_url(database_url: str) -> URL:
    """The SQLAlchemy URL for the asyncio drivers: `sqlite://` forms on aiosqlite, `postgresql://` forms
    on asyncpg."""
    scheme, sep, rest = database_url.strip().partition("://")
    if not sep:
        # Never echo it: a scheme-less DSN may carry a password.
        raise UnsupportedDatabaseUrl(f"DATABASE_URL must be a URL such as {_EXAMPLES}")
    scheme = scheme.lower()
    if scheme in _SQLITE_SCHEMES:
        return _sqlite_url(rest)
    if scheme in _POSTGRES_SCHEMES:
        return _postgres_url(rest)
    raise UnsupportedDatabaseUrl(
        f"DATABASE_URL must be a sqlite:// or postgresql:// URL such as {_EXAMPLES} (got '{scheme[:30]}://…')"
    )


def _sqlite_url(rest: str) -> URL:
    path = rest.split("?", 1)[0]
    if path and not path.startswith("/"):
        # sqlite://host/x.db: SQLite has no host, and what stands there may be user:password@host.
        raise UnsupportedDatabaseUrl(
            "DATABASE_URL must look like sqlite:///relative.db or sqlite:////absolute.db"
        )
    try:
        parsed = make_url("sqlite+aiosqlite://" + rest)
    except ArgumentError:
        raise UnsupportedDatabaseUrl(
            "DATABASE_URL must look like sqlite:///relative.db or sqlite:////absolute.db"
        ) from None
    if parsed.database in (None, "", ":memory:"):
        parsed = parsed.set(database=":memory:")
    return parsed


def _postgres_url(rest: str) -> URL:
    problem = "DATABASE_URL must look like postgresql://user:password@host:5432/database"
    try:
        parsed = make_url("postgresql+asyncpg://" + rest)
        parsed.port  # noqa: B018 - a port that is not a number fails here, not at connect time
    except (ArgumentError, ValueError):
        raise UnsupportedDatabaseUrl(problem) from None
    if not parsed.database:
        raise UnsupportedDatabaseUrl(problem + " (it names no database)")
    query = dict(parsed.query)
    if "sslmode" in query:
        # libpq's name, which RDS guides use; asyncpg takes the same modes as `ssl`.
        query["ssl"] = query.pop("sslmode")
    return parsed.set(query=query)


def validate_database_url(database_url: str) -> str | None:
    """Why this DATABASE_URL cannot be used (one sentence, no password), or None."""
    try:
        engine_url(database_url)
    except UnsupportedDatabaseUrl as error:
        return str(error)
    return None


def is_in_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database == ":memory:"


def describe(database_url: str | URL) -> str:
    """The database for a log line or an error: its kind, name and host; never the user or password."""
    url = database_url if isinstance(database_url, URL) else engine_url(database_url)
    if url.get_backend_name() == "sqlite":
        return "an in-memory SQLite database" if is_in_memory(url) else f"the SQLite database {url.database}"
    host = url.host or str(url.query.get("host") or "localhost")
    return f"the PostgreSQL database '{url.database}' on {host}:{url.port or 5432}"
