"""Incident Manager gateway: the only code that talks to AWS.

boto3 is synchronous, so every call runs on a dedicated thread pool and the event loop never blocks.
Endpoint and credentials come from boto3's own chain (AWS_ENDPOINT_URL_SSM_INCIDENTS, AWS_ENDPOINT_URL,
profiles, roles); only the region is passed explicitly, because boto3 ignores AWS_REGION.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from botocore import exceptions as aws
from botocore.config import Config

from bot.aws.rate_limit import RateLimiter
from bot.domain.timeline import TimelineEntry
from bot.usecases.errors import IncidentManagerError, IncidentNotFound, NotSent, OutcomeUnknown
from bot.usecases.ports import (
    EventPage,
    EventSummary,
    IncidentPage,
    IncidentSummary,
    RelatedItem,
    RelatedItemsPage,
)

T = TypeVar("T")

SERVICE_NAME = "ssm-incidents"
# Enough threads that 50 concurrent notes do not queue behind each other (the default pool has cpu+4).
AWS_THREADS = 32
AWS_THREAD_PREFIX = "aws"
# Attempts per call, made by botocore's own retry handler ("standard" or "adaptive" mode): throttling, 5xx,
# timeouts and connection errors are retried with jittered backoff, under botocore's retry quota. What is
# still failing after these goes to the outbox, which retries it in the background.
ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 3.0
# Incident Manager's answers that mean "too many requests": the mapping layer calls them throttling, and
# the rate limit backs off on them.
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
RETRYABLE_CODES = THROTTLING_CODES | {
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
}


def client_config(read_timeout: float, retry_mode: str = "standard") -> Config:
    return Config(
        retries={"mode": retry_mode, "total_max_attempts": ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        max_pool_connections=AWS_THREADS,
        user_agent_extra="incident-timeline-bot",
    )


def aws_error_code(error: aws.ClientError) -> str:
    return str((error.response or {}).get("Error", {}).get("Code", ""))


def aws_status(error: aws.ClientError) -> int:
    return int((error.response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def translate(error: Exception, *, write: bool = False, may_have_landed: bool = False) -> Exception:
    """botocore's exception -> the typed error the use cases know (the caller keeps the original as
    `__cause__`); anything that is not botocore's is returned as it is."""
    if isinstance(error, aws.ClientError):
        code, status = aws_error_code(error), aws_status(error)
        retryable = code in RETRYABLE_CODES or status >= 500
        # A definite answer to the last attempt says nothing about an earlier one that timed out (and a
        # Conflict then may be AWS still working on that one, with the same token).
        if write and may_have_landed and (retryable or code == "ConflictException"):
            return OutcomeUnknown(str(error), code=code, status=status)
        kind = IncidentNotFound if code == "ResourceNotFoundException" else IncidentManagerError
        return kind(str(error), code=code, status=status, retryable=retryable)
    if isinstance(error, aws.ConnectionError):
        # Refused before a connection existed: this attempt never reached AWS (an earlier one may have).
        if write and may_have_landed:
            return OutcomeUnknown(str(error))
        return IncidentManagerError(str(error), retryable=True)
    if isinstance(error, aws.HTTPClientError):
        # Read timeouts, connections closed mid-request: the request may have been processed.
        return IncidentManagerError(str(error), retryable=True, may_have_landed=True)
    if isinstance(error, aws.BotoCoreError):
        return IncidentManagerError(str(error))
    return error


class _AttemptLog(threading.local):
    """Per worker thread: whether an attempt of the current call may have reached AWS. botocore retries
    inside one client call on one thread, and says nothing about earlier attempts when it gives up."""

    may_have_landed = False
    # Attempts of the current call sent so far, and when the latest one went out (the rate limit's clock).
    sent = 0
    sent_at: float | None = None

    def start(self) -> None:
        self.may_have_landed = False
        self.sent = 0
        self.sent_at = None


def call_budget_seconds(read_timeout: float) -> float:
    """The longest one call can take with botocore's attempts (connect, read, backoff): a lease on an entry
    being sent must outlast it."""
    return ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + read_timeout) + 2 * ATTEMPTS


