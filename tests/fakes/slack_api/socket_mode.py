"""Socket Mode: the WebSocket endpoint ``apps.connections.open`` hands out, the envelopes the tests
send over it, and the acks the app sends back (see the package docstring for what is modelled).

The connections live on the fake's loop; the test-facing methods can be called from any thread (the
``wait_*`` ones block, the ``await_*`` ones poll without blocking the caller's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .common import JSONDict, short
from .constants import (
    APP_ID,
    SOCKET_APPROXIMATE_CONNECTION_TIME,
    SOCKET_CLOSE_TIMEOUT,
    SOCKET_DISCONNECT_REASONS,
    SOCKET_ENVELOPE_TYPES,
    SOCKET_MODE_PATH,
    SOCKET_SEND_TIMEOUT,
)
from .recorder import Recorder
from .records import RecordedEnvelope
from .server import LoopServer


@dataclass
class SocketConnection:
    id: str
    ws: web.WebSocketResponse
    opened_at: float
    hello_sent: asyncio.Event  # nothing may overtake the hello
    pings: int = 0

    async def send(self, data: str) -> None:
        await self.hello_sent.wait()
        await self.ws.send_str(data)


class SocketMode:
    """Tickets, open connections, envelopes and what the app sent; shares the fake's lock.

    The test-facing methods are documented on ``FakeSlack``, which delegates to them."""

    def __init__(
        self, lock: threading.RLock, cond: threading.Condition, recorder: Recorder, server: LoopServer
    ) -> None:
        self._lock = lock
        self._cond = cond
        self._recorder = recorder
        self._server = server
        self._tickets: set[str] = set()
        self._sockets: dict[str, SocketConnection] = {}
        self._sockets_opened = 0
        self._envelopes: dict[str, RecordedEnvelope] = {}
        self._received: list[Any] = []
        self._background: set[asyncio.Task[Any]] = set()

    def clear(self) -> None:
        """Forget tickets, envelopes and received messages (after ``close_all``)."""
        with self._lock:
            self._tickets.clear()
            self._sockets_opened = len(self._sockets)  # 0 unless an app reconnected meanwhile
            self._envelopes.clear()
            self._received.clear()

    def open_ticket(self) -> str:
        """A new one-connection ticket, as the URL ``apps.connections.open`` answers."""
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self._server.port}{SOCKET_MODE_PATH}{ticket}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False, timeout=SOCKET_CLOSE_TIMEOUT)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="expected a WebSocket upgrade")
        ticket = request.match_info["ticket"]
        with self._cond:
            known = ticket in self._tickets
            self._tickets.discard(ticket)  # a ticket opens one connection
        if not known:
            return web.Response(status=401, text="invalid_ticket")
        await ws.prepare(request)
        conn = SocketConnection(
            id=f"sock-{uuid.uuid4().hex[:12]}", ws=ws, opened_at=time.monotonic(), hello_sent=asyncio.Event()
        )
        hello = {
            "type": "hello",
            "num_connections": 1,  # set below, once this connection counts
            "debug_info": {
                "host": self._host(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "build_number": 1,
                "approximate_connection_time": SOCKET_APPROXIMATE_CONNECTION_TIME,
            },
            "connection_info": {"app_id": APP_ID},
        }
        with self._cond:
            self._sockets[conn.id] = conn
            self._sockets_opened += 1
            hello["num_connections"] = len(self._sockets)
            self._cond.notify_all()
        try:
            await ws.send_str(json.dumps(hello))
            conn.hello_sent.set()
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    with self._lock:
                        conn.pings += 1
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    self._record_message(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._record_message(bytes(msg.data).decode("utf-8", "replace"))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            conn.hello_sent.set()  # let pending sends fail on the closed socket instead of waiting
            with self._cond:
                self._sockets.pop(conn.id, None)
                self._cond.notify_all()
        return ws

    def _record_message(self, raw: str) -> None:
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = raw
        with self._cond:
            self._received.append(data)
            if isinstance(data, dict):
                env = self._envelopes.get(str(data.get("envelope_id")))
                if env is not None:
                    if env.ack is None:
                        env.ack, env.acked_at = copy.deepcopy(data), time.time()
                    else:
                        env.extra_acks.append(copy.deepcopy(data))
            self._cond.notify_all()

    def connections(self) -> int:
        with self._lock:
            return len(self._sockets)

    def connections_opened(self) -> int:
        with self._lock:
            return self._sockets_opened

    def pings(self) -> int:
        with self._lock:
            return sum(conn.pings for conn in self._sockets.values())

    def messages(self) -> list[Any]:
        with self._lock:
            return copy.deepcopy(self._received)

    def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> int:
        with self._cond:
            self._cond.wait_for(lambda: len(self._sockets) >= count, timeout)
            if len(self._sockets) >= count:
                return len(self._sockets)
            raise AssertionError(self._socket_failure(count, timeout))

    async def await_connection(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        count: int = 1,
    ) -> int:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self._sockets) >= count:
                    return len(self._sockets)
                if time.monotonic() >= deadline:
                    raise AssertionError(self._socket_failure(count, timeout))
            await asyncio.sleep(0.01)

    def send_envelope(
        self,
        type: str,
        payload: JSONDict,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        if type not in SOCKET_ENVELOPE_TYPES:
            raise ValueError(f"Socket Mode envelope type must be one of {sorted(SOCKET_ENVELOPE_TYPES)}")
        if accepts_response_payload is None:
            accepts_response_payload = type != "events_api"
        envelope_id = str(uuid.uuid4())
        message: JSONDict = {
            "envelope_id": envelope_id,
            "payload": copy.deepcopy(payload),
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api" or retry_attempt or retry_reason:
            message["retry_attempt"] = retry_attempt
            message["retry_reason"] = retry_reason
        with self._cond:
            conn = self._newest_locked()
            if conn is None:
                raise AssertionError(
                    f"no Socket Mode connection is open to send a {type} envelope to.\n"
                    + self._socket_failure(1, 0.0)
                )
            self._envelopes[envelope_id] = RecordedEnvelope(
                envelope_id=envelope_id,
                type=type,
                message=copy.deepcopy(message),
                connection_id=conn.id,
                sent_at=time.time(),
            )
        self._run_on_loop(conn.send(json.dumps(message)), f"sending envelope {envelope_id}")
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested") -> int:
        if reason not in SOCKET_DISCONNECT_REASONS:
            raise ValueError(f"disconnect reason must be one of {sorted(SOCKET_DISCONNECT_REASONS)}")
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": self._host()}})
        with self._lock:
            conns = list(self._sockets.values())

        async def send_all() -> None:
            await asyncio.gather(*(conn.send(message) for conn in conns))

        if conns:
            self._run_on_loop(send_all(), f"sending disconnect ({reason})")
        return len(conns)

    def envelopes(self) -> list[RecordedEnvelope]:
        with self._lock:
            return [copy.deepcopy(env) for env in self._envelopes.values()]

    def envelope(self, envelope_id: str) -> RecordedEnvelope:
        with self._lock:
            if envelope_id not in self._envelopes:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
            return copy.deepcopy(self._envelopes[envelope_id])

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSONDict:
        with self._cond:
            if envelope_id not in self._envelopes:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
            self._cond.wait_for(lambda: self._envelopes[envelope_id].ack is not None, timeout)
            ack = self._envelopes[envelope_id].ack
            if ack is not None:
                return copy.deepcopy(ack)
            raise AssertionError(self._ack_failure(envelope_id, timeout))

    async def await_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> JSONDict:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if envelope_id not in self._envelopes:
                    raise KeyError(f"no envelope {envelope_id!r} was sent")
                ack = self._envelopes[envelope_id].ack
                if ack is not None:
                    return copy.deepcopy(ack)
                if time.monotonic() >= deadline:
                    raise AssertionError(self._ack_failure(envelope_id, timeout))
            await asyncio.sleep(0.01)

    def _newest_locked(self) -> SocketConnection | None:
        open_conns = [conn for conn in self._sockets.values() if not conn.ws.closed]
        return max(open_conns, key=lambda conn: conn.opened_at, default=None)

    def _host(self) -> str:
        return f"applink-fake-{self._server.bound_port}"

    def _run_on_loop(self, coro: Any, what: str) -> None:
        """Run ``coro`` on the fake's loop: wait (bounded) from another thread; just schedule it
        when called on the fake's own thread (waiting there would deadlock)."""
        loop = self._server.loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeSlack is not started")
        if threading.current_thread() is self._server.thread:
            task = loop.create_task(coro)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            future.result(timeout=SOCKET_SEND_TIMEOUT)
        except Exception as exc:
            future.cancel()
            raise AssertionError(f"FakeSlack failed {what}: {exc!r}") from exc

    def close_all(self) -> None:
        with self._lock:
            conns = list(self._sockets.values())
        loop = self._server.loop
        if not conns or loop is None:
            return

        async def close_all() -> None:
            await asyncio.gather(
                *(conn.ws.close(code=WSCloseCode.OK, message=b"closed by FakeSlack") for conn in conns),
                return_exceptions=True,
            )

        if threading.current_thread() is self._server.thread:
            self._run_on_loop(close_all(), "closing Socket Mode connections")
            return
        future = asyncio.run_coroutine_threadsafe(close_all(), loop)
        with contextlib.suppress(Exception):  # bounded: each close waits SOCKET_CLOSE_TIMEOUT at most
            future.result(timeout=SOCKET_CLOSE_TIMEOUT + 3)
        # The handlers drop their connection right after the close; wait for that, bounded.
        closed_ids = {conn.id for conn in conns}
        with self._cond:
            self._cond.wait_for(lambda: not closed_ids & self._sockets.keys(), SOCKET_CLOSE_TIMEOUT)

    def _socket_failure(self, count: int, timeout: float) -> str:
        lines = [
            f"expected {count} open Socket Mode connection(s) within {timeout}s, "
            f"{len(self._sockets)} open ({self._sockets_opened} opened in all)."
        ]
        opens = self._recorder.calls_to_locked("apps.connections.open")
        lines.append(f"{len(opens)} call(s) to apps.connections.open:")
        for c in opens:
            lines.append(
                f"  {c.http_method} auth={short(c.headers.get('Authorization', ''))} -> {short(c.response)}"
            )
        if not opens:
            lines.append("  (none: is SLACK_API_URL pointing at this fake, and the app in Socket Mode?)")
        return "\n".join(lines)

    def _ack_failure(self, envelope_id: str, timeout: float) -> str:
        env = self._envelopes[envelope_id]
        lines = [
            f"expected an ack of {env.type} envelope {envelope_id} within {timeout}s; none came.",
            f"Sent on connection {env.connection_id} "
            f"({'still open' if env.connection_id in self._sockets else 'since closed'}); "
            f"{len(self._sockets)} connection(s) open.",
            f"All {len(self._received)} message(s) the app sent over Socket Mode:",
        ]
        lines.extend(f"  {short(m)}" for m in self._received)
        if not self._received:
            lines.append("  (none)")
        return "\n".join(lines)
