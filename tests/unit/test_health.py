"""/healthz reports readiness honestly: 200 only while the store answers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.server import web_app


class Store:
    def __init__(self) -> None:
        self.broken = False

    async def ping(self) -> None:
        if self.broken:
            raise OSError("disk I/O error")

    async def pending_count(self) -> int:
        return 0


async def test_healthz_follows_the_store() -> None:
    store = Store()
    runtime: Any = SimpleNamespace(deps=SimpleNamespace(store=store))
    async with TestClient(TestServer(web_app(runtime, serve_slack_events=False))) as client:
        assert (await client.get("/healthz")).status == 200
        store.broken = True
        response = await client.get("/healthz")
        assert response.status == 503
        assert await response.json() == {"ok": False, "store": "unreachable"}
        store.broken = False
        assert (await client.get("/healthz")).status == 200
