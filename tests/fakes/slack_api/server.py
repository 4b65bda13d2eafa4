"""The fake's server: an aiohttp app on 127.0.0.1 (a free port), in its own thread and event loop.

So it can serve an app that runs on the test's loop, plain synchronous tests and benchmarks alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable

from aiohttp import web

AddRoutes = Callable[[web.Application], None]


class LoopServer:
    """Runs the app ``add_routes`` builds; ``loop``/``thread`` are None unless started."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.bound_port: int | None = None  # kept after stop, as the port the fake had

    @property
    def running(self) -> bool:
        return self.thread is not None and self.loop is not None

    def start(self, add_routes: AddRoutes) -> None:
        if self.thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(add_routes))
            except BaseException as exc:  # pragma: no cover - surfaced to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self.thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeSlack did not start within 10 s")
        if failure:
            self.thread = None
            raise RuntimeError("FakeSlack failed to start") from failure[0]

    async def _serve(self, add_routes: AddRoutes) -> None:
        app = web.Application()
        add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.bound_port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    def stop(self) -> None:
        """Shut the server down (the caller closes its WebSocket connections first)."""
        thread, loop, runner = self.thread, self.loop, self._runner
        if thread is None or loop is None:
            return
        if runner is not None:
            fut = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            with contextlib.suppress(Exception):  # best-effort shutdown
                fut.result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self.thread = self.loop = self._runner = None

    @property
    def port(self) -> int:
        if self.bound_port is None:
            raise RuntimeError("FakeSlack is not started")
        return self.bound_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
