"""A faithful fake of AWS Systems Manager Incident Manager (``ssm-incidents``) over real HTTP.

The fake is driven by botocore's own service model: every modeled operation is routed by
``http.method`` + ``http.requestUri``, its request is deserialized the way the rest-json protocol
serializes it and validated against the input shape (required members, types, lengths, counts,
ranges, patterns, enums, unions, unknown members).  Answers (success and errors) are serialized the
way AWS's rest-json services send them, so botocore raises the right modeled exceptions.

It runs an aiohttp server on 127.0.0.1 in its own thread with its own event loop, so sync boto3
code, async code running on another loop and benchmarks can all use it::

    with FakeIncidentManager() as fake:
        arn = fake.add_incident("Database down")
        client = boto3.client("ssm-incidents", endpoint_url=fake.endpoint_url, region_name="eu-west-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_timeline_event(incidentRecordArn=arn, eventTime=now, eventType="Custom Event",
                                     eventData="note")
        assert fake.events(arn)[0]["eventData"] == "note"

Things to know (deliberate, documented behaviour):

* SigV4 is checked like AWS does: no ``Authorization`` header -> 403 MissingAuthenticationToken;
  malformed header -> 403 IncompleteSignature; credential scope for another service / region,
  more than 5 minutes of clock skew -> 403 InvalidSignatureException.  The signature itself is
  verified only when the fake knows the secret: pass ``credentials={"AKID": "secret"}`` and then a
  wrong signature -> 403 InvalidSignatureException and any other access key -> 403
  UnrecognizedClientException.  By default (``credentials=None``) any access key is accepted.
  Session tokens are accepted unchecked.
* String lengths are counted in UTF-16 code units (Java ``String.length()``), so an emoji counts 2.
  That is the stricter of the two counts AWS services use, so a payload accepted here is accepted
  by AWS.  Pass ``length_unit="codepoints"`` for Smithy's count.
* Unknown members in a request body are rejected (ValidationException); AWS may ignore them.
  Pass ``reject_unknown_members=False`` to ignore them.  A JSON value of the wrong type is a
  400 ``SerializationException`` (not modeled: botocore raises a plain ``ClientError``), as AWS does.
* Timestamps are stored with millisecond precision (sub-millisecond digits are dropped).
* ``CreateTimelineEvent``/``UpdateTimelineEvent`` accept only the event types AWS documents as
  creatable ("Custom Event" and "Note"); see ``creatable_event_types``.
* ``ListTimelineEvents`` sorts DESCENDING by event time unless ``sortOrder`` is given (AWS does not
  document its default) and pages by ``default_page_size`` (20) unless ``maxResults`` is given.
* ``set_down(True)``: every request is answered by aborting the TCP connection (RST) without any
  HTTP response; botocore raises ``botocore.exceptions.ConnectionClosedError`` (an ``HTTPClientError``;
  note it is NOT a subclass of ``botocore.exceptions.ConnectionError``/``EndpointConnectionError`` -
  catch ``BotoCoreError`` or both).  botocore retries it like any connection error.  Down calls are
  recorded with ``status == 0``.
* Operations the fake does not implement are still routed, parsed and validated, then answered
  500 InternalServerException "operation X not implemented by the fake".

Run standalone: ``python -m tests.fakes.incident_manager --port 4566 --seed "Title"``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import calendar
import contextlib
import copy
import email.utils
import hashlib
import hmac
import json
import logging
import math
import posixpath
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from types import TracebackType
from typing import Any, Literal, Self, cast
from urllib.parse import parse_qsl, quote, unquote

import botocore.session
from aiohttp import web

__all__ = ["FakeIncidentManager", "RecordedCall"]

log = logging.getLogger(__name__)

SERVICE_NAME = "ssm-incidents"
DEFAULT_ACCOUNT = "111122223333"
DEFAULT_CALLER_ARN = f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/bot/i-1"
CREATABLE_EVENT_TYPES = frozenset({"Custom Event", "Note"})
MAX_CLOCK_SKEW = timedelta(minutes=5)

# Errors AWS can answer although ssm-incidents does not model them (fail_next accepts these too).
UNMODELED_ERRORS: Mapping[str, int] = {
    "ServiceUnavailableException": 503,
    "UnrecognizedClientException": 403,
    "ExpiredTokenException": 403,
    "InvalidSignatureException": 403,
    "SerializationException": 400,
}

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)

_INT_RANGES: Mapping[str, tuple[int, int]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
}


# --------------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the fake received (whatever the outcome)."""

    operation: str  # modeled operation name, or "UNKNOWN" when no route matched
    params: dict[str, Any]  # deserialized input (timestamps as aware datetimes, blobs as bytes)
    region: str | None  # region from the SigV4 credential scope (None when unsigned/unparseable)
    status: int  # HTTP status answered; 0 when the connection was aborted (set_down)
    time: datetime  # when the request arrived (UTC)
    error_code: str | None = None
    error_message: str | None = None
    request_id: str = ""
    access_key: str | None = None


