"""Keys seen lately, to know a re-delivery from Slack (same event_id) without asking anyone."""

from __future__ import annotations

import time
from collections import OrderedDict

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
