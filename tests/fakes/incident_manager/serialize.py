"""Answers: output dicts and errors serialized the way a rest-json service sends them.

The fake checks its own output against the model too (a miss is a FakeBugError, i.e. a bug here).
"""

from __future__ import annotations

import base64
import email.utils
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .errors import AwsError, FakeBugError
from .model import epoch


class Serializer:
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
                raise FakeBugError(f"{shape.name} has no member {name}")
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
                body[wire] = self.json_value(member, item, name)
        return body, headers

    @staticmethod
    def _check_required(shape: Any, value: Mapping[str, Any], path: str) -> None:
        missing = [name for name in shape.required_members if value.get(name) is None]
        if missing:
            raise FakeBugError(f"fake output {path} misses required members {missing}")

    def json_value(self, shape: Any, value: Any, path: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            self._check_required(shape, value, path)
            out: dict[str, Any] = {}
            for name, item in value.items():
                if item is None:
                    continue
                if name not in shape.members:
                    raise FakeBugError(f"{path} has no member {name}")
                out[name] = self.json_value(shape.members[name], item, f"{path}.{name}")
            return out
        if kind == "list":
            return [self.json_value(shape.member, item, path) for item in value]
        if kind == "map":
            return {k: self.json_value(shape.value, v, path) for k, v in value.items()}
        if kind == "timestamp":
            if not isinstance(value, datetime):
                raise FakeBugError(f"{path} must be a datetime")
            return epoch(value)
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


class Responder:
    """Builds the HTTP answers (success and error) for one service model."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._serializer = Serializer()

    def success(self, op: Any, result: Mapping[str, Any], request_id: str) -> web.Response:
        status: int = op.http.get("responseCode", 200)
        body, headers = self._serializer.body(op.output_shape, result)
        headers["x-amzn-RequestId"] = request_id
        if status == 204:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, headers=headers, body=json.dumps(body), content_type="application/json"
        )

    def error(self, op: Any, error: AwsError, request_id: str) -> web.Response:
        status = error.status
        shape = self._error_shape(error.code)
        if status is None:
            status = shape.metadata["error"]["httpStatusCode"] if shape is not None else 400
        body: dict[str, Any] = {"message": error.message}
        if shape is not None:
            for name, value in error.members.items():
                if name in shape.members and value is not None:
                    body[name] = self._serializer.json_value(
                        shape.members[name], value, f"{shape.name}.{name}"
                    )
            missing = [name for name in shape.required_members if name not in body]
            if missing:
                raise FakeBugError(f"{error.code} answer misses required members {missing}")
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
