"""How SQLite and PostgreSQL run the outbox sweep's queries once the history holds 100,000 settled entries
(EXPLAIN): each should go through its index, never scan the table.

    python -m bench.sweep_plan [--rows 100000]

PostgreSQL is TEST_DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres); a
scratch database is created there and dropped afterwards. tests/store/test_sweep_plans.py asserts the same.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.timeline import client_token
from bot.store import SqlStore
from tests.store.plans import SETTLED_ROWS, seed_settled, sweep_plans
from tests.store.support import entry, owed
from tests.support.postgres import scratch_database, server_problem, server_url


async def plans_for(database_url: str, rows: int) -> dict[str, str]:
    store = SqlStore(database_url)
    try:
        await store.migrate()
        await seed_settled(database_url, rows)
        now = datetime.now(UTC)
        for i in range(20):
            await store.save_entry_once(entry(client_token("due", str(i))), "{}", now - timedelta(seconds=i))
        for i in range(5):
            token = client_token("owed", str(i))
            await store.save_entry_once(entry(token), "{}", now)
            await store.mark_sent(token, f"event-{i}", [owed(token, "Now on the timeline", True, now)])
    finally:
        await store.close()
    return await sweep_plans(database_url)


def show(title: str, plans: dict[str, str]) -> None:
    print(f"== {title}")
    for name, plan in plans.items():
        print(f"-- {name}")
        print("   " + plan.replace("\n", "\n   "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=SETTLED_ROWS, help="settled entries to write first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'plan.db'}"
        show(f"SQLite, {args.rows} settled entries", asyncio.run(plans_for(url, args.rows)))
    if (problem := server_problem()) is not None:
        print(f"== PostgreSQL: skipped, {problem}")
        return
    with scratch_database(server_url(), prefix="incident_bot_plan") as url:
        show(f"PostgreSQL, {args.rows} settled entries", asyncio.run(plans_for(url, args.rows)))


if __name__ == "__main__":
    main()
