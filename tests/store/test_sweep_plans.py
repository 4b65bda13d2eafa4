"""The sweep finds its work through indexes: with 100,000 settled entries, no query it runs scans the
history (EXPLAIN on SQLite and on PostgreSQL). Owed replies live in their own table, a few rows at most
(deleted once told): a look at all of it costs nothing, and it never touches the history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.domain.timeline import client_token
from bot.store import SqlStore
from tests.store.plans import seed_settled, sweep_plans
from tests.store.support import entry, owed

# The index each query on timeline_entries must go through.
EXPECTED = {
    "claim_due": "entries_due",
    "claim_due_changes": "entries_due",
    "entries_for_message": "entries_live",
    "pending_count": "entries_due",
    "prune": "entries_by_age",
}


async def test_the_sweep_uses_indexes_with_100000_settled_entries(store: SqlStore, database_url: str) -> None:
    await seed_settled(database_url)
    now = datetime.now(UTC)
    for i in range(20):  # some due work among the history: pending entries and owed replies
        await store.save_entry_once(entry(client_token("due", str(i))), "{}", now - timedelta(seconds=i))
    for i in range(5):
        token = client_token("owed", str(i))
        await store.save_entry_once(entry(token), "{}", now)
        await store.mark_sent(token, f"event-{i}", [owed(token, "Now on the timeline", True, now)])
    plans = await sweep_plans(database_url)
    for name, index in EXPECTED.items():
        plan = plans[name]
        if store.is_postgresql:
            assert re.search(rf"(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) {index}\b", plan), (
                plan
            )
            assert "Seq Scan" not in plan, plan
        else:
            assert re.search(rf"SEARCH timeline_entries USING (COVERING )?INDEX {index}\b", plan), plan
            assert "SCAN timeline_entries" not in plan, plan
    owed_plan = plans["claim_owed_replies"]
    assert "timeline_entries" not in owed_plan and "owed_replies" in owed_plan, owed_plan
    assert await store.pending_count() == 20
