"""Faults the tests inject into the Web API: queued errors, rate limits, non-JSON HTTP failures, methods
down for as long as the test says, and latency (``response_url`` takes all of them too)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .common import JSONDict

# An injected answer: HTTP status, body, extra headers.
Answer = tuple[int, JSONDict, dict[str, str]]


@dataclass
class Fault:
    kind: str  # "error" | "ratelimit" | "http"
    remaining: int
    error: str = ""
    retry_after: int = 1
    status: int = 200


# Marks a fault answered as plain text rather than Slack's JSON.
RAW_TEXT = "__raw_text__"


class FaultPlan:
    """What goes wrong, per Web API method; shares the fake's lock (documented on ``FakeSlack``)."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: dict[str, deque[Fault]] = {}
        self._latency_default = 0.0
        self._latency: dict[str, float] = {}
        self._down: set[str] = set()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._down.clear()
            self._latency.clear()
            self._latency_default = 0.0

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).append(Fault("error", times, error=error))

    def rate_limit_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                Fault("ratelimit", times, error="ratelimited", retry_after=retry_after)
            )

    def fail_next_http(
        self, method: str, status: int = 503, body: str = "upstream connect error", times: int = 1
    ) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).append(Fault("http", times, error=body, status=status))

    def set_down(self, methods: Iterable[str], down: bool = True) -> None:
        with self._lock:
            if down:
                self._down.update(methods)
            else:
                self._down.difference_update(methods)

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        with self._lock:
            if method is None:
                self._latency_default = seconds
            else:
                self._latency[method] = seconds

    def latency_for(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency_default)

    def take(self, method: str) -> Answer | None:
        """The injected answer for this call of ``method``, if one is queued (and count it)."""
        with self._lock:
            if method in self._down:
                return 503, {RAW_TEXT: "upstream connect error"}, {}
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
        if fault.kind == "ratelimit":
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)}
        if fault.kind == "http":
            return fault.status, {RAW_TEXT: fault.error}, {}
        return 200, {"ok": False, "error": fault.error}, {}
