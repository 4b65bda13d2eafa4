"""Faults the tests inject: queued errors, latency, throttling (token buckets) and a dead endpoint.

The plan shares the state's lock, so a ``reset()`` forgets state and faults at one instant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .errors import SIGNATURE_MISMATCH, UNMODELED_ERRORS, AwsError
from .model import SERVICE_NAME


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.capacity = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
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
    buckets: dict[str | None, TokenBucket] = field(default_factory=dict)
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
                self._faults.buckets[operation] = TokenBucket(calls_per_second, capacity)

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
