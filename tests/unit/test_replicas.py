"""Each replica takes its share of the deployment's rate limit: the configured rate divided by the live
replicas, changed (with one log line, none for a replica alone from the start) only when their number does, kept when the store cannot answer."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.aws.rate_limit import RateLimiter
from bot.store import SqlStore
from bot.usecases.replicas import Replicas


class Heartbeats:
    """A store whose live count the test sets (or breaks)."""

    def __init__(self) -> None:
        self.live = 1
        self.broken = False
        self.beats: list[str] = []
        self.removed: list[str] = []
        self.released: list[str] = []

    async def heartbeat_replica(self, replica_id: str, live_within: timedelta) -> int:
        if self.broken:
            raise OSError("database unreachable")
        self.beats.append(replica_id)
        return self.live

    async def release_holds(self, holder: str, now: datetime) -> int:
        self.released.append(holder)
        return 0

    async def remove_replica(self, replica_id: str) -> None:
        self.removed.append(replica_id)


async def test_the_rate_is_divided_by_the_live_replicas_and_logged_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, limiter = Heartbeats(), RateLimiter(5.0)
    replicas = Replicas(store, "r1", 5.0, limiter.set_rate)
    caplog.set_level(logging.INFO, logger="bot.usecases.replicas")
    assert await replicas.beat() == 1 and limiter.configured_rate == 5.0
    store.live = 2
    assert await replicas.beat() == 2 and limiter.configured_rate == 2.5
    assert await replicas.beat() == 2  # the same: no new line
    store.live = 3
    await replicas.beat()
    assert limiter.configured_rate == pytest.approx(5.0 / 3)
    store.live = 1  # the others stopped (their rows deleted) or died (their rows went stale)
    await replicas.beat()
    assert limiter.configured_rate == 5.0
    changes = [r for r in caplog.records if r.getMessage() == "live replicas changed"]
    assert [(r.__dict__["previous"], r.__dict__["replicas"]) for r in changes] == [
        (1, 2),
        (2, 3),
        (3, 1),
    ]
    assert changes[0].__dict__["calls_per_second"] == 2.5


async def test_a_store_failure_keeps_the_share_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    store, limiter = Heartbeats(), RateLimiter(6.0)
    replicas = Replicas(store, "r1", 6.0, limiter.set_rate)
    store.live = 3
    await replicas.beat()
    store.broken = True
    caplog.set_level(logging.WARNING, logger="bot.usecases.replicas")
    for _ in range(3):
        assert await replicas.beat() == 3
    assert limiter.configured_rate == 2.0
    assert len([r for r in caplog.records if "heartbeat failed" in r.getMessage()]) == 1
    store.broken, store.live = False, 2
    assert await replicas.beat() == 2 and limiter.configured_rate == 3.0


async def test_leaving_stops_the_heartbeat_and_removes_the_row() -> None:
    store = Heartbeats()
    replicas = Replicas(store, "r1", 5.0, None, heartbeat=timedelta(milliseconds=1))
    await replicas.join()
    await replicas.leave()
    beats = len(store.beats)
    assert store.released == ["r1"]  # what its previous run held, taken back before the first beat
    assert store.removed == ["r1"]
    await replicas.beat()
    assert len(store.beats) == beats + 1  # only the one asked for: the loop is gone


async def test_two_replicas_on_one_database_each_take_half_and_one_leaving_gives_the_other_all(
    tmp_path: Path,
) -> None:
    path = f"sqlite:///{tmp_path / 'bot.db'}"
    stores = [SqlStore(path), SqlStore(path)]
    limiters = [RateLimiter(5.0), RateLimiter(5.0)]
    one, two = (
        Replicas(s, f"r{i}", 5.0, limiter.set_rate)
        for i, (s, limiter) in enumerate(zip(stores, limiters, strict=True))
    )
    try:
        await one.join()
        await two.join()
        await one.beat()
        assert [lim.configured_rate for lim in limiters] == [2.5, 2.5]
        await two.leave()
        await one.beat()
        assert limiters[0].configured_rate == 5.0
    finally:
        await one.leave()
        for store in stores:
            await store.close()
