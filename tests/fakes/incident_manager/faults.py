"""Faults the tests inject: queued errors, latency, throttling (sliding windows) and a dead endpoint.

The plan shares the state's lock, so a ``reset()`` forgets state and faults at one instant.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .errors import SIGNATURE_MISMATCH, UNMODELED_ERRORS, AwsError
from .model import SERVICE_NAME


class SlidingWindow:
    """At most `burst` calls admitted in any `burst / rate` seconds (5 in any sliding second for rate 5):
    the strict reading of a quota of N calls a second. A token bucket of burst N admits up to 2N in one
    sliding second (a full bucket, then its refill), so a client that holds this holds AWS's buckets too."""

    def __init__(self, rate: float, burst: float) -> None:
        self.capacity = max(1, int(burst))
        self.window = self.capacity / rate
        self.admitted: deque[float] = deque()

    def take(self) -> bool:
        now = time.monotonic()
        while self.admitted and now - self.admitted[0] >= self.window:
            self.admitted.popleft()
        if len(self.admitted) < self.capacity:
            self.admitted.append(now)
            return True
        return False


@dataclass
class Failure:
    code: str
    remaining: int
    message: str | None


@dataclass
class Faults:
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    latency: dict[str | None, float] = field(default_factory=dict)
    buckets: dict[str | None, SlidingWindow] = field(default_factory=dict)
    down: bool = False


class FaultPlan:
    """What goes wrong, and when; ``apply`` is called once per routed request, before validation.

    The injection methods are documented on ``FakeIncidentManager``, which delegates to them."""

    def __init__(self, lock: threading.RLock, model: Any, settings: Settings) -> None:
        self._lock = lock
        self.model = model
        self.settings = settings
        self._faults = Faults()

    def clear(self) -> None:
        with self._lock:
            self._faults = Faults()

    def down_and_latency(self, operation: str) -> tuple[bool, float]:
        """Whether the endpoint is down, and how long to sleep before answering ``operation``."""
        with self._lock:
            latency = self._faults.latency.get(operation, self._faults.latency.get(None, 0.0))
            return self._faults.down, latency

    def fail_next(self, operation: str, error_code: str, times: int = 1, message: str | None = None) -> None:
        op = self.model.operation_model(operation)
        modeled = {s.name for s in op.error_shapes}
        if error_code not in modeled and error_code not in UNMODELED_ERRORS:
            raise ValueError(
                f"{operation} cannot fail with {error_code}; modeled: {sorted(modeled)}, "
                f"also allowed: {sorted(UNMODELED_ERRORS)}"
            )
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.failures.setdefault(operation, []).append(Failure(error_code, times, message))

    def stop_failing(self, operation: str | None = None) -> None:
        with self._lock:
            if operation is None:
                self._faults.failures.clear()
            else:
                self._faults.failures.pop(operation, None)

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        if operation is not None:
            self.model.operation_model(operation)
        with self._lock:
            if seconds <= 0:
                self._faults.latency.pop(operation, None)
            else:
                self._faults.latency[operation] = seconds

    def throttle_above(
        self, calls_per_second: float | None, operation: str | None = None, burst: float | None = None
    ) -> None:
        if operation is not None:
            self.model.operation_model(operation)
        with self._lock:
            if calls_per_second is None:
                self._faults.buckets.pop(operation, None)
            else:
                if calls_per_second <= 0:
                    raise ValueError("calls_per_second must be > 0")
                capacity = burst if burst is not None else max(1.0, calls_per_second)
                self._faults.buckets[operation] = SlidingWindow(calls_per_second, capacity)

    def set_down(self, down: bool = True) -> None:
        with self._lock:
            self._faults.down = down

    def apply(self, op: Any, params: Mapping[str, Any]) -> None:
        with self._lock:
            queue = self._faults.failures.get(op.name)
            failure: Failure | None = None
            if queue:
                failure = queue[0]
                failure.remaining -= 1
                if failure.remaining <= 0:
                    queue.pop(0)
            throttled = False
            if failure is None:
                for key in (op.name, None):
                    bucket = self._faults.buckets.get(key)
                    if bucket is not None and not bucket.take():
                        throttled = True
                        break
        if failure is not None:
            raise self.injected_error(op, failure.code, failure.message, params)
        if throttled:
            raise self.injected_error(op, "ThrottlingException", None, params)

    def injected_error(self, op: Any, code: str, message: str | None, params: Mapping[str, Any]) -> AwsError:
        resource = params.get("incidentRecordArn") or params.get("arn") or params.get("resourceArn") or "*"
        if code == "ThrottlingException":
            return AwsError(
                code,
                message or "Rate exceeded",
                quotaCode=f"{op.name}-TPS",
                serviceCode=SERVICE_NAME,
            )
        if code == "AccessDeniedException":
            return AwsError(
                code,
                message
                or f"User: {self.settings.caller_arn} is not authorized to perform: {SERVICE_NAME}:{op.name} "
                f"on resource: {resource}",
            )
        if code == "ResourceNotFoundException":
            return AwsError(
                code,
                message or f"Resource {resource} not found",
                resourceIdentifier=resource,
                resourceType="INCIDENT_RECORD",
            )
        if code == "ConflictException":
            return AwsError(
                code,
                message or f"Conflicting update to {resource}",
                resourceIdentifier=resource,
                resourceType="INCIDENT_RECORD",
            )
        if code == "ValidationException":
            return AwsError(code, message or "1 validation error detected: injected by the fake")
        if code == "InternalServerException":
            return AwsError(code, message or "Internal server error")
        if code == "ServiceUnavailableException":
            return AwsError(code, message or "Service Unavailable", 503)
        if code == "ExpiredTokenException":
            return AwsError(code, message or "The security token included in the request is expired", 403)
        if code == "UnrecognizedClientException":
            return AwsError(code, message or "The security token included in the request is invalid.", 403)
        if code == "InvalidSignatureException":
            return AwsError(code, message or SIGNATURE_MISMATCH, 403)
        return AwsError(code, message or code, UNMODELED_ERRORS.get(code))
