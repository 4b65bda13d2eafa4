"""The gateway against the fake Incident Manager, with botocore's own retries (standard mode): what it may
claim after each mix of attempt outcomes, and the client-side rate limit (botocore's retries under it too).

Per-attempt scripts that the fake cannot express (a read timeout on one attempt only) are injected with a
botocore `before-send` handler, which botocore's retry handler sees exactly like a real timeout.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore import exceptions as aws
from botocore.retries.standard import ExponentialBackoff

from bot.aws.incidents import ATTEMPTS, Boto3IncidentGateway
from bot.domain.timeline import EventType, TimelineEntry, encode_event_data
from bot.usecases.errors import IncidentManagerError, OutcomeUnknown, is_retryable
from tests.fakes.incident_manager import FakeIncidentManager

REGION = "eu-west-1"


@pytest.fixture
async def gateway(aws_env: None) -> AsyncIterator[Boto3IncidentGateway]:
    opened = Boto3IncidentGateway(REGION, read_timeout=2.0, calls_per_second=1000)
    yield opened
    await opened.close()


@pytest.fixture
def entry(fake_aws: FakeIncidentManager) -> TimelineEntry:
    arn = fake_aws.add_incident(title="DB down")
    return TimelineEntry("slack-token", arn, EventType.NOTE, datetime(2026, 11, 26, tzinfo=UTC), '"x"')


def script_attempts(gateway: Boto3IncidentGateway, *first_attempts: Exception) -> list[int]:
    """Raise these, one per attempt, before the request is sent; later attempts reach the fake."""
    sent: list[int] = []
    remaining = list(first_attempts)

    def before_send(**_: Any) -> None:
        sent.append(1)
        if remaining:
            raise remaining.pop(0)

    gateway._get_client().meta.events.register("before-send.ssm-incidents.CreateTimelineEvent", before_send)
    return sent


def creates(fake: FakeIncidentManager) -> list[Any]:
    return fake.calls_to("CreateTimelineEvent")


async def test_retries_resend_identically_and_land_once(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    fake_aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=2)
    event_id = await gateway.create_timeline_event(entry)
    calls = creates(fake_aws)
    assert len(calls) == ATTEMPTS
    assert calls[0].params == calls[1].params == calls[2].params  # same clientToken, same eventTime
    assert [e["eventId"] for e in fake_aws.events(entry.incident_arn)] == [event_id]


async def test_definite_refusals_on_every_attempt_raise_the_last_error(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    fake_aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=ATTEMPTS)
    with pytest.raises(IncidentManagerError) as raised:
        await gateway.create_timeline_event(entry)
    assert isinstance(raised.value.__cause__, aws.ClientError)
    assert raised.value.__cause__.response["Error"]["Code"] == raised.value.code == "ThrottlingException"
    assert is_retryable(raised.value)
    assert len(creates(fake_aws)) == ATTEMPTS and fake_aws.events(entry.incident_arn) == []


async def test_an_earlier_timeout_makes_a_later_refusal_an_unknown_outcome(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    # The first attempt may have landed; the throttled retries say nothing about it.
    sent = script_attempts(gateway, aws.ReadTimeoutError(endpoint_url="http://aws"))
    fake_aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=ATTEMPTS - 1)
    with pytest.raises(OutcomeUnknown) as raised:
        await gateway.create_timeline_event(entry)
    assert len(sent) == ATTEMPTS
    assert is_retryable(raised.value)


async def test_a_timeout_then_success_is_a_success(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    script_attempts(gateway, aws.ReadTimeoutError(endpoint_url="http://aws"))
    event_id = await gateway.create_timeline_event(entry)
    assert [e["eventId"] for e in fake_aws.events(entry.incident_arn)] == [event_id]


async def test_never_connecting_is_a_definite_failure(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    refused = [aws.EndpointConnectionError(endpoint_url="http://aws") for _ in range(ATTEMPTS)]
    script_attempts(gateway, *refused)
    with pytest.raises(IncidentManagerError) as raised:
        await gateway.create_timeline_event(entry)
    assert isinstance(raised.value.__cause__, aws.EndpointConnectionError)
    assert creates(fake_aws) == []


async def test_a_lookup_is_never_an_unknown_outcome(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    fake_aws.set_down(True)
    try:
        with pytest.raises(IncidentManagerError) as raised:
            await gateway.get_incident(entry.incident_arn)
        assert isinstance(raised.value.__cause__, aws.HTTPClientError)
        assert not isinstance(raised.value, OutcomeUnknown)
    finally:
        fake_aws.set_down(False)
    assert len(fake_aws.calls_to("GetIncidentRecord")) == ATTEMPTS


async def test_non_retryable_errors_are_not_retried(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    fake_aws.fail_next("CreateTimelineEvent", "AccessDeniedException")
    with pytest.raises(IncidentManagerError) as raised:
        await gateway.create_timeline_event(entry)
    assert isinstance(raised.value.__cause__, aws.ClientError)
    assert raised.value.__cause__.response["Error"]["Code"] == raised.value.code == "AccessDeniedException"
    assert not is_retryable(raised.value)
    assert len(creates(fake_aws)) == 1


async def test_server_errors_are_retried(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    fake_aws.fail_next("CreateTimelineEvent", "InternalServerException")
    await gateway.create_timeline_event(entry)
    assert [c.status for c in creates(fake_aws)] == [500, 201]


async def test_every_call_is_observed_with_its_outcome(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    seen: list[tuple[str, float, str]] = []
    gateway = Boto3IncidentGateway(REGION, calls_per_second=1000, observe=lambda *a: seen.append(a))
    try:
        await gateway.create_timeline_event(entry)
        fake_aws.fail_next("CreateTimelineEvent", "AccessDeniedException")
        with pytest.raises(IncidentManagerError):
            await gateway.create_timeline_event(entry)
    finally:
        await gateway.close()
    assert [(operation, outcome) for operation, _, outcome in seen] == [
        ("create_timeline_event", "ok"),
        ("create_timeline_event", "AccessDeniedException"),
    ]
    assert all(seconds >= 0 for _, seconds, _ in seen)


def burst_of(entry: TimelineEntry, count: int) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            f"burst-{i}", entry.incident_arn, EventType.NOTE, entry.event_time, encode_event_data("x")
        )
        for i in range(count)
    ]


def busiest_second(times: list[datetime]) -> int:
    """The most calls that arrived within any one second."""
    ordered = sorted(times)
    return max(
        sum(1 for later in ordered[i:] if later - start < timedelta(seconds=1))
        for i, start in enumerate(ordered)
    )


async def test_the_rate_limit_spreads_a_burst(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    gateway = Boto3IncidentGateway(REGION, calls_per_second=4)
    try:
        await asyncio.gather(*(gateway.create_timeline_event(e) for e in burst_of(entry, 12)))
    finally:
        await gateway.close()
    calls = creates(fake_aws)
    assert len(calls) == 12 and all(c.status == 201 for c in calls)
    # 12 calls at once, 4 a second with a burst of one: at most 4 in any one second (one more where arrival
    # jitter straddles a window's edge), the 12 spread over 11 intervals of 1/4 s. A bucket with a burst
    # of 4 lets 8 through in the first second; without the limit all 12 arrive within a fraction of one.
    assert busiest_second([c.time for c in calls]) <= 5
    assert max(c.time for c in calls) - min(c.time for c in calls) >= timedelta(seconds=2.5)


async def test_a_burst_at_the_quota_is_hardly_ever_throttled(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    # Incident Manager admits 10 calls in any sliding second, and the bot is configured for just that.
    fake_aws.throttle_above(10, "CreateTimelineEvent")
    gateway = Boto3IncidentGateway(REGION, calls_per_second=10)
    entries = burst_of(entry, 20)
    turns = 0

    async def renew_lease() -> bool:
        # Like the outbox's lease renewal: a store write when the turn comes, slow for the first ten calls
        # (a busy store), quick after. Turns spaced 1/10 s apart on the loop then reach AWS 20 a second.
        nonlocal turns
        turns += 1
        await asyncio.sleep(0.5 if turns <= 10 else 0.0)
        return True

    try:
        await gateway.warm_up()  # as the bot does at start-up
        await asyncio.gather(*(gateway.create_timeline_event(e, before_send=renew_lease) for e in entries))
    finally:
        await gateway.close()
    calls = creates(fake_aws)
    throttled = [c for c in calls if c.error_code == "ThrottlingException"]
    # Arrival jitter may cost one. A bucket with a burst of 10 sends 20 in the first second, and half of
    # them and botocore's retries are thrown back; turns spaced on the loop alone arrive 3-5 too close.
    assert len(throttled) <= 1, f"{len(throttled)} of {len(calls)} attempts throttled"
    assert sorted(e["clientToken"] for e in fake_aws.events(entry.incident_arn)) == sorted(
        e.client_token for e in entries
    )


async def test_botocore_retries_wait_for_a_turn_of_their_own_and_slow_down(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worst case: botocore retries a throttled attempt at once (its jittered backoff set to 0).
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    fake_aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=ATTEMPTS - 1)
    gateway = Boto3IncidentGateway(REGION, calls_per_second=4)
    try:
        await gateway.create_timeline_event(entry)
    finally:
        await gateway.close()
    arrived = [c.time for c in creates(fake_aws)]
    assert len(arrived) == ATTEMPTS and len(fake_aws.events(entry.incident_arn)) == 1
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(arrived)]
    # Each retry waited for a turn of at least 1/4 s (without one they follow within milliseconds), and
    # each throttle halved the rate: the second wait is about twice the first.
    assert all(gap >= 0.2 for gap in gaps), gaps
    assert gaps[1] > 1.5 * gaps[0], gaps


async def test_a_retry_takes_a_turn_so_later_calls_go_out_as_their_turn_comes(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    fake_aws.fail_next("CreateTimelineEvent", "ThrottlingException")  # the first call's first attempt
    gateway = Boto3IncidentGateway(REGION, calls_per_second=2)
    turns: dict[str, datetime] = {}

    def recording(token: str) -> Callable[[], Awaitable[bool]]:
        async def before_send() -> bool:
            turns[token] = datetime.now(UTC)
            return True

        return before_send

    entries = burst_of(entry, 3)
    try:
        await gateway.warm_up()
        calls = []
        for e in entries:  # queued in this order
            calls.append(asyncio.create_task(gateway.create_timeline_event(e, recording(e.client_token))))
            await asyncio.sleep(0)
        await asyncio.gather(*calls)
    finally:
        await gateway.close()
    landed = {c.params["clientToken"]: c.time for c in creates(fake_aws) if c.status == 201}
    first, *later = (e.client_token for e in entries)
    # The retry went out before the next call's turn came, and took that turn's place: a turn given on the
    # loop is an attempt on the wire, so no call waits in a worker thread after its turn (and its lease
    # renewal) came; without that it would wait about one interval (~1 s here) there.
    assert landed[first] < turns[later[0]]
    for token in later:
        assert landed[token] - turns[token] < timedelta(seconds=0.3), (token, landed[token] - turns[token])


async def test_the_rate_can_be_changed_at_runtime(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    gateway = Boto3IncidentGateway(REGION, calls_per_second=1000)
    gateway.set_rate(2)  # e.g. a deployment's 10 calls/s shared by five replicas
    try:
        await asyncio.gather(*(gateway.create_timeline_event(e) for e in burst_of(entry, 3)))
    finally:
        await gateway.close()
    arrived = sorted(c.time for c in creates(fake_aws))
    assert arrived[-1] - arrived[0] >= timedelta(seconds=0.9)  # two intervals of 1/2 s, less jitter


async def test_a_rate_below_one_call_a_second_still_lets_calls_through(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    gateway = Boto3IncidentGateway(REGION, calls_per_second=0.5)
    try:
        await gateway.create_timeline_event(entry)
    finally:
        await gateway.close()
    assert len(fake_aws.events(entry.incident_arn)) == 1
