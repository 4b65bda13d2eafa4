"""This replica among the others serving one database: each says it is alive about every second (a row of
its own), counts the replicas seen lately, and takes that share of the deployment's rate limit towards
Incident Manager. Two replicas at INCIDENT_MANAGER_CALLS_PER_SECOND=5 send 2.5 calls a second each; when
one stops it deletes its row, and the other is back at 5 within a heartbeat; one that dies (kill -9, a lost
host) stops counting once it has not been seen for LIVE_WITHIN.

Dividing, rather than sharing one bucket through the database: a turn stays a local asyncio wait (no
database trip per call, nothing to contend on), and the database is asked once a second whatever the load.
The cost is a few seconds after a replica dies or starts when the shares are briefly off: too slow (a dead
one still counted) or too fast (a new one not yet counted by the others); the latter is what the rate
limit's back-off on throttling is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.usecases.ports import ReplicaStore

logger = logging.getLogger(__name__)

# How often a replica says it is alive.
HEARTBEAT_EVERY = timedelta(seconds=1)
# Seen within this long, a replica counts as live: three heartbeats may be late (a busy host, a slow
# database) before its share goes to the others.
LIVE_WITHIN = timedelta(seconds=3.5)


class Replicas:
    def __init__(
        self,
        store: ReplicaStore,
        replica_id: str,
        configured_rate: float,
        set_rate: Callable[[float], None] | None,
        *,
        heartbeat: timedelta = HEARTBEAT_EVERY,
        live_within: timedelta = LIVE_WITHIN,
    ) -> None:
        self._store = store
        self.replica_id = replica_id
        self._configured_rate = configured_rate
        self._set_rate = set_rate
        self._heartbeat = heartbeat
        self._live_within = live_within
        self._live: int | None = None
        self._failing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def live(self) -> int:
        """The live replicas at the latest heartbeat (1 until the first)."""
        return self._live or 1

    @property
    def rate(self) -> float:
        """This replica's share of the deployment's rate."""
        return self._configured_rate / self.live

    async def beat(self) -> int:
        """Say this replica is alive, and take its share of the rate; return how many are live. A store
        failure keeps the share as it was (the others cannot beat either, most likely) and says so once."""
        try:
            live = max(1, await self._store.heartbeat_replica(self.replica_id, self._live_within))
        except Exception as error:  # noqa: BLE001 - the next beat tries again
            if not self._failing:
                logger.warning(
                    "replica heartbeat failed; keeping this replica's share of the rate limit",
                    extra={"replica": self.replica_id, "error": str(error)[:300]},
                )
            self._failing = True
            return self.live
        self._failing = False
        if live != self._live:
            previous, self._live = self._live, live
            if self._set_rate is not None:
                self._set_rate(self.rate)
            if previous is None and live == 1:
                return live  # alone from the start, as the configured rate says: start-up stays short
            logger.info(
                "live replicas changed",
                extra={
                    "replicas": live,
                    "previous": previous,
                    "replica": self.replica_id,
                    "calls_per_second": round(self.rate, 3),
                },
            )
        return live

    async def join(self) -> int:
        """Take back what this replica's previous run held (killed, it could not give it up), then the
        first heartbeat: both before this replica serves or sends anything. Then one about every second."""
        try:
            resumed = await self._store.release_holds(self.replica_id, datetime.now(UTC))
        except Exception as error:  # noqa: BLE001 - those holds run out by themselves within a lease
            logger.warning("could not take back earlier holds", extra={"error": str(error)[:300]})
        else:
            if resumed:
                logger.info("taking back what this replica's previous run held", extra={"entries": resumed})
        live = await self.beat()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._beat_forever())
        return live

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat.total_seconds())
            await self.beat()

    async def leave(self) -> None:
        """Stop beating and delete this replica's row, so the others take its share at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self._store.remove_replica(self.replica_id)
        except Exception as error:  # noqa: BLE001 - its row goes stale in a few seconds anyway
            logger.warning(
                "could not remove this replica's row",
                extra={"replica": self.replica_id, "error": str(error)[:300]},
            )
