"""HTTP serving (aiohttp) and Socket Mode, with /healthz in both."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from bot.app import Runtime, build_runtime
from bot.aws.incidents import Boto3IncidentGateway
from bot.config import Settings
from bot.store.factory import is_in_memory

logger = logging.getLogger(__name__)

RUNTIME_KEY = web.AppKey("runtime", Runtime)


async def slack_events(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    bolt_response = await runtime.app.async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(bolt_response)


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    try:
        await runtime.deps.store.ping()
    except Exception as error:
        logger.warning("health check failed", extra={"error": str(error)[:200]})
        return web.json_response({"ok": False, "store": "unreachable"}, status=503)
    return web.json_response({"ok": True})


def web_app(runtime: Runtime, *, serve_slack_events: bool = True) -> web.Application:
    application = web.Application()
    application[RUNTIME_KEY] = runtime
    if serve_slack_events:
        application.router.add_post("/slack/events", slack_events)
    application.router.add_get("/healthz", healthz)
    return application


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set)."""
    stop = stop or _stop_on_signals()
    if is_in_memory(settings.database_url):
        logger.warning("DATABASE_URL is an in-memory database: bindings are lost when the bot restarts")
    runtime = await build_runtime(settings)
    warm: asyncio.Task[None] | None = None
    if isinstance(runtime.deps.gateway, Boto3IncidentGateway):
        # Load the AWS client off the request path; a failure here is reported per request instead.
        warm = asyncio.create_task(_warm(runtime.deps.gateway))
    runner = web.AppRunner(web_app(runtime, serve_slack_events=not settings.socket_mode), access_log=None)
    await runner.setup()
    socket_handler = None
    try:
        await web.TCPSite(runner, "0.0.0.0", settings.port).start()
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(runtime.app, settings.slack_app_token)
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]
            logger.info("connected to Slack in Socket Mode", extra={"health_port": settings.port})
        else:
            logger.info("listening", extra={"port": settings.port, "path": "/slack/events"})
        await stop.wait()
    finally:
        logger.info("shutting down")
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()
        await runtime.close()
        if warm is not None:
            warm.cancel()


async def _warm(gateway: Boto3IncidentGateway) -> None:
    try:
        await gateway.warm_up()
    except Exception as error:
        logger.warning("AWS client not ready", extra={"error": str(error)[:300]})


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
