"""``FakeIncidentManager``: the public face, composing state, fault plan, HTTP app and server."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

from .app import HttpApp
from .config import CREATABLE_EVENT_TYPES, DEFAULT_ACCOUNT, DEFAULT_CALLER_ARN, Settings
from .faults import FaultPlan
from .model import service_model
from .server import BackgroundServer
from .state import RecordedCall, State


class FakeIncidentManager:
    """Fake ``ssm-incidents`` endpoint on 127.0.0.1, served from a background thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str | None = None,
        credentials: Mapping[str, str] | None = None,
        caller_arn: str = DEFAULT_CALLER_ARN,
        length_unit: Literal["utf16", "codepoints"] = "utf16",
        reject_unknown_members: bool = True,
        creatable_event_types: frozenset[str] = CREATABLE_EVENT_TYPES,
        default_page_size: int = 20,
    ) -> None:
        """
        region: when set, only requests signed for this region are accepted (like a regional
            endpoint); otherwise any region is accepted and recorded.
        credentials: access key id -> secret key; when given, SigV4 signatures are verified and
            other access keys are refused (UnrecognizedClientException).  None (default) accepts any
            key and checks everything but the signature itself (header structure, service/region
            scope, date, clock skew).
        caller_arn: identity of the caller (used for lastModifiedBy and AccessDenied messages).
        """
        self.host = host
        self.model = service_model()
        self._settings = Settings(
            region=region,
            credentials=dict(credentials) if credentials is not None else None,
            caller_arn=caller_arn,
            creatable_event_types=creatable_event_types,
            default_page_size=default_page_size,
        )
        self._state = State()
        self._faults = FaultPlan(self._state.lock, self.model, self._settings)
        self._app = HttpApp(
            self.model,
            self._settings,
            self._state,
            self._faults,
            length_unit=length_unit,
            reject_unknown_members=reject_unknown_members,
        )
        self._server = BackgroundServer(self._app.handle, host, port, "FakeIncidentManager")

    # ---------------------------------------------------------------- settings (read per request)

    @property
    def region(self) -> str | None:
        return self._settings.region

    @region.setter
    def region(self, value: str | None) -> None:
        self._settings.region = value

    @property
    def credentials(self) -> dict[str, str] | None:
        return self._settings.credentials

    @credentials.setter
    def credentials(self, value: dict[str, str] | None) -> None:
        self._settings.credentials = value

    @property
    def caller_arn(self) -> str:
        return self._settings.caller_arn

    @caller_arn.setter
    def caller_arn(self, value: str) -> None:
        self._settings.caller_arn = value

    @property
    def creatable_event_types(self) -> frozenset[str]:
        return self._settings.creatable_event_types

    @creatable_event_types.setter
    def creatable_event_types(self, value: frozenset[str]) -> None:
        self._settings.creatable_event_types = value

    @property
    def default_page_size(self) -> int:
        return self._settings.default_page_size

    @default_page_size.setter
    def default_page_size(self, value: int) -> None:
        self._settings.default_page_size = value

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---------------------------------------------------------------- seeding API

    def add_incident(
        self,
        title: str,
        status: str = "OPEN",
        plan: str = "db-plan",
        account: str = DEFAULT_ACCOUNT,
        impact: int = 2,
        *,
        summary: str | None = None,
        created_by: str | None = None,
        source: str = "aws.ssm-incidents.custom",
        invoked_by: str | None = None,
    ) -> str:
        """Create an incident record as StartIncident would; returns its ARN (region-less)."""
        return self._state.add_incident(
            title,
            status,
            plan,
            account,
            impact,
            summary=summary,
            created_by=created_by,
            source=source,
            invoked_by=invoked_by,
        )

    def resolve_incident(self, arn: str) -> None:
        self._state.resolve_incident(arn)

    def delete_incident(self, arn: str) -> None:
        self._state.delete_incident(arn)

    def add_event(
        self,
        arn: str,
        event_type: str,
        event_data: str,
        event_time: datetime | None = None,
        event_references: list[dict[str, Any]] | None = None,
    ) -> str:
        """Seed a timeline event (any type, e.g. the ones Incident Manager creates itself)."""
        return self._state.add_event(arn, event_type, event_data, event_time, event_references)

    def related_items(self, arn: str) -> list[dict[str, Any]]:
        """The incident's related items in the order added (as ListRelatedItems returns them)."""
        return self._state.related_item_list(arn)

    def incident(self, arn: str) -> dict[str, Any]:
        """The stored incident record (as GetIncidentRecord would return it, datetimes aware)."""
        return self._state.incident(arn)

    # ---------------------------------------------------------------- inspection API

    def events(self, arn: str | None = None) -> list[dict[str, Any]]:
        """Stored timeline events in creation order."""
        return self._state.event_list(arn)

    @property
    def calls(self) -> list[RecordedCall]:
        return self._state.calls_snapshot()

    def calls_to(self, operation: str) -> list[RecordedCall]:
        return self._state.calls_to(operation)

    def reset(self) -> None:
        """Forget incidents, events, idempotency tokens, recorded calls and all faults."""
        with self._state.lock:
            self._state.clear()
            self._faults.clear()

    # ---------------------------------------------------------------- fault injection

    def fail_next(self, operation: str, error_code: str, times: int = 1, message: str | None = None) -> None:
        """Answer the next `times` calls of `operation` with `error_code` (before validation)."""
        self._faults.fail_next(operation, error_code, times, message)

    def stop_failing(self, operation: str | None = None) -> None:
        """Forget the failures `fail_next` queued (of `operation`, or all): an outage of unknown length
        is `fail_next(op, code, times=<many>)`, ended by this when the test decides."""
        self._faults.stop_failing(operation)

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        """Sleep (asynchronously, on the fake's loop) before answering; 0 removes it."""
        self._faults.set_latency(seconds, operation)

    def throttle_above(
        self, calls_per_second: float | None, operation: str | None = None, burst: float | None = None
    ) -> None:
        """Sliding window: calls beyond `burst` (default max(1, rate)) in any `burst / calls_per_second`
        seconds get ThrottlingException 429.  `None` removes the limit."""
        self._faults.throttle_above(calls_per_second, operation, burst)

    def set_down(self, down: bool = True) -> None:
        """While down, every request's TCP connection is aborted (RST) without an HTTP answer."""
        self._faults.set_down(down)