class Boto3IncidentGateway:
    def __init__(
        self,
        region: str | None,
        read_timeout: float = 10.0,
        client: Any = None,
        *,
        calls_per_second: float = 5.0,
        retry_mode: str = "standard",
        observe: Callable[[str, float, str], None] | None = None,
    ) -> None:
        self._configured_region = region
        self._read_timeout = read_timeout
        self._retry_mode = retry_mode
        # Its threads are joined at interpreter exit; a call that never returns is left behind by
        # bot/__main__.py, not waited for, so a stop stays within Docker's grace.
        self._executor = ThreadPoolExecutor(max_workers=AWS_THREADS, thread_name_prefix=AWS_THREAD_PREFIX)
        self._client: Any = client
        self._session: Any = None
        self._client_lock = threading.Lock()
        self._attempts = _AttemptLog()
        # Client-side ceiling on every attempt sent to Incident Manager (botocore's retries included): a
        # burst of pins queues here, spaced 1/rate apart, instead of being thrown back by AWS as throttling.
        self._limiter = RateLimiter(calls_per_second) if calls_per_second else None
        # (operation, seconds, outcome) for each call, for the metrics.
        self._observe = observe

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
                client = session.client(
                    SERVICE_NAME,
                    region_name=self._configured_region,
                    config=client_config(self._read_timeout, self._retry_mode),
                )
                client.meta.events.register(f"before-send.{SERVICE_NAME}", self._wait_for_turn)
                client.meta.events.register(f"needs-retry.{SERVICE_NAME}", self._note_attempt)
                self._session = session
                self._client = client
            return self._client

    def set_rate(self, calls_per_second: float) -> None:
        """Change the client-side rate limit at runtime (no-op when the gateway has none)."""
        if self._limiter is not None:
            self._limiter.set_rate(calls_per_second)

    def _wait_for_turn(self, **_: Any) -> None:
        # Worker thread, before each attempt goes out: the first one's turn came in _call; botocore's
        # retries count against AWS's quota just the same, so each waits for a turn of its own (ahead of
        # new calls). Then the attempt is spaced from the previous one as it goes on the wire. Returns
        # None so that botocore sends the request.
        log = self._attempts
        log.sent += 1
        if self._limiter is not None:
            if log.sent > 1:
                self._limiter.acquire_from_thread()
            log.sent_at = self._limiter.space_send()

    def _note_attempt(
        self,
        caught_exception: BaseException | None = None,
        response: tuple[Any, dict[str, Any]] | None = None,
        **_: Any,
    ) -> None:
        # A read timeout or a connection dropped mid-request: the request may have been processed.
        if isinstance(caught_exception, aws.HTTPClientError):
            self._attempts.may_have_landed = True
        if response is not None and self._limiter is not None:
            code = str(response[1].get("Error", {}).get("Code", ""))
            if (
                code in THROTTLING_CODES
                or response[1].get("ResponseMetadata", {}).get("HTTPStatusCode") == 429
            ):
                self._limiter.on_throttle_from_thread(self._attempts.sent_at)

    async def _call(
        self,
        method: str,
        *,
        write: bool,
        before_send: Callable[[], Awaitable[bool]] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        def _invoke() -> dict[str, Any]:
            self._attempts.start()
            try:
                result: dict[str, Any] = getattr(self._get_client(), method)(**params)
                return result
            except (aws.BotoCoreError, aws.ClientError) as error:
                raise translate(error, write=write, may_have_landed=self._attempts.may_have_landed) from error

        async def _turn() -> dict[str, Any]:
            if before_send is not None and not await before_send():
                raise NotSent()
            return await self._in_thread(_invoke)

        started = time.monotonic()
        outcome = "error"
        try:
            if self._limiter is not None:
                await self._limiter.acquire()
            result = await _turn()
            outcome = "ok"
            return result
        except IncidentManagerError as error:
            # As before the errors were typed: AWS's error code, else the failure's own name.
            named = type(error) if isinstance(error, OutcomeUnknown) else type(error.__cause__ or error)
            outcome = (None if isinstance(error, OutcomeUnknown) else error.code) or named.__name__
            raise
        except Exception as error:
            outcome = type(error).__name__
            raise
        finally:
            if self._observe is not None:
                self._observe(method, time.monotonic() - started, outcome)

    async def _in_thread(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    async def warm_up(self) -> bool:
        """Build the client ahead of the first note (loading the service model takes a moment), off the
        event loop; answer whether boto3's chain found credentials (building the client resolved them, and
        the session keeps them, so asking costs nothing more). True for a client given ready-made."""

        def _build() -> bool:
            self._get_client()
            return self._session is None or self._session.get_credentials() is not None

        return await self._in_thread(_build)

    async def get_incident(self, arn: str) -> IncidentSummary:
        response = await self._call("get_incident_record", write=False, arn=arn)
        return _incident(response["incidentRecord"])

    async def create_timeline_event(
        self, entry: TimelineEntry, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        params: dict[str, Any] = {
            "clientToken": entry.client_token,
            "incidentRecordArn": entry.incident_arn,
            "eventTime": entry.event_time,
            "eventType": entry.event_type.value,
            "eventData": entry.event_data,
        }
        if entry.event_references:
            params["eventReferences"] = entry.event_references
        response = await self._call("create_timeline_event", write=True, before_send=before_send, **params)
        return str(response["eventId"])

    async def update_timeline_event(
        self,
        entry: TimelineEntry,
        event_id: str,
        client_token: str,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        # Everything the event says, its references too (UpdateTimelineEvent replaces them all): a Note
        # keeps the incident's, a Custom Event has none.
        await self._call(
            "update_timeline_event",
            write=True,
            before_send=before_send,
            clientToken=client_token,
            incidentRecordArn=entry.incident_arn,
            eventId=event_id,
            eventTime=entry.event_time,
            eventType=entry.event_type.value,
            eventData=entry.event_data,
            eventReferences=entry.event_references,
        )

    async def delete_timeline_event(
        self, incident_arn: str, event_id: str, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        await self._call(
            "delete_timeline_event",
            write=True,
            before_send=before_send,
            incidentRecordArn=incident_arn,
            eventId=event_id,
        )

    async def list_open_incidents(self, next_token: str | None = None) -> IncidentPage:
        params: dict[str, Any] = {"filters": [_OPEN_ONLY], "maxResults": LIST_PAGE_SIZE}
        if next_token:
            params["nextToken"] = next_token
        response = await self._call("list_incident_records", write=False, **params)
        incidents = [_incident(record) for record in response.get("incidentRecordSummaries") or []]
        return IncidentPage(incidents, response.get("nextToken") or None)

    async def list_timeline_events(self, arn: str, limit: int, next_token: str | None = None) -> EventPage:
        params: dict[str, Any] = {
            "incidentRecordArn": arn,
            "maxResults": limit,
            "sortBy": "EVENT_TIME",
            "sortOrder": "DESCENDING",
        }
        if next_token:
            params["nextToken"] = next_token
        response = await self._call("list_timeline_events", write=False, **params)
        events = [
            EventSummary(
                event_id=str(event["eventId"]),
                event_type=str(event["eventType"]),
                event_time=event["eventTime"],
                updated_time=event["eventUpdatedTime"],
            )
            for event in response.get("eventSummaries") or []
        ]
        return EventPage(events, response.get("nextToken") or None)

    async def get_timeline_event_data(self, arn: str, event_id: str) -> str:
        response = await self._call(
            "get_timeline_event", write=False, incidentRecordArn=arn, eventId=event_id
        )
        return str(response["event"]["eventData"])

    async def list_related_items(self, arn: str, next_token: str | None = None) -> RelatedItemsPage:
        params: dict[str, Any] = {"incidentRecordArn": arn, "maxResults": LIST_PAGE_SIZE}
        if next_token:
            params["nextToken"] = next_token
        response = await self._call("list_related_items", write=False, **params)
        items = []
        for item in response.get("relatedItems") or []:
            identifier = item.get("identifier") or {}
            value = identifier.get("value") or {}
            items.append(RelatedItem(str(identifier.get("type") or ""), value.get("url"), item.get("title")))
        return RelatedItemsPage(items, response.get("nextToken") or None)

    async def add_related_link(self, arn: str, url: str, title: str, client_token: str) -> None:
        item = {"identifier": {"type": "OTHER", "value": {"url": url}}, "title": title}
        await self._call(
            "update_related_items",
            write=True,
            incidentRecordArn=arn,
            clientToken=client_token,
            relatedItemsUpdate={"itemToAdd": item},
        )

    async def remove_related_link(self, arn: str, url: str, client_token: str) -> None:
        await self._call(
            "update_related_items",
            write=True,
            incidentRecordArn=arn,
            clientToken=client_token,
            relatedItemsUpdate={"itemToRemove": {"type": "OTHER", "value": {"url": url}}},
        )

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# ListIncidentRecords' filter for the incidents still open; and its largest page (also ListRelatedItems').
_OPEN_ONLY: dict[str, Any] = {"key": "status", "condition": {"equals": {"stringValues": ["OPEN"]}}}
LIST_PAGE_SIZE = 100


def _incident(record: dict[str, Any]) -> IncidentSummary:
    """GetIncidentRecord's incidentRecord or one of ListIncidentRecords' summaries."""
    return IncidentSummary(
        arn=record["arn"],
        title=record["title"],
        status=record["status"],
        impact=record.get("impact"),
        resolved_time=record.get("resolvedTime"),
        creation_time=record.get("creationTime"),
    )
