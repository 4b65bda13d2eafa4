"""The gateway's retries: what it may claim after each mix of attempt outcomes.

These use a scripted stand-in for the boto3 client so that each attempt's outcome is exact; the real
client against the fake Incident Manager is covered end to end in tests/e2e.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from botocore import exceptions as aws

from bot.aws import incidents
from bot.aws.incidents import ATTEMPTS, Boto3IncidentGateway, OutcomeUnknown
from bot.domain.timeline import EventType, TimelineEntry

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
ENTRY = TimelineEntry("slack-token", ARN, EventType.NOTE, datetime(2026, 11, 26, tzinfo=UTC), '"x"')


def client_error(code: str, status: int) -> aws.ClientError:
    return aws.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "CreateTimelineEvent",
    )


THROTTLED = client_error("ThrottlingException", 429)
TIMED_OUT = aws.ReadTimeoutError(endpoint_url="http://aws")
REFUSED = aws.EndpointConnectionError(endpoint_url="http://aws")


class ScriptedClient:
    """Answers each call with the next scripted outcome: an exception to raise or a response."""

    def __init__(self, *outcomes: Exception | dict[str, Any]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []
        self.meta = SimpleNamespace(region_name="eu-west-1")

    def create_timeline_event(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(incidents, "BACKOFF_BASE_SECONDS", 0.0)


async def send(client: ScriptedClient) -> str:
    gateway = Boto3IncidentGateway("eu-west-1", client=client)
    try:
        return await gateway.create_timeline_event(ENTRY)
    finally:
        await gateway.close()


async def test_a_retry_that_succeeds_returns_the_event_and_resends_identically() -> None:
    client = ScriptedClient(TIMED_OUT, {"eventId": "e-1", "incidentRecordArn": ARN})
    assert await send(client) == "e-1"
    assert client.calls[0] == client.calls[1]  # same clientToken, same eventTime: never a second event
    assert client.calls[0]["clientToken"] == "slack-token"


async def test_definite_refusals_on_every_attempt_raise_the_last_error() -> None:
    client = ScriptedClient(THROTTLED, THROTTLED, THROTTLED)
    with pytest.raises(aws.ClientError) as raised:
        await send(client)
    assert raised.value is THROTTLED and len(client.calls) == ATTEMPTS


async def test_an_earlier_timeout_makes_a_later_refusal_an_unknown_outcome() -> None:
    # The first attempt may have landed; the throttled retries say nothing about it.
    with pytest.raises(OutcomeUnknown):
        await send(ScriptedClient(TIMED_OUT, THROTTLED, THROTTLED))
    with pytest.raises(OutcomeUnknown):
        await send(ScriptedClient(TIMED_OUT, REFUSED, REFUSED))


async def test_never_connecting_is_a_definite_failure() -> None:
    with pytest.raises(aws.EndpointConnectionError):
        await send(ScriptedClient(REFUSED, REFUSED, REFUSED))


async def test_non_retryable_errors_are_not_retried() -> None:
    denied = client_error("AccessDeniedException", 403)
    client = ScriptedClient(denied)
    with pytest.raises(aws.ClientError) as raised:
        await send(client)
    assert raised.value is denied and len(client.calls) == 1


async def test_server_errors_are_retried() -> None:
    client = ScriptedClient(client_error("InternalServerException", 500), {"eventId": "e-2"})
    assert await send(client) == "e-2"
