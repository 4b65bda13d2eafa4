"""The client-side rate limit: spacing and order of starts, back-off and recovery, cancellation, the rate
changed at runtime, and permits for botocore's retries in worker threads.

Spacing is checked on the starts themselves (the limiter's clock, time.monotonic, which is the loop's):
the k-th caller can never resume before k-1 intervals after the first asked, whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot.aws.rate_limit import FLOOR_FRACTION, RECOVERY_PER_SECOND, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def starts(limiter: RateLimiter, callers: int) -> tuple[float, list[float], list[int]]:
    """`callers` acquire at once: when they asked, when each resumed (in order), and that order."""
    resumed: list[float] = []
    order: list[int] = []

    async def caller(index: int) -> None:
        await limiter.acquire()
        resumed.append(time.monotonic())
        order.append(index)

    asked = time.monotonic()
    tasks = []
    for index in range(callers):
        tasks.append(asyncio.create_task(caller(index)))
        await asyncio.sleep(0)  # each one is queued before the next: arrival order is 0, 1, 2, ...
    await asyncio.gather(*tasks)
    return asked, resumed, order


async def test_starts_are_spaced_one_interval_apart_in_arrival_order() -> None:
    rate = 20.0
    limiter = RateLimiter(rate)
    asked, resumed, order = await starts(limiter, 12)
    assert order == list(range(12))  # first come, first served
    # Burst of one: the k-th start is at least k intervals (a little over 1/rate) after the first request,
    # so no window of t seconds has more than t * rate starts (a bucket with a burst lets `rate` through
    # at once).
    assert limiter.interval >= 1 / rate
    for k, started in enumerate(resumed):
        assert started >= asked + k * limiter.interval - 1e-6, (k, started - asked)


async def test_the_permits_given_are_at_least_an_interval_apart() -> None:
    rate = 25.0
    limiter = RateLimiter(rate)
    grants = await asyncio.gather(*(limiter.acquire() for _ in range(10)))
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert all(gap >= 1 / rate - 1e-9 for gap in gaps), gaps


async def test_an_idle_limiter_lets_the_first_call_through_at_once() -> None:
    limiter = RateLimiter(0.5)  # one call every 2 seconds
    before = time.monotonic()
    granted = await limiter.acquire()
    assert before <= granted <= time.monotonic()
    assert limiter.waiting == 0


def test_a_throttle_halves_the_rate_down_to_a_floor() -> None:
    clock = FakeClock()
    limiter = RateLimiter(8.0, clock=clock)
    rates = []
    for _ in range(5):
        assert limiter.on_throttle()
        rates.append(limiter.rate)
    assert rates == [4.0, 2.0, 1.0, 8.0 * FLOOR_FRACTION, 8.0 * FLOOR_FRACTION]
    assert limiter.configured_rate == 8.0


def test_the_rate_recovers_gradually_to_the_configured_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, clock=clock)
    limiter.on_throttle()
    assert limiter.rate == 5.0
    clock.now += 1.0
    assert limiter.rate == pytest.approx(5.0 + RECOVERY_PER_SECOND * 10.0)  # additive, not at once
    clock.now += 2.0
    assert limiter.rate == pytest.approx(5.0 + 3 * RECOVERY_PER_SECOND * 10.0)
    clock.now += 60.0
    assert limiter.rate == 10.0  # and never beyond


def test_throttles_of_calls_sent_before_the_cut_do_not_cut_again() -> None:
    clock = FakeClock()
    limiter = RateLimiter(8.0, clock=clock)
    sent_early = clock.now  # a second call was already on its way at the old rate
    clock.now += 0.1
    assert limiter.on_throttle(sent_at=clock.now - 0.05)
    assert not limiter.on_throttle(sent_at=sent_early)
    assert limiter.rate == pytest.approx(4.0)
    assert limiter.on_throttle(sent_at=clock.now + 0.5)  # a call sent at the new rate: too fast still
    assert limiter.rate == pytest.approx(2.0)


async def test_after_a_throttle_the_next_calls_start_further_apart() -> None:
    rate = 20.0
    limiter = RateLimiter(rate)
    first = await limiter.acquire()
    limiter.on_throttle(first)
    second = await limiter.acquire()
    third = await limiter.acquire()
    # Halved: about 2/rate apart (the rate recovers a little meanwhile), never the configured 1/rate.
    assert second - first >= 1.8 / rate
    assert third - second >= 1.8 / rate


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    rate = 4.0
    limiter = RateLimiter(rate)
    first = await limiter.acquire()
    cancelled = asyncio.create_task(limiter.acquire())
    later = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.waiting == 2
    cancelled.cancel()
    granted = await later
    assert cancelled.cancelled()
    # `later` took the turn after `first`, not the one after the cancelled caller's.
    assert 1 / rate - 1e-9 <= granted - first < 1.5 / rate
    assert limiter.waiting == 0


async def test_a_turn_granted_to_a_caller_cancelled_meanwhile_is_given_back() -> None:
    rate = 4.0
    limiter = RateLimiter(rate)
    first = await limiter.acquire()
    unlucky = asyncio.create_task(limiter.acquire())
    later = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    # Cancel `unlucky` right after its turn came and before it ran: asyncio runs ready callbacks in order,
    # so this polling check resumes before the woken task does (an Event's waiter would resume after it).
    while limiter.waiting == 2:  # noqa: ASYNC110
        await asyncio.sleep(0)
    unlucky.cancel()
    granted = await later
    assert unlucky.cancelled()
    assert granted - first < 1.5 / rate  # the unused turn went to `later` instead of being lost


async def test_set_rate_changes_the_spacing_of_waiting_calls() -> None:
    limiter = RateLimiter(2.0)
    first = await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    limiter.set_rate(0.5)  # e.g. the deployment's rate shared by four replicas
    slower = await waiting
    assert slower - first >= 2.0 - 1e-9
    limiter.set_rate(50.0)
    faster = await limiter.acquire()
    assert limiter.configured_rate == 50.0
    assert faster - slower < 2.0  # no longer held back by the old 0.5/s
    with pytest.raises(ValueError):
        limiter.set_rate(0)


async def test_a_retry_from_a_worker_thread_waits_its_turn_ahead_of_new_calls() -> None:
    rate = 4.0
    limiter = RateLimiter(rate)
    first = await limiter.acquire()
    new_calls = [asyncio.create_task(limiter.acquire()) for _ in range(2)]
    await asyncio.sleep(0)
    retry = await asyncio.to_thread(limiter.acquire_from_thread)
    granted = await asyncio.gather(*new_calls)
    assert retry is not None
    assert retry - first >= 1 / rate - 1e-9
    assert all(retry < other for other in granted)


async def test_attempts_leave_the_worker_threads_spaced_however_late_their_turns_reach_them() -> None:
    limiter = RateLimiter(20.0)

    def send() -> tuple[float, float]:
        goes = limiter.space_send()
        return goes, time.monotonic()

    # Six attempts whose turns reached their threads at the same moment (a slow `before_send` for some).
    sent = sorted(await asyncio.gather(*(asyncio.to_thread(send) for _ in range(6))))
    assert all(went >= goes for goes, went in sent)  # none left before its time
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(sent)]
    assert all(gap >= limiter.interval - 1e-9 for gap in gaps), gaps


def test_a_worker_thread_is_never_stuck_without_a_running_loop() -> None:
    limiter = RateLimiter(1.0)
    assert limiter.acquire_from_thread() is None  # never used on a loop: nothing to wait for
    limiter.on_throttle_from_thread(None)  # and nothing to tell
    assert limiter.rate == 1.0
