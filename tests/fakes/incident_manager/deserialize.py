"""Request parsing: a rest-json request turned into input parameters, as an AWS service does it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .errors import AwsError
from .model import INT_RANGES, json_type, timestamp_from_string, to_datetime


class Deserializer:
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
        """Return (params, unknown member paths). Raises AwsError(SerializationException)."""
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
            raise AwsError("SerializationException", "Request body must be a JSON object")
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
            raise AwsError("SerializationException", f"Could not parse request body as JSON: {exc}") from exc

    def _wrong_type(self, shape: Any, value: Any, path: str) -> AwsError:
        return AwsError(
            "SerializationException",
            f"Unexpected {json_type(value)} at '{path}': expected {shape.type_name} ({shape.name})",
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
        if kind in INT_RANGES:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._wrong_type(shape, value, path)
            low, high = INT_RANGES[kind]
            if not low <= value <= high:
                raise AwsError("SerializationException", f"Numeric value ({value}) out of range of {kind}")
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
                return to_datetime(float(value))
            if not isinstance(value, str):
                raise self._wrong_type(shape, value, path)
            return self._timestamp(value, fmt, path)
        if kind == "blob":
            if not isinstance(value, str):
                raise self._wrong_type(shape, value, path)
            try:
                return base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise AwsError("SerializationException", f"Invalid base64 at '{path}'") from exc
        return value

    @staticmethod
    def _timestamp(text: str, fmt: str, path: str) -> datetime:
        try:
            return timestamp_from_string(text, fmt)
        except (ValueError, TypeError) as exc:
            raise AwsError("SerializationException", f"Invalid timestamp '{text}' at '{path}'") from exc

    def _from_string(self, shape: Any, text: str, path: str) -> Any:
        kind = shape.type_name
        try:
            if kind in INT_RANGES:
                return int(text)
            if kind in ("float", "double"):
                return float(text)
        except ValueError as exc:
            raise AwsError("SerializationException", f"Invalid {kind} '{text}' at '{path}'") from exc
        if kind == "boolean":
            if text not in ("true", "false"):
                raise AwsError("SerializationException", f"Invalid boolean '{text}' at '{path}'")
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
                raise AwsError("SerializationException", f"Invalid JSON header at '{path}'") from exc
        if shape.type_name == "timestamp":
            return self._timestamp(text, shape.serialization.get("timestampFormat", "rfc822"), path)
        return self._from_string(shape, text, path)
