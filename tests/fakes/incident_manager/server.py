"""The fake's server: aiohttp on 127.0.0.1, in its own thread with its own event loop.

So sync boto3 code, async code running on another loop and benchmarks can all use it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class BackgroundServer:
    """Serves ``handler`` on ``host:port`` (0 picks a free port) from a daemon thread."""

    def __init__(self, handler: Handler, host: str, port: int, label: str) -> None:
        self._handler = handler
        self.host = host
        self._requested_port = port
        self._label = label  # names the fake in errors
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.ServerRunner | None = None
        self._port: int | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._label} already started")
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
            raise RuntimeError(f"{self._label} failed to start") from (errors[0] if errors else None)

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
            web.Server(self._handler, access_log=None), handle_signals=False, shutdown_timeout=0.5
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

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self._label} not started")
        return self._port
