"""The HTTP surface: Web API calls (request parsing, token checks, faults, dispatch to a method) and
``response_url`` POSTs, each answered as Slack does and recorded."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from .common import ApiError, JSONDict, Settings, message_blocks_valid, truthy
from .faults import RAW_TEXT, FaultPlan
from .methods import Method
from .recorder import Recorder
from .records import RecordedCall, RecordedResponse
from .server import LoopServer
from .workspace import Workspace


class HttpApi:
    """The aiohttp handlers for ``/api/{method}`` and ``/response/{key}``."""

    def __init__(
        self,
        cond: threading.Condition,
        settings: Settings,
        workspace: Workspace,
        faults: FaultPlan,
        recorder: Recorder,
        server: LoopServer,
        methods: dict[str, Method],
    ) -> None:
        self._cond = cond
        self._settings = settings
        self._ws = workspace
        self._faults = faults
        self._recorder = recorder
        self._server = server
        self._methods = methods

    async def handle_api(self, request: web.Request) -> web.Response:
        arrived = time.time()
        method = request.match_info["method"]
        params: JSONDict = dict(request.query)
        body_token: str | None = params.get("token")
        parse_error: str | None = None
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "multipart/form-data":
                form_data = await request.post()
                multipart = {k: v for k, v in form_data.items() if isinstance(v, str)}
                params.update(multipart)
                body_token = multipart.get("token", body_token)
            else:
                raw = await request.read()
                if ctype == "application/json":
                    try:
                        data = json.loads(raw or b"{}")
                        if not isinstance(data, dict):
                            raise ValueError("not an object")
                        params.update(data)
                        params.pop("token", None)  # Slack ignores a token inside a JSON body
                    except ValueError:
                        parse_error = "invalid_json"
                elif ctype in ("application/x-www-form-urlencoded", "text/plain", "application/octet-stream"):
                    form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
                    params.update(form)
                    body_token = form.get("token", body_token)
                else:
                    parse_error = "invalid_post_type"
        auth = request.headers.get("Authorization", "")
        header_token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        token = header_token or body_token

        delay = self._faults.latency_for(method)
        if delay > 0:
            await asyncio.sleep(delay)

        with self._cond:
            status, payload, headers = self._dispatch(
                method, params, token, parse_error, header_token=header_token, http_method=request.method
            )
            self._recorder.calls.append(
                RecordedCall(
                    method=method,
                    params=copy.deepcopy(params),
                    headers=dict(request.headers),
                    time=arrived,
                    http_method=request.method,
                    status=status,
                    response=copy.deepcopy(payload),
                )
            )
            self._cond.notify_all()
        if RAW_TEXT in payload:
            return web.Response(status=status, text=str(payload[RAW_TEXT]), content_type="text/plain")
        return web.json_response(payload, status=status, headers=headers)

    def _dispatch(
        self,
        method: str,
        params: JSONDict,
        token: str | None,
        parse_error: str | None,
        *,
        header_token: str | None = None,
        http_method: str = "POST",
    ) -> tuple[int, JSONDict, dict[str, str]]:
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if parse_error:
            return 200, {"ok": False, "error": parse_error}, {}
        if method == "apps.connections.open":
            refusal = self._app_token_refusal(header_token, http_method)
            if refusal:
                return 200, {"ok": False, "error": refusal}, {}
        elif method != "api.test":
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, {}
            if token != self._settings.bot_token:
                wrong_type = token == self._settings.app_token
                return (
                    200,
                    {"ok": False, "error": "not_allowed_token_type" if wrong_type else "invalid_auth"},
                    {},
                )
        injected = self._faults.take(method)
        if injected is not None:
            return injected
        try:
            result = handler(params)
        except ApiError as err:
            return 200, {"ok": False, "error": err.error, **err.extra}, {}
        return 200, {"ok": True, **result}, {}

    def _app_token_refusal(self, header_token: str | None, http_method: str) -> str | None:
        """Why ``apps.connections.open`` refuses this token, or None."""
        if http_method != "POST":
            return "insecure_request"
        if not header_token:  # missing, or only given as a POST parameter
            return "not_authed"
        if header_token == self._settings.app_token:
            return None
        if header_token == self._settings.bot_token:
            return "not_allowed_token_type"
        return "invalid_auth"

    async def handle_response_url(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        url = f"{self._server.base_url}/response/{key}"
        raw = await request.text()
        payload: Any = None
        valid = True
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                payload = json.loads(dict(parse_qsl(raw)).get("payload", ""))
            else:
                payload = json.loads(raw)
            if not isinstance(payload, dict):
                valid = False
        except ValueError:
            payload, valid = raw, False

        delay = self._faults.latency_for("response_url")
        if delay > 0:
            await asyncio.sleep(delay)

        injected = self._faults.take("response_url")
        with self._cond:
            entry = self._ws.response_urls.get(key)
            if injected is not None:
                status, answer_body, headers = injected
                answer = str(answer_body.get(RAW_TEXT) or answer_body.get("error") or "")
                self._recorder.response_log.append(
                    RecordedResponse(url=url, payload=payload, status=status, answer=answer, time=time.time())
                )
                self._cond.notify_all()
                return web.Response(status=status, text=answer, content_type="text/plain", headers=headers)
            if entry is None:
                status, answer = 404, "no_service"
            elif time.monotonic() - entry.created_at > self._settings.response_url_ttl:
                status, answer = 404, "expired_url"
            elif entry.uses >= self._settings.response_url_max_uses:
                status, answer = 404, "used_url"
            elif not valid:
                status, answer = 400, "invalid_payload"
            elif not message_blocks_valid(payload.get("blocks")):
                status, answer = 400, "invalid_blocks"
            elif not (
                payload.get("text") or payload.get("blocks") or payload.get("attachments")
            ) and not truthy(payload.get("delete_original")):
                status, answer = 400, "no_text"
            else:
                entry.uses += 1
                status, answer = 200, "ok"
            self._recorder.response_log.append(
                RecordedResponse(url=url, payload=payload, status=status, answer=answer, time=time.time())
            )
            self._cond.notify_all()
        return web.Response(status=status, text=answer, content_type="text/html")
