"""Incident Manager gateway: the only code that talks to AWS.

boto3 is synchronous, so every call runs on a dedicated thread pool and the event loop never blocks.
Endpoint and credentials come from boto3's own chain (AWS_ENDPOINT_URL_SSM_INCIDENTS, AWS_ENDPOINT_URL,
profiles, roles); only the region is passed explicitly, because boto3 ignores AWS_REGION.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, Protocol, TypeVar

import boto3
from botocore import exceptions as aws
from botocore.config import Config

from bot.domain.timeline import TimelineEntry

T = TypeVar("T")

SERVICE_NAME = "ssm-incidents"
# Enough threads that 50 concurrent notes do not queue behind each other (the default pool has cpu+4).
AWS_THREADS = 32
# Attempts per call, retried here rather than inside botocore so that the gateway knows whether any attempt
# may have reached AWS (a read timeout) before a later one failed: only then is the outcome unknown.
ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 0.25
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class OutcomeUnknown(Exception):
    """A write may have reached AWS (an attempt timed out mid-request) and no later attempt settled it."""


@dataclass(frozen=True)
class IncidentSummary:
    arn: str
    title: str
    status: str
    impact: int | None
    resolved_time: datetime | None

    @property
    def is_resolved(self) -> bool:
        return self.status == "RESOLVED"


class IncidentGateway(Protocol):
    @property
    def region(self) -> str | None: ...

    async def get_incident(self, arn: str) -> IncidentSummary: ...

    async def create_timeline_event(self, entry: TimelineEntry) -> str:
        """Create the event; return its eventId. Raises botocore errors as they come."""
        ...

    async def close(self) -> None: ...


def client_config(read_timeout: float) -> Config:
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},  # retried by the gateway, see ATTEMPTS
        connect_timeout=3,
        read_timeout=read_timeout,
        max_pool_connections=AWS_THREADS,
        user_agent_extra="incident-timeline-bot",
    )


def aws_error_code(error: aws.ClientError) -> str:
    return str((error.response or {}).get("Error", {}).get("Code", ""))


def _is_retryable(error: aws.ClientError) -> bool:
    code = aws_error_code(error)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code in RETRYABLE_CODES or status >= 500


def _raise_final(error: Exception, *, unknown: bool) -> NoReturn:
    if unknown:
        raise OutcomeUnknown(str(error)) from error
    raise error


class Boto3IncidentGateway:
    def __init__(self, region: str | None, read_timeout: float = 10.0, client: Any = None) -> None:
        self._configured_region = region
        self._read_timeout = read_timeout
        self._executor = ThreadPoolExecutor(max_workers=AWS_THREADS, thread_name_prefix="aws")
        self._client: Any = client
        self._client_lock = threading.Lock()

    @property
    def region(self) -> str | None:
        if self._client is not None:
            return str(self._client.meta.region_name)
        return self._configured_region

    def _get_client(self) -> Any:
        # Created once, lazily, so a missing region or profile is reported to the person who acted rather
        # than crashing start-up; boto3 clients are thread-safe once built.
        with self._client_lock:
            if self._client is None:
                session = boto3.session.Session()
                self._client = session.client(
                    SERVICE_NAME,
                    region_name=self._configured_region,
                    config=client_config(self._read_timeout),
                )
            return self._client

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        def _invoke() -> dict[str, Any]:
            result: dict[str, Any] = getattr(self._get_client(), method)(**params)
            return result

        return await self._in_thread(_invoke)

    async def _call_with_retries(self, method: str, *, write: bool, **params: Any) -> dict[str, Any]:
        """Retry throttling, 5xx and network failures with jittered backoff. The same parameters (and so
        the same clientToken) go out every time, so a write that landed is never doubled."""
        may_have_landed = False
        for attempt in range(ATTEMPTS):
            last_attempt = attempt == ATTEMPTS - 1
            try:
                return await self._call(method, **params)
            except aws.ClientError as error:
                if not _is_retryable(error):
                    raise  # a definite answer about this request
                if last_attempt:
                    _raise_final(error, unknown=write and may_have_landed)
            except aws.HTTPClientError as error:  # read timeout, connection closed mid-request
                may_have_landed = True
                if last_attempt:
                    _raise_final(error, unknown=write)
            except aws.ConnectionError as error:  # never connected: this attempt did not reach AWS
                if last_attempt:
                    _raise_final(error, unknown=write and may_have_landed)
            await asyncio.sleep(random.uniform(0, BACKOFF_BASE_SECONDS * 2**attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _in_thread(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    async def warm_up(self) -> None:
        """Build the client ahead of the first note (loading the service model takes a moment)."""
        await self._in_thread(self._get_client)

    async def get_incident(self, arn: str) -> IncidentSummary:
        response = await self._call_with_retries("get_incident_record", write=False, arn=arn)
        record = response["incidentRecord"]
        return IncidentSummary(
            arn=record["arn"],
            title=record["title"],
            status=record["status"],
            impact=record.get("impact"),
            resolved_time=record.get("resolvedTime"),
        )

    async def create_timeline_event(self, entry: TimelineEntry) -> str:
        params: dict[str, Any] = {
            "clientToken": entry.client_token,
            "incidentRecordArn": entry.incident_arn,
            "eventTime": entry.event_time,
            "eventType": entry.event_type.value,
            "eventData": entry.event_data,
        }
        if entry.event_references:
            params["eventReferences"] = entry.event_references
        response = await self._call_with_retries("create_timeline_event", write=True, **params)
        return str(response["eventId"])

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
