"""/healthz on a real PostgreSQL: 503 while the database refuses connections (an outage, a failover),
200 again once it is back, with no restart (the pool replaces the connections the server dropped)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.server import web_app
from bot.store import SqlStore
from tests.support.postgres import execute, scratch_database


async def test_healthz_is_503_while_postgresql_cannot_serve_and_200_once_it_is_back(
    postgres_server: str,
) -> None:
    with scratch_database(postgres_server, prefix="incident_bot_health") as url:
        name = make_url(url).database
        store = SqlStore(url)
        runtime: Any = SimpleNamespace(deps=SimpleNamespace(store=store))
        try:
            async with TestClient(TestServer(web_app(runtime, serve_slack_events=False))) as client:
                assert (await client.get("/healthz")).status == 200
                # The outage: no new connections, and the ones the bot holds are cut.
                await execute(
                    postgres_server,
                    f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
                )
                response = await client.get("/healthz")
                assert response.status == 503
                assert await response.json() == {"ok": False, "store": "unreachable"}
                await execute(postgres_server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                assert (await client.get("/healthz")).status == 200
        finally:
            await store.close()
            await execute(postgres_server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
