"""How the database runs the sweep's queries (EXPLAIN) once the history is large: shared by the test
that asserts it (tests/store/test_sweep_plans.py) and the script that prints it (bench/sweep_plan.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Executable, bindparam, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from bot.domain.slack_message import MessageRef
from bot.store.schema import Moment
from bot.store.sql import (
    due_changes,
    due_entries,
    due_owed_replies,
    expired_entries,
    live_entries_of,
    message_key,
    pending_entries_count,
)
from bot.store.urls import engine_url

SETTLED_ROWS = 100_000


class Explain(Executable, ClauseElement):
    """EXPLAIN (PostgreSQL) or EXPLAIN QUERY PLAN (SQLite) of one of the store's own statements."""

    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(Explain)
def _explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


_SETTLED = """
INSERT INTO timeline_entries (client_token, incident_arn, event_type, event_time, event_data, state,
    event_id, created_at, updated_at, notice)
SELECT 'settled-' || g, 'arn:aws:ssm-incidents::1:incident-record/p/x', 'Note', :at, '"x"',
    CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'sent' END, 'event-' || g, :at, :at, '{}'
"""
_SERIES = {
    "postgresql": " FROM generate_series(1, :n) AS g",
    "sqlite": " FROM (WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) SELECT g FROM s)",
}


async def seed_settled(database_url: str, count: int = SETTLED_ROWS) -> None:
    """`count` settled entries (a day old, nothing owed), written in one statement, then ANALYZE."""
    engine = create_async_engine(engine_url(database_url), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            statement = text(_SETTLED + _SERIES[connection.dialect.name]).bindparams(
                bindparam("at", type_=Moment()), bindparam("n")
            )
            await connection.execute(statement, {"at": datetime.now(UTC) - timedelta(days=1), "n": count})
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def sweep_plans(database_url: str) -> dict[str, str]:
    """Each sweep query's plan, as the database prints it."""
    now = datetime.now(UTC)
    queries = {
        "claim_due": due_entries(now, 10),
        "claim_due_changes": due_changes(now, 10),
        # What every message event in a bound channel costs (edits, deletes, un-pins): one look-up.
        "entries_for_message": live_entries_of(message_key(MessageRef("T1", "C1", "1712345678.000100"))),
        "claim_owed_replies": due_owed_replies(now, 10),
        "pending_count": pending_entries_count(),
        "prune": expired_entries(now - timedelta(days=30), 1000),
    }
    engine = create_async_engine(engine_url(database_url), poolclass=NullPool)
    plans: dict[str, str] = {}
    try:
        async with engine.connect() as connection:
            for name, query in queries.items():
                rows = (await connection.execute(Explain(query))).all()
                # SQLite: (id, parent, notused, detail); PostgreSQL: one line of text per row.
                plans[name] = "\n".join(str(row[-1]) for row in rows)
    finally:
        await engine.dispose()
    return plans
