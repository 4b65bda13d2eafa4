"""What the fake recorded of the HTTP traffic (Web API calls, response_url POSTs), and the waits on
it that tests use (each failing with an AssertionError that shows everything that did arrive)."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from typing import Any

from .common import short
from .records import RecordedCall, RecordedResponse


class Recorder:
    """The recorded traffic; appended to by the HTTP handlers with ``cond`` held (and notified).

    The test-facing methods are documented on ``FakeSlack``, which delegates to them."""

    def __init__(self, lock: threading.RLock, cond: threading.Condition) -> None:
        self._lock = lock
        self._cond = cond
        self.calls: list[RecordedCall] = []
        self.response_log: list[RecordedResponse] = []

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.response_log.clear()

    def calls_snapshot(self) -> list[RecordedCall]:
        with self._lock:
            return list(self.calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def responses(self, url: str) -> list[Any]:
        with self._lock:
            return [copy.deepcopy(r.payload) for r in self.response_log if r.url == url and r.accepted]

    def all_responses(self) -> list[Any]:
        with self._lock:
            return [copy.deepcopy(r.payload) for r in self.response_log if r.accepted]

    def response_log_snapshot(self) -> list[RecordedResponse]:
        with self._lock:
            return list(self.response_log)

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.calls_to_locked(method)) >= count, timeout)
            got = self.calls_to_locked(method)
            if len(got) >= count:
                return got
            raise AssertionError(self._calls_failure(method, count, timeout))

    async def await_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedCall]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = self.calls_to_locked(method)
                if len(got) >= count:
                    return got
                if time.monotonic() >= deadline:
                    raise AssertionError(self._calls_failure(method, count, timeout))
            await asyncio.sleep(0.01)

    def wait_for_responses(self, url: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.responses(url)) >= count, timeout)
            got = self.responses(url)
            if len(got) >= count:
                return got
            raise AssertionError(self._responses_failure(url, count, timeout))

    async def await_responses(
        self,
        url: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = self.responses(url)
                if len(got) >= count:
                    return got
                if time.monotonic() >= deadline:
                    raise AssertionError(self._responses_failure(url, count, timeout))
            await asyncio.sleep(0.01)

    def calls_to_locked(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    def _calls_failure(self, method: str, count: int, timeout: float) -> str:
        got = self.calls_to_locked(method)
        lines = [f"expected {count} call(s) to {method} within {timeout}s, got {len(got)}."]
        lines.append(f"All {len(self.calls)} recorded call(s):")
        for c in self.calls:
            lines.append(f"  {c.method} {short(c.params)} -> {c.status} {short(c.response)}")
        return "\n".join(lines)

    def _responses_failure(self, url: str, count: int, timeout: float) -> str:
        got = self.responses(url)
        lines = [f"expected {count} response(s) to {url} within {timeout}s, got {len(got)}."]
        lines.append(f"All {len(self.response_log)} POST(s) to response URLs:")
        for r in self.response_log:
            lines.append(f"  {r.url} {short(r.payload)} -> {r.status} {r.answer}")
        if not self.response_log:
            lines.append("  (none)")
        lines.append(f"Web API calls: {[c.method for c in self.calls]}")
        return "\n".join(lines)