class _AwsError(Exception):
    """An error answer: code, message, HTTP status and the extra members of the error shape."""

    def __init__(self, code: str, message: str, status: int | None = None, **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.members = members


class _FakeBugError(Exception):
    """The fake produced something its own model says is invalid."""


# --------------------------------------------------------------------------------------------------
# Service model helpers
# --------------------------------------------------------------------------------------------------

_LINE_TERMINATORS = "\\n\\r\\u0085\\u2028\\u2029"


def java_regex_to_python(pattern: str) -> str:
    """Translate the Java-regex features AWS patterns use whose meaning differs in Python.

    Java's ``.`` excludes all line terminators and ``$`` (without MULTILINE) matches at the end or
    before a final line terminator; Python's only know ``\\n``.  Everything else the model uses
    (classes, groups, ``{m,n}``, ``(?!...)``) means the same in both.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
            # A leading ']' (or '^]') is literal in both dialects.
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                out.append("\\]")
                i += 1
        elif ch == ".":
            out.append(f"[^{_LINE_TERMINATORS}]")
        elif ch == "$":
            out.append(f"(?=(?:\\r\\n|[{_LINE_TERMINATORS}])?\\Z)")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@cache
def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(java_regex_to_python(pattern))


@cache
def service_model() -> Any:
    """botocore's ServiceModel for ssm-incidents (cached)."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _to_datetime(epoch: float) -> datetime:
    whole = math.floor(epoch)
    millis = round((epoch - whole) * 1000)
    return datetime.fromtimestamp(whole, UTC) + timedelta(milliseconds=millis)


def _truncate_ms(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _epoch(value: datetime) -> float | int:
    ts = calendar.timegm(value.utctimetuple()) + value.microsecond // 1000 / 1000
    return int(ts) if float(ts).is_integer() else round(ts, 3)


def _parse_iso8601(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _timestamp_from_string(text: str, fmt: str) -> datetime:
    if fmt == "unixtimestamp":
        return _to_datetime(float(text))
    if fmt == "rfc822":
        return email.utils.parsedate_to_datetime(text).astimezone(UTC)
    return _parse_iso8601(text)


class _Deserializer:
    """Turns a rest-json request into input parameters, like an AWS rest-json service does."""

    def __init__(self, reject_unknown: bool) -> None:
        self.reject_unknown = reject_unknown

    def request(
        self,
        op: Any,
        uri_params: Mapping[str, str],
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[dict[str, Any], list[str]]:
        """Return (params, unknown member paths). Raises _AwsError(SerializationException)."""
        shape = op.input_shape
        params: dict[str, Any] = {}
        unknown: list[str] = []
        if shape is None:
            return params, unknown
        body_members: dict[str, Any] = {}
        query_claimed: set[str] = set()
        query_map_member: str | None = None
        payload_name = shape.serialization.get("payload")
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri":
                if wire in uri_params:
                    params[name] = self._from_string(member, uri_params[wire], name)
            elif location == "querystring":
                if member.type_name == "map":
                    query_map_member = name
                    continue
                values = [v for k, v in query if k == wire]
                query_claimed.add(wire)
                if not values:
                    continue
                if member.type_name == "list":
                    params[name] = [self._from_string(member.member, v, name) for v in values]
                else:
                    params[name] = self._from_string(member, values[0], name)
            elif location == "header":
                header_value = headers.get(wire)
                if header_value is None:
                    continue
                if member.type_name == "list":
                    items = [p.strip() for p in header_value.split(",")]
                    params[name] = [self._from_string(member.member, v, name) for v in items]
                else:
                    params[name] = self._header_value(member, header_value, name)
            elif location == "headers":
                prefix = wire.lower()
                found = {k[len(prefix) :]: v for k, v in headers.items() if k.lower().startswith(prefix)}
                if found:
                    params[name] = found
            elif location == "statusCode":
                continue
            else:
                body_members[name] = member
        if query_map_member is not None:
            rest = {k: v for k, v in query if k not in query_claimed}
            if rest:
                params[query_map_member] = rest

        if payload_name is not None:
            member = shape.members[payload_name]
            if member.type_name in ("blob", "string"):
                if body:
                    params[payload_name] = body if member.type_name == "blob" else body.decode("utf-8")
                return params, unknown
            document = self._load_json(body)
            if document is not None:
                params[payload_name] = self._from_json(member, document, payload_name, unknown)
            return params, unknown

        document = self._load_json(body)
        if document is None:
            return params, unknown
        if not isinstance(document, dict):
            raise _AwsError("SerializationException", "Request body must be a JSON object")
        for key, value in document.items():
            if key not in body_members:
                unknown.append(key)
                continue
            if value is None:
                continue
            params[key] = self._from_json(body_members[key], value, key, unknown)
        return params, unknown

    @staticmethod
    def _load_json(body: bytes) -> Any:
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _AwsError("SerializationException", f"Could not parse request body as JSON: {exc}") from exc

    def _wrong_type(self, shape: Any, value: Any, path: str) -> _AwsError:
        return _AwsError(
            "SerializationException",
            f"Unexpected {_json_type(value)} at '{path}': expected {shape.type_name} ({shape.name})",
        )

    def _from_json(self, shape: Any, value: Any, path: str, unknown: list[str]) -> Any:
        kind = shape.type_name
        if shape.serialization.get("jsonvalue") or getattr(shape, "is_document_type", False):
            return value
        if kind == "structure":
            if not isinstance(value, dict):
                raise self._wrong_type(shape, value, path)
            result: dict[str, Any] = {}
            for key, item in value.items():
                if key not in shape.members:
                    unknown.append(f"{path}.{key}")
                    continue
                if item is None:
                    continue
                result[key] = self._from_json(shape.members[key], item, f"{path}.{key}", unknown)
            return result
        if kind == "list":
            if not isinstance(value, list):
                raise self._wrong_type(shape, value, path)
            return [
                None
                if item is None
                else self._from_json(shape.member, item, f"{path}.{i + 1}.member", unknown)
                for i, item in enumerate(value)
            ]
        if kind == "map":
            if not isinstance(value, dict):
                raise self._wrong_type(shape, value, path)
            return {
                k: None if v is None else self._from_json(shape.value, v, f"{path}.{k}", unknown)
                for k, v in value.items()
            }
        if kind == "string":
            if not isinstance(value, str):
                raise self._wrong_type(shape, value, path)
            return value
        if kind in _INT_RANGES:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._wrong_type(shape, value, path)
            low, high = _INT_RANGES[kind]
            if not low <= value <= high:
                raise _AwsError("SerializationException", f"Numeric value ({value}) out of range of {kind}")
            return value
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._wrong_type(shape, value, path)
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise self._wrong_type(shape, value, path)
            return value
        if kind == "timestamp":
            fmt = shape.serialization.get("timestampFormat", "unixtimestamp")
            if fmt == "unixtimestamp":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise self._wrong_type(shape, value, path)
                return _to_datetime(float(value))
            if not isinstance(value, str):
                raise self._wrong_type(shape, value, path)
            return self._timestamp(value, fmt, path)
        if kind == "blob":
            if not isinstance(value, str):
                raise self._wrong_type(shape, value, path)
            try:
                return base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise _AwsError("SerializationException", f"Invalid base64 at '{path}'") from exc
        return value

    @staticmethod
    def _timestamp(text: str, fmt: str, path: str) -> datetime:
        try:
            return _timestamp_from_string(text, fmt)
        except (ValueError, TypeError) as exc:
            raise _AwsError("SerializationException", f"Invalid timestamp '{text}' at '{path}'") from exc

    def _from_string(self, shape: Any, text: str, path: str) -> Any:
        kind = shape.type_name
        try:
            if kind in _INT_RANGES:
                return int(text)
            if kind in ("float", "double"):
                return float(text)
        except ValueError as exc:
            raise _AwsError("SerializationException", f"Invalid {kind} '{text}' at '{path}'") from exc
        if kind == "boolean":
            if text not in ("true", "false"):
                raise _AwsError("SerializationException", f"Invalid boolean '{text}' at '{path}'")
            return text == "true"
        if kind == "timestamp":
            return self._timestamp(text, shape.serialization.get("timestampFormat", "iso8601"), path)
        if kind == "blob":
            return text.encode()
        return text

    def _header_value(self, shape: Any, text: str, path: str) -> Any:
        if shape.serialization.get("jsonvalue"):
            try:
                return json.loads(base64.b64decode(text))
            except (binascii.Error, ValueError) as exc:
                raise _AwsError("SerializationException", f"Invalid JSON header at '{path}'") from exc
        if shape.type_name == "timestamp":
            return self._timestamp(text, shape.serialization.get("timestampFormat", "rfc822"), path)
        return self._from_string(shape, text, path)


class _Validator:
    """Checks parameters against a shape the way AWS's service-side validation reports it."""

    def __init__(self, length_unit: Literal["utf16", "codepoints"], reject_unknown: bool) -> None:
        self.length_unit = length_unit
        self.reject_unknown = reject_unknown

    def validate(self, shape: Any, params: Mapping[str, Any], unknown: list[str]) -> list[str]:
        errors: list[str] = []
        if self.reject_unknown:
            for path in unknown:
                errors.append(
                    f"Value at '{path}' failed to satisfy constraint: Member is not modeled in "
                    f"{shape.name} (the fake rejects unknown members)"
                )
        if shape is not None:
            self._structure(shape, params, "", errors)
        return errors

    def _length(self, value: str) -> int:
        if self.length_unit == "utf16":
            return len(value.encode("utf-16-le")) // 2
        return len(value)

    @staticmethod
    def _join(path: str, name: str) -> str:
        return f"{path}.{name}" if path else name

    def _render(self, value: Any) -> str:
        return "null" if value is None else f"'{self._java(value)}'"

    def _java(self, value: Any) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(self._java(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}={self._java(v)}" for k, v in value.items()) + "}"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, bytes):
            return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
        return str(value)

    def _fail(self, errors: list[str], value: Any, path: str, constraint: str) -> None:
        errors.append(f"Value {self._render(value)} at '{path}' failed to satisfy constraint: {constraint}")

    def _structure(self, shape: Any, value: Mapping[str, Any], path: str, errors: list[str]) -> None:
        for name in shape.required_members:
            if value.get(name) is None:
                self._fail(errors, None, self._join(path, name), "Member must not be null")
        if shape.is_tagged_union:
            set_members = sorted(k for k, v in value.items() if v is not None)
            if len(set_members) != 1:
                self._fail(
                    errors,
                    dict(value),
                    path or shape.name,
                    f"Union must have exactly one member set, but {len(set_members)} were set"
                    + (f": [{', '.join(set_members)}]" if set_members else ""),
                )
        for name, item in value.items():
            if item is None or name not in shape.members:
                continue
            self._value(shape.members[name], item, self._join(path, name), errors)

    def _value(self, shape: Any, value: Any, path: str, errors: list[str]) -> None:
        kind = shape.type_name
        if kind == "structure":
            if isinstance(value, dict):
                self._structure(shape, value, path, errors)
            return
        if kind == "list":
            self._count(shape, value, path, errors)
            for i, item in enumerate(value):
                item_path = f"{path}.{i + 1}.member"
                if item is None:
                    self._fail(errors, None, item_path, "Member must not be null")
                else:
                    self._value(shape.member, item, item_path, errors)
            return
        if kind == "map":
            self._count(shape, value, path, errors)
            for key, item in value.items():
                key_errors = self._scalar_constraints(shape.key, key)
                if key_errors:
                    self._fail(
                        errors, value, path, f"Map keys must satisfy constraint: [{', '.join(key_errors)}]"
                    )
                if item is None:
                    self._fail(
                        errors, value, path, "Map value must satisfy constraint: [Member must not be null]"
                    )
                elif shape.value.type_name in ("structure", "list", "map"):
                    self._value(shape.value, item, f"{path}.{key}", errors)
                else:
                    value_errors = self._scalar_constraints(shape.value, item)
                    if value_errors:
                        self._fail(
                            errors,
                            value,
                            path,
                            f"Map value must satisfy constraint: [{', '.join(value_errors)}]",
                        )
            return
        for constraint in self._scalar_constraints(shape, value):
            self._fail(errors, value, path, constraint)

    def _count(self, shape: Any, value: Any, path: str, errors: list[str]) -> None:
        meta = shape.metadata
        if "max" in meta and len(value) > meta["max"]:
            self._fail(errors, value, path, f"Member must have length less than or equal to {meta['max']}")
        if "min" in meta and len(value) < meta["min"]:
            self._fail(errors, value, path, f"Member must have length greater than or equal to {meta['min']}")

    def _scalar_constraints(self, shape: Any, value: Any) -> list[str]:
        meta = shape.metadata
        found: list[str] = []
        kind = shape.type_name
        if kind == "string":
            enum = meta.get("enum")
            if enum and value not in enum:
                found.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
            length = self._length(value)
            if "max" in meta and length > meta["max"]:
                found.append(f"Member must have length less than or equal to {meta['max']}")
            if "min" in meta and length < meta["min"]:
                found.append(f"Member must have length greater than or equal to {meta['min']}")
            pattern = meta.get("pattern")
            if pattern and not _compiled_pattern(pattern).search(value):
                found.append(f"Member must satisfy regular expression pattern: {pattern}")
        elif kind == "blob":
            if "max" in meta and len(value) > meta["max"]:
                found.append(f"Member must have length less than or equal to {meta['max']}")
            if "min" in meta and len(value) < meta["min"]:
                found.append(f"Member must have length greater than or equal to {meta['min']}")
        elif kind in _INT_RANGES or kind in ("float", "double"):
            if "max" in meta and value > meta["max"]:
                found.append(f"Member must have value less than or equal to {meta['max']}")
            if "min" in meta and value < meta["min"]:
                found.append(f"Member must have value greater than or equal to {meta['min']}")
        return found


class _Serializer:
    """Serializes an output dict the way a rest-json service does; checks the fake's own output."""

    def body(self, shape: Any, value: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        headers: dict[str, str] = {}
        body: dict[str, Any] = {}
        if shape is None:
            return body, headers
        self._check_required(shape, value, shape.name)
        for name, item in value.items():
            if item is None:
                continue
            if name not in shape.members:
                raise _FakeBugError(f"{shape.name} has no member {name}")
            member = shape.members[name]
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "header":
                headers[wire] = self._header(member, item)
            elif location == "headers":
                for key, header_value in item.items():
                    headers[wire + key] = str(header_value)
            elif location == "statusCode":
                continue
            else:
                body[wire] = self._json(member, item, name)
        return body, headers

    @staticmethod
    def _check_required(shape: Any, value: Mapping[str, Any], path: str) -> None:
        missing = [name for name in shape.required_members if value.get(name) is None]
        if missing:
            raise _FakeBugError(f"fake output {path} misses required members {missing}")

    def _json(self, shape: Any, value: Any, path: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            self._check_required(shape, value, path)
            out: dict[str, Any] = {}
            for name, item in value.items():
                if item is None:
                    continue
                if name not in shape.members:
                    raise _FakeBugError(f"{path} has no member {name}")
                out[name] = self._json(shape.members[name], item, f"{path}.{name}")
            return out
        if kind == "list":
            return [self._json(shape.member, item, path) for item in value]
        if kind == "map":
            return {k: self._json(shape.value, v, path) for k, v in value.items()}
        if kind == "timestamp":
            if not isinstance(value, datetime):
                raise _FakeBugError(f"{path} must be a datetime")
            return _epoch(value)
        if kind == "blob":
            return base64.b64encode(value).decode()
        return value

    @staticmethod
    def _header(shape: Any, value: Any) -> str:
        if shape.type_name == "timestamp":
            return email.utils.format_datetime(value.astimezone(UTC), usegmt=True)
        if shape.type_name == "boolean":
            return "true" if value else "false"
        if shape.serialization.get("jsonvalue"):
            return base64.b64encode(json.dumps(value).encode()).decode()
        return str(value)


@dataclass(frozen=True)
class _Route:
    operation: Any
    method: str
    regex: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name
    literal_query: tuple[tuple[str, str], ...]
    literal_length: int


def _build_routes(model: Any) -> list[_Route]:
    routes: list[_Route] = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri: str = op.http["requestUri"]
        path, _, query = uri.partition("?")
        labels: dict[str, str] = {}
        parts: list[str] = []
        literal_length = 0
        pos = 0
        for m in re.finditer(r"\{([^}]+)\}", path):
            literal = path[pos : m.start()]
            parts.append(re.escape(literal))
            literal_length += len(literal)
            label = m.group(1)
            group = f"g{len(labels)}"
            if label.endswith("+"):
                labels[group] = label[:-1]
                parts.append(f"(?P<{group}>.+)")
            else:
                labels[group] = label
                parts.append(f"(?P<{group}>[^/]+)")
            pos = m.end()
        parts.append(re.escape(path[pos:]))
        literal_length += len(path) - pos
        regex = re.compile("^" + "".join(parts).rstrip("/") + "/?$")
        literal_query = tuple(parse_qsl(query, keep_blank_values=True))
        routes.append(_Route(op, op.http["method"], regex, labels, literal_query, literal_length))
    # Most specific first: more literal characters, then more literal query parameters.
    routes.sort(key=lambda r: (-r.literal_length, -len(r.literal_query)))
    return routes


# --------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------


@dataclass
class _Incident:
    arn: str
    title: str
    status: str
    impact: int
    creation_time: datetime
    last_modified_time: datetime
    last_modified_by: str
    dedupe_string: str
    source: dict[str, Any]
    resolved_time: datetime | None = None
    summary: str | None = None
    chat_channel: dict[str, Any] | None = None
    notification_targets: list[dict[str, Any]] | None = None
    automation_executions: list[dict[str, Any]] | None = None

    def record(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "automationExecutions": self.automation_executions,
            "chatChannel": self.chat_channel,
            "creationTime": self.creation_time,
            "dedupeString": self.dedupe_string,
            "impact": self.impact,
            "incidentRecordSource": self.source,
            "lastModifiedBy": self.last_modified_by,
            "lastModifiedTime": self.last_modified_time,
            "notificationTargets": self.notification_targets,
            "resolvedTime": self.resolved_time,
            "status": self.status,
            "summary": self.summary,
            "title": self.title,
        }

    def summary_record(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "creationTime": self.creation_time,
            "impact": self.impact,
            "incidentRecordSource": self.source,
            "resolvedTime": self.resolved_time,
            "status": self.status,
            "title": self.title,
        }


@dataclass
class _Event:
    event_id: str
    incident_arn: str
    event_time: datetime
    event_updated_time: datetime
    event_type: str
    event_data: str
    event_references: list[dict[str, Any]]
    client_token: str | None
    seq: int

    def full(self) -> dict[str, Any]:
        return {
            "eventData": self.event_data,
            "eventId": self.event_id,
            "eventReferences": copy.deepcopy(self.event_references) or None,
            "eventTime": self.event_time,
            "eventType": self.event_type,
            "eventUpdatedTime": self.event_updated_time,
            "incidentRecordArn": self.incident_arn,
        }

    def summary(self) -> dict[str, Any]:
        out = self.full()
        del out["eventData"]
        return out


class _SlidingWindow:
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
class _Failure:
    code: str
    remaining: int
    message: str | None


@dataclass
class _Ctx:
    region: str | None
    request_id: str
    now: datetime
    caller_arn: str


@dataclass
class _Auth:
    access_key: str | None = None
    region: str | None = None


@dataclass
class _Faults:
    failures: dict[str, list[_Failure]] = field(default_factory=dict)
    latency: dict[str | None, float] = field(default_factory=dict)
    buckets: dict[str | None, _SlidingWindow] = field(default_factory=dict)
    down: bool = False


# --------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------


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
        self._requested_port = port
        self.region = region
        self.credentials = dict(credentials) if credentials is not None else None
        self.caller_arn = caller_arn
        self.creatable_event_types = creatable_event_types
        self.default_page_size = default_page_size
        self.model = service_model()
        self._routes = _build_routes(self.model)
        self._deserializer = _Deserializer(reject_unknown_members)
        self._validator = _Validator(length_unit, reject_unknown_members)
        self._serializer = _Serializer()
        self._lock = threading.RLock()
        self._incidents: dict[str, _Incident] = {}
        self._events: dict[str, _Event] = {}
        self._tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self._calls: list[RecordedCall] = []
        self._faults = _Faults()
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.ServerRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, Callable[[_Ctx, dict[str, Any]], dict[str, Any]]] = {
            "CreateTimelineEvent": self._create_timeline_event,
            "GetTimelineEvent": self._get_timeline_event,
            "ListTimelineEvents": self._list_timeline_events,
            "UpdateTimelineEvent": self._update_timeline_event,
            "DeleteTimelineEvent": self._delete_timeline_event,
            "GetIncidentRecord": self._get_incident_record,
            "ListIncidentRecords": self._list_incident_records,
            "UpdateIncidentRecord": self._update_incident_record,
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("FakeIncidentManager already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve,
            args=(sock, ready, errors),
            name=f"fake-ssm-incidents:{self._port}",
            daemon=True,
        )
        self._thread.start()
        ready.wait(10)
        if errors or not ready.is_set():
            self._thread.join(5)
            self._thread = None
            raise RuntimeError("FakeIncidentManager failed to start") from (errors[0] if errors else None)
        return self

    def _serve(self, sock: socket.socket, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            runner = loop.run_until_complete(self._start_site(sock))
        except BaseException as exc:
            errors.append(exc)
            sock.close()
            ready.set()
            loop.close()
            return
        self._runner = runner
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _start_site(self, sock: socket.socket) -> web.ServerRunner:
        runner = web.ServerRunner(
            web.Server(self._handle, access_log=None), handle_signals=False, shutdown_timeout=0.5
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._runner = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeIncidentManager not started")
        return self._port

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
        if status not in ("OPEN", "RESOLVED"):
            raise ValueError(f"status must be OPEN or RESOLVED, not {status!r}")
        if not 1 <= impact <= 5:
            raise ValueError("impact must be 1..5")
        now = _truncate_ms(datetime.now(UTC))
        incident_id = str(uuid.uuid4())
        arn = f"arn:aws:ssm-incidents::{account}:incident-record/{plan}/{incident_id}"
        creator = created_by or f"arn:aws:iam::{account}:role/IncidentResponder"
        incident_source: dict[str, Any] = {"createdBy": creator, "source": source}
        if invoked_by is not None:
            incident_source["invokedBy"] = invoked_by
        incident = _Incident(
            arn=arn,
            title=title,
            status=status,
            impact=impact,
            creation_time=now,
            last_modified_time=now,
            last_modified_by=creator,
            dedupe_string=hashlib.sha256(f"{plan}/{incident_id}".encode()).hexdigest(),
            source=incident_source,
            resolved_time=now if status == "RESOLVED" else None,
            summary=summary,
            chat_channel={"empty": {}},
            notification_targets=[],
            automation_executions=[],
        )
        with self._lock:
            self._incidents[arn] = incident
        return arn

    def resolve_incident(self, arn: str) -> None:
        with self._lock:
            incident = self._incident_or_key_error(arn)
            now = _truncate_ms(datetime.now(UTC))
            incident.status = "RESOLVED"
            incident.resolved_time = now
            incident.last_modified_time = now

    def delete_incident(self, arn: str) -> None:
        with self._lock:
            self._incident_or_key_error(arn)
            del self._incidents[arn]
            for event_id in [e.event_id for e in self._events.values() if e.incident_arn == arn]:
                del self._events[event_id]

    def add_event(
        self,
        arn: str,
        event_type: str,
        event_data: str,
        event_time: datetime | None = None,
        event_references: list[dict[str, Any]] | None = None,
    ) -> str:
        """Seed a timeline event (any type, e.g. the ones Incident Manager creates itself)."""
        with self._lock:
            self._incident_or_key_error(arn)
            now = _truncate_ms(datetime.now(UTC))
            return self._store_event(
                arn,
                _truncate_ms(event_time or now),
                event_type,
                event_data,
                event_references or [],
                None,
                now,
            ).event_id

    def incident(self, arn: str) -> dict[str, Any]:
        """The stored incident record (as GetIncidentRecord would return it, datetimes aware)."""
        with self._lock:
            record = self._incident_or_key_error(arn).record()
        return {k: copy.deepcopy(v) for k, v in record.items() if v is not None}

    def _incident_or_key_error(self, arn: str) -> _Incident:
        try:
            return self._incidents[arn]
        except KeyError:
            raise KeyError(f"no incident {arn}") from None

    # ---------------------------------------------------------------- inspection API

    def events(self, arn: str | None = None) -> list[dict[str, Any]]:
        """Stored timeline events in creation order."""
        with self._lock:
            stored = sorted(self._events.values(), key=lambda e: e.seq)
            return [
                {
                    "eventId": e.event_id,
                    "incidentRecordArn": e.incident_arn,
                    "eventTime": e.event_time,
                    "eventUpdatedTime": e.event_updated_time,
                    "eventType": e.event_type,
                    "eventData": e.event_data,
                    "eventReferences": copy.deepcopy(e.event_references),
                    "clientToken": e.client_token,
                }
                for e in stored
                if arn is None or e.incident_arn == arn
            ]

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, operation: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self._calls if c.operation == operation]

    def reset(self) -> None:
        """Forget incidents, events, idempotency tokens, recorded calls and all faults."""
        with self._lock:
            self._incidents.clear()
            self._events.clear()
            self._tokens.clear()
            self._calls.clear()
            self._faults = _Faults()

    # ---------------------------------------------------------------- fault injection

    def fail_next(self, operation: str, error_code: str, times: int = 1, message: str | None = None) -> None:
        """Answer the next `times` calls of `operation` with `error_code` (before validation)."""
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
            self._faults.failures.setdefault(operation, []).append(_Failure(error_code, times, message))

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        """Sleep (asynchronously, on the fake's loop) before answering; 0 removes it."""
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
        """Sliding window: calls beyond `burst` (default max(1, rate)) in any `burst / calls_per_second`
        seconds get ThrottlingException 429.  `None` removes the limit."""
        if operation is not None:
            self.model.operation_model(operation)
        with self._lock:
            if calls_per_second is None:
                self._faults.buckets.pop(operation, None)
            else:
                if calls_per_second <= 0:
                    raise ValueError("calls_per_second must be > 0")
                capacity = burst if burst is not None else max(1.0, calls_per_second)
                self._faults.buckets[operation] = _SlidingWindow(calls_per_second, capacity)

    def set_down(self, down: bool = True) -> None:
        """While down, every request's TCP connection is aborted (RST) without an HTTP answer."""
        with self._lock:
            self._faults.down = down

    # ---------------------------------------------------------------- HTTP handling

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        arrived = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        body = await request.read()
        raw_path, _, raw_query = request.raw_path.partition("?")
        query = parse_qsl(raw_query, keep_blank_values=True)
        matched = self._match(request.method, raw_path, query)
        op = matched[0] if matched else None
        op_name: str = op.name if op is not None else "UNKNOWN"
        auth = _Auth()
        params: dict[str, Any] = {}
        unknown: list[str] = []
        parse_error: _AwsError | None = None
        if matched is not None:
            try:
                params, unknown = self._deserializer.request(
                    matched[0], matched[1], query, request.headers, body
                )
            except _AwsError as exc:
                parse_error = exc

        with self._lock:
            down = self._faults.down
            latency = self._faults.latency.get(op_name, self._faults.latency.get(None, 0.0))
        if down:
            with contextlib.suppress(_AwsError):
                auth = self._check_auth(request, body)
            self._record(op_name, params, auth, 0, arrived, request_id, "ConnectionAborted", "set_down(True)")
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()  # aiohttp drops the (already aborted) connection quietly
        if latency > 0:
            await asyncio.sleep(latency)

        try:
            auth = self._check_auth(request, body)
            if op is None:
                raise _AwsError(
                    "UnknownOperationException", f"No operation matches {request.method} {raw_path}", 404
                )
            self._apply_faults(op, params)
            if parse_error is not None:
                raise parse_error
            errors = self._validator.validate(op.input_shape, params, unknown)
            if errors:
                count = len(errors)
                noun = "error" if count == 1 else "errors"
                raise _AwsError(
                    "ValidationException", f"{count} validation {noun} detected: " + "; ".join(errors)
                )
            handler = self._handlers.get(op.name)
            if handler is None:
                raise _AwsError("InternalServerException", f"operation {op.name} not implemented by the fake")
            ctx = _Ctx(auth.region, request_id, _truncate_ms(datetime.now(UTC)), self.caller_arn)
            with self._lock:
                result = handler(ctx, params)
            response = self._success(op, result, request_id)
        except _AwsError as exc:
            response = self._error(op, exc, request_id)
            self._record(op_name, params, auth, response.status, arrived, request_id, exc.code, exc.message)
            return response
        except Exception as exc:  # a bug in the fake: make it loud, and visible to botocore
            log.exception("FakeIncidentManager failed on %s", op_name)
            err = _AwsError("InternalServerException", f"fake bug in {op_name}: {exc!r}")
            response = self._error(op, err, request_id)
            self._record(op_name, params, auth, response.status, arrived, request_id, err.code, err.message)
            return response
        self._record(op_name, params, auth, response.status, arrived, request_id, None, None)
        return response

    def _match(
        self, method: str, raw_path: str, query: list[tuple[str, str]]
    ) -> tuple[Any, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            m = route.regex.match(raw_path)
            if m is None:
                continue
            if any((k, v) not in query for k, v in route.literal_query):
                continue
            return route.operation, {route.labels[g]: unquote(v) for g, v in m.groupdict().items()}
        return None

    def _record(
        self,
        operation: str,
        params: dict[str, Any],
        auth: _Auth,
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
        with self._lock:
            self._calls.append(call)

    def _apply_faults(self, op: Any, params: Mapping[str, Any]) -> None:
        with self._lock:
            queue = self._faults.failures.get(op.name)
            failure: _Failure | None = None
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
            raise self._injected_error(op, failure.code, failure.message, params)
        if throttled:
            raise self._injected_error(op, "ThrottlingException", None, params)

    def _injected_error(
        self, op: Any, code: str, message: str | None, params: Mapping[str, Any]
    ) -> _AwsError:
        resource = params.get("incidentRecordArn") or params.get("arn") or params.get("resourceArn") or "*"
        if code == "ThrottlingException":
            return _AwsError(
                code,
                message or "Rate exceeded",
                quotaCode=f"{op.name}-TPS",
                serviceCode=SERVICE_NAME,
            )
        if code == "AccessDeniedException":
            return _AwsError(
                code,
                message
                or f"User: {self.caller_arn} is not authorized to perform: {SERVICE_NAME}:{op.name} "
                f"on resource: {resource}",
            )
        if code == "ResourceNotFoundException":
            return _AwsError(
                code,
                message or f"Resource {resource} not found",
                resourceIdentifier=resource,
                resourceType="INCIDENT_RECORD",
            )
        if code == "ConflictException":
            return _AwsError(
                code,
                message or f"Conflicting update to {resource}",
                resourceIdentifier=resource,
                resourceType="INCIDENT_RECORD",
            )
        if code == "ValidationException":
            return _AwsError(code, message or "1 validation error detected: injected by the fake")
        if code == "InternalServerException":
            return _AwsError(code, message or "Internal server error")
        if code == "ServiceUnavailableException":
            return _AwsError(code, message or "Service Unavailable", 503)
        if code == "ExpiredTokenException":
            return _AwsError(code, message or "The security token included in the request is expired", 403)
        if code == "UnrecognizedClientException":
            return _AwsError(code, message or "The security token included in the request is invalid.", 403)
        if code == "InvalidSignatureException":
            return _AwsError(code, message or _SIGNATURE_MISMATCH, 403)
        return _AwsError(code, message or code, UNMODELED_ERRORS.get(code))

    # ---------------------------------------------------------------- SigV4

    def _check_auth(self, request: web.BaseRequest, body: bytes) -> _Auth:
        header = request.headers.get("Authorization")
        if header is None:
            raise _AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        algorithm, _, rest = header.strip().partition(" ")
        parts: dict[str, str] = {}
        for item in rest.split(","):
            key, sep, value = item.strip().partition("=")
            if sep:
                parts[key.strip()] = value.strip()
        amz_date = request.headers.get("X-Amz-Date")
        date_header = request.headers.get("Date")
        problems = [
            f"Authorization header requires '{name}' parameter."
            for name in ("Credential", "Signature", "SignedHeaders")
            if name not in parts
        ]
        if amz_date is None and date_header is None:
            problems.append(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            )
        if algorithm != "AWS4-HMAC-SHA256" or problems:
            if algorithm != "AWS4-HMAC-SHA256":
                problems.insert(0, f"Unsupported Authorization Type: '{algorithm}'.")
            raise _AwsError(
                "IncompleteSignatureException", " ".join(problems) + f" Authorization={header}", 403
            )

        credential = parts["Credential"]
        scope = credential.split("/")
        if len(scope) != 5:
            raise _AwsError(
                "IncompleteSignatureException",
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
                f" got '{credential}'",
                403,
            )
        access_key, scope_date, region, service, terminator = scope
        auth = _Auth(access_key=access_key, region=region)
        if service != SERVICE_NAME:
            raise _AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE_NAME}'. ",
                403,
            )
        if terminator != "aws4_request":
            raise _AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. ",
                403,
            )
        if self.region is not None and region != self.region:
            raise _AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'. ",
                403,
            )
        signed_headers = parts["SignedHeaders"].split(";")
        if "host" not in signed_headers:
            raise _AwsError(
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                403,
            )
        try:
            if amz_date is not None:
                request_time = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                timestamp = amz_date
            else:
                request_time = email.utils.parsedate_to_datetime(cast(str, date_header)).astimezone(UTC)
                timestamp = request_time.strftime("%Y%m%dT%H%M%SZ")
        except (ValueError, TypeError):
            raise _AwsError(
                "IncompleteSignatureException",
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.",
                403,
            ) from None
        if scope_date != timestamp[:8]:
            raise _AwsError(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope_date}' != '{timestamp[:8]}', from '{timestamp}'.",
                403,
            )
        now = datetime.now(UTC)
        fmt = "%Y%m%dT%H%M%SZ"
        if request_time < now - MAX_CLOCK_SKEW:
            raise _AwsError(
                "InvalidSignatureException",
                f"Signature expired: {timestamp} is now earlier than {(now - MAX_CLOCK_SKEW).strftime(fmt)} "
                f"({now.strftime(fmt)} - 5 min.)",
                403,
            )
        if request_time > now + MAX_CLOCK_SKEW:
            raise _AwsError(
                "InvalidSignatureException",
                f"Signature not yet current: {timestamp} is still later than "
                f"{(now + MAX_CLOCK_SKEW).strftime(fmt)} ({now.strftime(fmt)} + 5 min.)",
                403,
            )
        if self.credentials is None:
            return auth
        secret = self.credentials.get(access_key)
        if secret is None:
            log.warning(
                "FakeIncidentManager: unknown access key %r (known: %s); pass credentials= to the fake",
                access_key,
                sorted(self.credentials),
            )
            raise _AwsError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        expected = self._signature(request, body, signed_headers, timestamp, scope_date, region, secret)
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise _AwsError("InvalidSignatureException", _SIGNATURE_MISMATCH, 403)
        return auth

    @staticmethod
    def _signature(
        request: web.BaseRequest,
        body: bytes,
        signed_headers: list[str],
        timestamp: str,
        scope_date: str,
        region: str,
        secret: str,
    ) -> str:
        raw_path, _, raw_query = request.raw_path.partition("?")
        normalized = posixpath.normpath(raw_path) if raw_path not in ("", "/") else "/"
        if raw_path.endswith("/") and not normalized.endswith("/"):
            normalized += "/"
        canonical_uri = quote(normalized, safe="/~")
        pairs = sorted(tuple(p.partition("=")[::2]) for p in raw_query.split("&")) if raw_query else []
        canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
        canonical_headers = "".join(
            f"{name}:{','.join(' '.join(v.split()) for v in request.headers.getall(name, []))}\n"
            for name in signed_headers
        )
        payload_hash = request.headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
        canonical_request = "\n".join(
            [
                request.method,
                canonical_uri,
                canonical_query,
                canonical_headers,
                ";".join(signed_headers),
                payload_hash,
            ]
        )
        scope = f"{scope_date}/{region}/{SERVICE_NAME}/aws4_request"
        string_to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key = f"AWS4{secret}".encode()
        for part in (scope_date, region, SERVICE_NAME, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    # ---------------------------------------------------------------- responses

    def _success(self, op: Any, result: Mapping[str, Any], request_id: str) -> web.Response:
        status: int = op.http.get("responseCode", 200)
        body, headers = self._serializer.body(op.output_shape, result)
        headers["x-amzn-RequestId"] = request_id
        if status == 204:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, headers=headers, body=json.dumps(body), content_type="application/json"
        )

    def _error(self, op: Any, error: _AwsError, request_id: str) -> web.Response:
        status = error.status
        shape = self._error_shape(error.code)
        if status is None:
            status = shape.metadata["error"]["httpStatusCode"] if shape is not None else 400
        body: dict[str, Any] = {"message": error.message}
        if shape is not None:
            for name, value in error.members.items():
                if name in shape.members and value is not None:
                    body[name] = self._serializer._json(shape.members[name], value, f"{shape.name}.{name}")
            missing = [name for name in shape.required_members if name not in body]
            if missing:
                raise _FakeBugError(f"{error.code} answer misses required members {missing}")
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
        return web.Response(
            status=status, headers=headers, body=json.dumps(body), content_type="application/json"
        )

    def _error_shape(self, code: str) -> Any:
        if code in self.model.shape_names:
            shape = self.model.shape_for(code)
            if shape.metadata.get("exception"):
                return shape
        return None

    # ---------------------------------------------------------------- operations

    def _require_incident(self, arn: str) -> _Incident:
        incident = self._incidents.get(arn)
        if incident is None:
            raise _AwsError(
                "ResourceNotFoundException",
                f"Incident record {arn} not found",
                resourceIdentifier=arn,
                resourceType="INCIDENT_RECORD",
            )
        return incident

    def _idempotent(
        self, operation: str, params: Mapping[str, Any], arn: str, run: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        token = params.get("clientToken")
        if token is None:
            return run()
        fingerprint = json.dumps(
            {k: v for k, v in params.items() if k != "clientToken"}, sort_keys=True, default=str
        )
        previous = self._tokens.get((operation, token))
        if previous is not None:
            if previous[0] != fingerprint:
                raise _AwsError(
                    "ConflictException",
                    f"The clientToken {token} was already used with different parameters",
                    resourceIdentifier=arn,
                    resourceType="INCIDENT_RECORD",
                )
            return copy.deepcopy(previous[1])
        result = run()
        self._tokens[(operation, token)] = (fingerprint, copy.deepcopy(result))
        return result

    def _check_event_type(self, event_type: str) -> None:
        if event_type not in self.creatable_event_types:
            allowed = ", ".join(sorted(self.creatable_event_types))
            raise _AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{event_type}' at 'eventType' failed to satisfy "
                f"constraint: Timeline events can only be created with eventType in [{allowed}]",
            )

    def _store_event(
        self,
        arn: str,
        event_time: datetime,
        event_type: str,
        event_data: str,
        references: list[dict[str, Any]],
        client_token: str | None,
        now: datetime,
    ) -> _Event:
        self._seq += 1
        event = _Event(
            event_id=str(uuid.uuid4()),
            incident_arn=arn,
            event_time=event_time,
            event_updated_time=now,
            event_type=event_type,
            event_data=event_data,
            event_references=copy.deepcopy(references),
            client_token=client_token,
            seq=self._seq,
        )
        self._events[event.event_id] = event
        return event

    def _create_timeline_event(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["incidentRecordArn"]
        self._require_incident(arn)
        self._check_event_type(params["eventType"])

        def run() -> dict[str, Any]:
            event = self._store_event(
                arn,
                _truncate_ms(params["eventTime"]),
                params["eventType"],
                params["eventData"],
                params.get("eventReferences") or [],
                params.get("clientToken"),
                ctx.now,
            )
            return {"eventId": event.event_id, "incidentRecordArn": arn}

        return self._idempotent("CreateTimelineEvent", params, arn, run)

    def _find_event(self, arn: str, event_id: str) -> _Event:
        self._require_incident(arn)
        event = self._events.get(event_id)
        if event is None or event.incident_arn != arn:
            raise _AwsError(
                "ResourceNotFoundException",
                f"Timeline event {event_id} not found",
                resourceIdentifier=event_id,
                resourceType="TIMELINE_EVENT",
            )
        return event

    def _get_timeline_event(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        return {"event": self._find_event(params["incidentRecordArn"], params["eventId"]).full()}

    def _update_timeline_event(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["incidentRecordArn"]
        event = self._find_event(arn, params["eventId"])
        if "eventType" in params:
            self._check_event_type(params["eventType"])

        def run() -> dict[str, Any]:
            if "eventData" in params:
                event.event_data = params["eventData"]
            if "eventTime" in params:
                event.event_time = _truncate_ms(params["eventTime"])
            if "eventType" in params:
                event.event_type = params["eventType"]
            if "eventReferences" in params:
                event.event_references = copy.deepcopy(params["eventReferences"])
            event.event_updated_time = ctx.now
            return {}

        return self._idempotent("UpdateTimelineEvent", params, arn, run)

    def _delete_timeline_event(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        event = self._events.get(params["eventId"])
        if event is not None and event.incident_arn == params["incidentRecordArn"]:
            del self._events[event.event_id]
        return {}

    @staticmethod
    def _page_token(cursor: list[Any], query: str) -> str:
        raw = json.dumps({"c": cursor, "q": hashlib.sha256(query.encode()).hexdigest()[:16]})
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @staticmethod
    def _read_page_token(token: str, query: str) -> list[Any]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            if data["q"] != hashlib.sha256(query.encode()).hexdigest()[:16]:
                raise ValueError("token belongs to another query")
            return list(data["c"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _AwsError("ValidationException", "The nextToken provided is invalid") from None

    def _paginate(
        self,
        items: list[Any],
        key: Callable[[Any], list[Any]],
        descending: bool,
        params: Mapping[str, Any],
    ) -> tuple[list[Any], str | None]:
        query = json.dumps(
            {k: v for k, v in params.items() if k not in ("nextToken", "maxResults")},
            sort_keys=True,
            default=str,
        )
        items = sorted(items, key=key, reverse=descending)
        if params.get("nextToken") is not None:
            cursor = self._read_page_token(params["nextToken"], query)
            items = [i for i in items if (key(i) < cursor if descending else key(i) > cursor)]
        size: int = params.get("maxResults") or self.default_page_size
        page, rest = items[:size], items[size:]
        return page, (self._page_token(key(page[-1]), query) if rest else None)

    @staticmethod
    def _filter_error(message: str) -> _AwsError:
        return _AwsError("ValidationException", message)

    def _list_timeline_events(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["incidentRecordArn"]
        events = [e for e in self._events.values() if e.incident_arn == arn]
        for flt in params.get("filters") or []:
            key, condition = flt["key"], flt["condition"]
            if key == "eventTime":
                if "before" in condition:
                    events = [e for e in events if e.event_time < condition["before"]]
                elif "after" in condition:
                    events = [e for e in events if e.event_time > condition["after"]]
                else:
                    raise self._filter_error("Filter eventTime supports only the before and after conditions")
            elif key in ("eventType", "eventReference"):
                values = condition.get("equals", {}).get("stringValues")
                if values is None:
                    raise self._filter_error(f"Filter {key} supports only equals with stringValues")
                if key == "eventType":
                    events = [e for e in events if e.event_type in values]
                else:
                    events = [
                        e
                        for e in events
                        if any(v in values for ref in e.event_references for v in ref.values())
                    ]
            else:
                raise self._filter_error(f"Unsupported filter key: {key}")
        descending = params.get("sortOrder", "DESCENDING") == "DESCENDING"
        page, token = self._paginate(events, lambda e: [_epoch(e.event_time), e.seq], descending, params)
        return {"eventSummaries": [e.summary() for e in page], "nextToken": token}

    def _get_incident_record(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        return {"incidentRecord": copy.deepcopy(self._require_incident(params["arn"]).record())}

    def _list_incident_records(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        incidents = list(self._incidents.values())
        for flt in params.get("filters") or []:
            key, condition = flt["key"], flt["condition"]
            equals = condition.get("equals", {})
            if key == "creationTime":
                if "before" in condition:
                    incidents = [i for i in incidents if i.creation_time < condition["before"]]
                elif "after" in condition:
                    incidents = [i for i in incidents if i.creation_time > condition["after"]]
                else:
                    raise self._filter_error(
                        "Filter creationTime supports only the before and after conditions"
                    )
            elif key == "impact" and "integerValues" in equals:
                incidents = [i for i in incidents if i.impact in equals["integerValues"]]
            elif key in ("status", "createdBy") and "stringValues" in equals:
                values = equals["stringValues"]
                incidents = [
                    i for i in incidents if (i.status if key == "status" else i.source["createdBy"]) in values
                ]
            else:
                raise self._filter_error(f"Unsupported filter: {key} with {sorted(condition)}")
        page, token = self._paginate(incidents, lambda i: [_epoch(i.creation_time), i.arn], True, params)
        return {
            "incidentRecordSummaries": [copy.deepcopy(i.summary_record()) for i in page],
            "nextToken": token,
        }

    def _update_incident_record(self, ctx: _Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["arn"]
        incident = self._require_incident(arn)

        def run() -> dict[str, Any]:
            if "title" in params:
                incident.title = params["title"]
            if "impact" in params:
                incident.impact = params["impact"]
            if "summary" in params:
                incident.summary = params["summary"]
            if "chatChannel" in params:
                incident.chat_channel = copy.deepcopy(params["chatChannel"])
            if "notificationTargets" in params:
                incident.notification_targets = copy.deepcopy(params["notificationTargets"])
            if "status" in params and params["status"] != incident.status:
                incident.status = params["status"]
                incident.resolved_time = ctx.now if incident.status == "RESOLVED" else None
            incident.last_modified_time = ctx.now
            incident.last_modified_by = ctx.caller_arn
            return {}

        return self._idempotent("UpdateIncidentRecord", params, arn, run)


def iter_model_patterns() -> Iterator[str]:
    """Every ``pattern`` in the ssm-incidents model (for tests that they all compile)."""
    model = service_model()
    for name in model.shape_names:
        pattern = model.shape_for(name).metadata.get("pattern")
        if pattern:
            yield pattern


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.incident_manager",
        description="Run the fake AWS Incident Manager in the foreground (Ctrl-C to stop).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument("--seed", action="append", default=[], metavar="TITLE", help="seed an OPEN incident")
    parser.add_argument("--region", default=None, help="only accept requests signed for this region")
    parser.add_argument(
        "--credentials",
        action="append",
        default=[],
        metavar="AKID:SECRET",
        help="verify SigV4 signatures and accept only these keys (default: any key, signature unchecked)",
    )
    args = parser.parse_args(argv)
    credentials = dict(pair.split(":", 1) for pair in args.credentials) if args.credentials else None
    fake = FakeIncidentManager(host=args.host, port=args.port, region=args.region, credentials=credentials)
    fake.start()
    try:
        print(f"fake ssm-incidents listening on {fake.endpoint_url}", file=sys.stderr, flush=True)
        for title in args.seed:
            print(fake.add_incident(title), flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(1):
                pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
