"""Keys seen lately, to know a re-delivery from Slack (same event_id): in this process's memory, and
shared by every replica through the store."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from bot.usecases.ports import DeliveryStore

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


# Slack retries a delivery three times within about five minutes.
RETRY_WINDOW_SECONDS = 15 * 60.0
MAX_KEYS = 50_000


class RecentKeys:
    def __init__(self, window: float = RETRY_WINDOW_SECONDS, max_keys: int = MAX_KEYS) -> None:
        self._window = window
        self._max_keys = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        """True the first time `key` is seen within the window; False for a repeat."""
        now = time.monotonic()
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._window and len(self._seen) < self._max_keys:
                break
            del self._seen[oldest]
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class DeliveredOnce:
    """Whether a Slack delivery (an event id, a command's trigger) is seen for the first time by the whole
    deployment: a retry Slack sends to another replica is known as a repeat there too.

    This replica's own memory answers a repeat first, without a trip; a key new to it is recorded in the
    store (`first_delivery`), where of replicas asking at once one hears it is the first. Asked only after
    the ack. If the store cannot answer, the delivery is taken as the first: a person's note or pin is never
    dropped for it, and its clientToken (one per source, written once in the store) still keeps AWS from
    making a second event; a repeated bind would at worst be announced twice."""

    def __init__(
        self, store: DeliveryStore, kind: str, local: RecentKeys | None = None, clock: Clock = _utc_now
    ) -> None:
        self._store = store
        # Event ids and command triggers share the store's table: each kind keys its own.
        self._kind = kind
        self._local = local or RecentKeys()
        self._clock = clock

    async def first_time(self, key: str) -> bool:
        if not self._local.first_time(key):
            return False
        try:
            return await self._store.first_delivery(f"{self._kind}:{key}", self._clock())
        except Exception as error:  # noqa: BLE001 - handled as the first: see the class's note
            logger.warning(
                "could not check a delivery against the store; handling it as the first",
                extra={"kind": self._kind, "error": str(error)[:300]},
            )
            return True
