"""The gateway against the fake Incident Manager, with botocore's own retries (standard mode): what it may
claim after each mix of attempt outcomes, and the client-side rate limit.

Per-attempt scripts that the fake cannot express (a read timeout on one attempt only) are injected with a
botocore `before-send` handler, which botocore's retry handler sees exactly like a real timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore import exceptions as aws

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
    entries = [
        TimelineEntry(
            f"burst-{i}", entry.incident_arn, EventType.NOTE, entry.event_time, encode_event_data("x")
        )
        for i in range(12)
    ]
    try:
        await asyncio.gather(*(gateway.create_timeline_event(e) for e in entries))
    finally:
        await gateway.close()
    calls = creates(fake_aws)
    assert len(calls) == 12 and all(c.status == 201 for c in calls)
    # 12 calls at once, 4 a second with a burst of 4 (a token bucket, as AWS's own limits are): at most
    # 8 in any one second (one more where arrival jitter straddles a window's edge, as seen in CI), and the
    # 8 beyond the burst take about 2 seconds. Without the limit all 12 arrive within a fraction of one.
    assert busiest_second([c.time for c in calls]) <= 9
    assert max(c.time for c in calls) - min(c.time for c in calls) >= timedelta(seconds=1.5)


async def test_a_rate_below_one_call_a_second_still_lets_calls_through(
    aws_env: None, fake_aws: FakeIncidentManager, entry: TimelineEntry
) -> None:
    gateway = Boto3IncidentGateway(REGION, calls_per_second=0.5)
    try:
        await gateway.create_timeline_event(entry)
    finally:
        await gateway.close()
    assert len(fake_aws.events(entry.incident_arn)) == 1
