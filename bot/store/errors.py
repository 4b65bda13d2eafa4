"""The one error the rest of the bot sees from the store when the database cannot serve."""

from __future__ import annotations

from sqlalchemy.engine import URL

from bot.store.urls import describe


class StoreUnavailable(Exception):
    """The database cannot be reached or used. The message is one line naming the database (host and
    name) and why, and never its password."""

    def __init__(self, url: URL, what: str, error: BaseException) -> None:
        self.database = describe(url)
        self.reason = _reason(error, url.password)
        super().__init__(f"{what} {self.database}: {self.reason}")


def _reason(error: BaseException, password: str | None) -> str:
    # SQLAlchemy wraps the driver's error (`.orig`), whose own cause is asyncpg's or sqlite3's exception:
    # the innermost says it best, without SQLAlchemy's statement dump and link.
    inner: BaseException = getattr(error, "orig", None) or error
    while inner.__cause__ is not None and type(inner).__module__.startswith("sqlalchemy"):
        inner = inner.__cause__
    text = " ".join(f"{type(inner).__name__}: {inner}".split())
    if password:
        text = text.replace(password, "***")
    return text[:300]
