"""The client-side rate limit on calls to Incident Manager: it holds its rate in every window, and slows
down when AWS says it is going too fast.

Turns are handed out on the event loop one at a time, a little over 1/rate seconds apart (a burst of
one), so no window of t seconds ever sees more than t * rate calls start, however the calls bunch up. A
leaky or token bucket with a burst lets up to twice the rate through in one second after a quiet spell,
which an AWS quota of N calls a second answers with throttling. Then, in the worker thread, each attempt
is spaced once more from the previous one as it goes on the wire (`space_send`): what happens between a
turn and the wire takes a varying time, and AWS counts calls as they arrive.

A throttle halves the rate (not below a floor), and the rate then climbs back linearly to the configured
one: additive increase, multiplicative decrease, as TCP does, so that a quota shared with other clients
(or a quota lower than configured) is found instead of hammered on.

Waiters are served first come, first served, with one exception: a retry of a call that already had its
turn (botocore's, waiting in a worker thread) goes ahead of new calls. The turns' state lives on the
event loop, and only its methods touch it there; worker threads use `acquire_from_thread`,
`on_throttle_from_thread` and `space_send` (which has a lock of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError as FutureCancelled

# A throttle multiplies the rate by this, but never below FLOOR_FRACTION of the configured rate.
BACKOFF_FACTOR = 0.5
FLOOR_FRACTION = 0.125
# Recovery: the rate regains this fraction of the configured rate per second (from half to full in 5 s).
RECOVERY_PER_SECOND = 0.1
# Calls are spaced this much further than 1/rate apart. AWS counts calls as they arrive: calls that leave
# exactly 1/rate apart arrive a few milliseconds closer or further apart, so a client at exactly the quota
# straddles the edge of AWS's window about every other time (measured: a throttle every ~6 s at 5 calls/s
# against a quota of 5 in any sliding second). 2% (4 ms at 5 calls/s) keeps it clear, for 1.2 s in a minute.
HEADROOM = 0.02
# How often a worker thread waiting for a permit checks that the event loop is still there.
THREAD_POLL_SECONDS = 1.0


class RateLimiter:
    """Calls start a little over 1/rate apart, FIFO; `on_throttle` slows down, the rate recovers by itself."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self._configured = rate
        # The clock must be the event loop's (time.monotonic), since timers are set with call_later.
        self._clock = clock
        # After a throttle: the rate it was cut to, and when (the rate recovers from there). One tuple,
        # assigned at once, because worker threads read it.
        self._cut: tuple[float, float] | None = None
        self._last_grant: float | None = None
        self._grant_before: float | None = None  # the one before it, to give a wasted permit back
        self._retries: deque[asyncio.Future[float]] = deque()
        self._waiters: deque[asyncio.Future[float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # When the latest attempt went out (worker threads, under the lock): see space_send.
        self._send_lock = threading.Lock()
        self._last_send: float | None = None

    # ------------------------------------------------------------------------------- the rate

    @property
    def configured_rate(self) -> float:
        return self._configured

    @property
    def rate(self) -> float:
        """The rate now: the configured one, or less while recovering from a throttle."""
        cut = self._cut
        if cut is None:
            return self._configured
        cut_to, cut_at = cut
        return min(
            self._configured, cut_to + RECOVERY_PER_SECOND * self._configured * (self._clock() - cut_at)
        )

    @property
    def interval(self) -> float:
        """The least time between two starts now."""
        return (1.0 + HEADROOM) / self.rate

    def set_rate(self, rate: float) -> None:
        """Change the configured rate (e.g. the deployment's rate shared among its replicas), on the event
        loop. A back-off under way keeps its proportion of the new rate."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if self._cut is not None:
            self._cut = (self._cut[0] * rate / self._configured, self._cut[1])
        self._configured = rate
        self._rearm()

    def on_throttle(self, sent_at: float | None = None) -> bool:
        """AWS throttled a call (on the event loop): halve the rate, not below the floor. A call that went
        out (`sent_at`, as `space_send` returned it) before the last cut was too fast for the old rate, not
        for this one, so it does not cut again. Return whether the rate was cut."""
        if sent_at is not None and self._cut is not None and sent_at < self._cut[1]:
            return False
        self._cut = (max(FLOOR_FRACTION * self._configured, BACKOFF_FACTOR * self.rate), self._clock())
        self._rearm()
        return True

    # ------------------------------------------------------------------------------- permits

    async def acquire(self, *, retry: bool = False) -> float:
        """Wait for this call's turn; return when it came (by the limiter's clock). `retry`: a call that
        already had a turn, served before new ones."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests): what waited on the old one is gone with it
            self._loop, self._timer = loop, None
            self._retries.clear()
            self._waiters.clear()
        now = self._clock()
        if not self._retries and not self._waiters and now >= self._next_start():
            return self._grant(now)
        waiter: asyncio.Future[float] = loop.create_future()
        queue = self._retries if retry else self._waiters
        queue.append(waiter)
        self._rearm()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The turn came as the caller was cancelled: nobody uses it, so the next caller may.
                self._give_back(waiter.result())
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
            raise

    def acquire_from_thread(self) -> float | None:
        """`acquire(retry=True)` for a worker thread (a botocore hook), which blocks; never call it on the
        event loop. None if the loop is gone (the process stopping), so the thread is never stuck."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return None
        try:
            future = asyncio.run_coroutine_threadsafe(self.acquire(retry=True), loop)
        except RuntimeError:  # the loop closed meanwhile
            return None
        while True:
            try:
                return future.result(THREAD_POLL_SECONDS)
            except TimeoutError:
                if not loop.is_running():
                    future.cancel()
                    return None
            except FutureCancelled:
                return None

    def space_send(self) -> float:
        """Worker thread, right before an attempt goes on the wire: wait until it is at least `interval`
        after the previous one went out; return when it goes. Turns are spaced on the loop, but what happens
        between a turn and the wire (the caller's `before_send`, a store write; the hop to the thread;
        signing) takes a varying time, and AWS counts the calls as they arrive, not as their turns came.
        Usually there is nothing left to wait for."""
        with self._send_lock:
            now = self._clock()
            goes = now if self._last_send is None else max(now, self._last_send + self.interval)
            self._last_send = goes  # reserved: the next sender queues behind it, in order
        if goes > now:
            time.sleep(goes - now)
        return goes

    def on_throttle_from_thread(self, sent_at: float | None) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing left to slow down
                loop.call_soon_threadsafe(self.on_throttle, sent_at)

    @property
    def waiting(self) -> int:
        return sum(1 for w in (*self._retries, *self._waiters) if not w.done())

    # ------------------------------------------------------------------------------- internals

    def _next_start(self) -> float:
        if self._last_grant is None:
            return -float("inf")
        return self._last_grant + self.interval

    def _grant(self, now: float) -> float:
        self._grant_before, self._last_grant = self._last_grant, now
        return now

    def _give_back(self, granted_at: float) -> None:
        if self._last_grant == granted_at:  # no later permit was based on it
            self._last_grant = self._grant_before
            self._rearm()

    def _rearm(self) -> None:
        """(Re)schedule the next hand-out for when the next call may start."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is None or self._loop.is_closed() or not (self._retries or self._waiters):
            return
        delay = max(0.0, self._next_start() - self._clock())
        self._timer = self._loop.call_later(delay, self._dispatch)

    def _dispatch(self) -> None:
        self._timer = None
        now = self._clock()
        if now >= self._next_start():
            for queue in (self._retries, self._waiters):
                while queue:
                    waiter = queue.popleft()
                    if not waiter.done():  # a cancelled waiter is skipped, its turn goes to the next
                        waiter.set_result(self._grant(now))
                        self._rearm()
                        return
        self._rearm()
