"""Runs the real bot (the same `serve` that `python -m bot` runs) on a free loopback port, in a thread
with its own event loop, and talks to it over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.server import serve


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def http(
    method: str,
    url: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> HttpResult:
    request = urllib.request.Request(
        url,
        data=body.encode("utf-8", "surrogatepass") if body is not None else None,
        headers=headers or {},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResult(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, error.read().decode(), dict(error.headers))


class BotServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float = 15.0) -> BotServer:
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready.set()
            await serve(self.settings, self._stop)

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as error:  # surfaced by start() and stop()
                self._error = error
                ready.set()

        self._thread = threading.Thread(target=run, name="bot-under-test", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None:
                raise RuntimeError(f"bot failed to start: {self._error!r}")
            try:
                if http("GET", self.url + "/healthz", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        raise TimeoutError("bot did not become healthy")

    def stop(self) -> None:
        """Stop the bot (a second call, once it stopped, does nothing)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
            if self._thread.is_alive():
                raise RuntimeError("bot did not stop within 15 s")
        if self._error is not None:
            raise RuntimeError(f"bot crashed: {self._error!r}")

    def __enter__(self) -> BotServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
