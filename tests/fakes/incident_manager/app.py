"""The HTTP surface: one aiohttp handler taking a request through routing, parsing, SigV4, faults,
validation and the operation, then answering and recording it."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from .config import Settings
from .deserialize import Deserializer
from .errors import AwsError
from .faults import FaultPlan
from .model import truncate_ms
from .operations import Ctx, Operations
from .routing import Router
from .serialize import Responder
from .sigv4 import Auth, SigV4Checker
from .state import RecordedCall, State
from .validate import Validator

# The package's logger, as when the fake was one module.
log = logging.getLogger(__package__)


class HttpApp:
    """Answers every request the way ssm-incidents would; ``handle`` is the aiohttp handler."""

    def __init__(
        self,
        model: Any,
        settings: Settings,
        state: State,
        faults: FaultPlan,
        *,
        length_unit: Literal["utf16", "codepoints"],
        reject_unknown_members: bool,
    ) -> None:
        self.settings = settings
        self._state = state
        self._faults = faults
        self._router = Router(model)
        self._deserializer = Deserializer(reject_unknown_members)
        self._validator = Validator(length_unit, reject_unknown_members)
        self._sigv4 = SigV4Checker(settings)
        self._responder = Responder(model)
        self._operations = Operations(state, settings)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        arrived = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        body = await request.read()
        raw_path, _, raw_query = request.raw_path.partition("?")
        query = parse_qsl(raw_query, keep_blank_values=True)
        matched = self._router.match(request.method, raw_path, query)
        op = matched[0] if matched else None
        op_name: str = op.name if op is not None else "UNKNOWN"
        auth = Auth()
        params: dict[str, Any] = {}
        unknown: list[str] = []
        parse_error: AwsError | None = None
        if matched is not None:
            try:
                params, unknown = self._deserializer.request(
                    matched[0], matched[1], query, request.headers, body
                )
            except AwsError as exc:
                parse_error = exc

        down, latency = self._faults.down_and_latency(op_name)
        if down:
            with contextlib.suppress(AwsError):
                auth = self._sigv4.check(request, body)
            self._record(op_name, params, auth, 0, arrived, request_id, "ConnectionAborted", "set_down(True)")
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()  # aiohttp drops the (already aborted) connection quietly
        if latency > 0:
            await asyncio.sleep(latency)

        try:
            auth = self._sigv4.check(request, body)
            if op is None:
                raise AwsError(
                    "UnknownOperationException", f"No operation matches {request.method} {raw_path}", 404
                )
            self._faults.apply(op, params)
            if parse_error is not None:
                raise parse_error
            errors = self._validator.validate(op.input_shape, params, unknown)
            if errors:
                count = len(errors)
                noun = "error" if count == 1 else "errors"
                raise AwsError(
                    "ValidationException", f"{count} validation {noun} detected: " + "; ".join(errors)
                )
            handler = self._operations.handlers.get(op.name)
            if handler is None:
                raise AwsError("InternalServerException", f"operation {op.name} not implemented by the fake")
            ctx = Ctx(auth.region, request_id, truncate_ms(datetime.now(UTC)), self.settings.caller_arn)
            with self._state.lock:
                result = handler(ctx, params)
            response = self._responder.success(op, result, request_id)
        except AwsError as exc:
            response = self._responder.error(op, exc, request_id)
            self._record(op_name, params, auth, response.status, arrived, request_id, exc.code, exc.message)
            return response
        except Exception as exc:  # a bug in the fake: make it loud, and visible to botocore
            log.exception("FakeIncidentManager failed on %s", op_name)
            err = AwsError("InternalServerException", f"fake bug in {op_name}: {exc!r}")
            response = self._responder.error(op, err, request_id)
            self._record(op_name, params, auth, response.status, arrived, request_id, err.code, err.message)
            return response
        self._record(op_name, params, auth, response.status, arrived, request_id, None, None)
        return response

    def _record(
        self,
        operation: str,
        params: dict[str, Any],
        auth: Auth,
        status: int,
        arrived: datetime,
        request_id: str,
        error_code: str | None,
        error_message: str | None,
    ) -> None:
        call = RecordedCall(
            operation=operation,
            params=copy.deepcopy(params),
            region=auth.region,
            status=status,
            time=arrived,
            error_code=error_code,
            error_message=error_message,
            request_id=request_id,
            access_key=auth.access_key,
        )
        self._state.record(call)
