"""HTTP serving (aiohttp) and Socket Mode, with /healthz in both, and a graceful stop."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import signal
import time
from collections.abc import Awaitable, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from bot.app import Runtime, build_runtime
from bot.aws.incidents import Boto3IncidentGateway
from bot.config import Settings
from bot.metrics import CONTENT_TYPE
from bot.slack.identity import verify_app_token

logger = logging.getLogger(__name__)

RUNTIME_KEY = web.AppKey("runtime", Runtime)
SOCKET_KEY = web.AppKey("socket_mode_handler", object)
# Work acked before a stop (AWS calls, replies) gets this long to finish: with the HTTP server's own stop,
# under Docker's 10 s stop grace.
DRAIN_SECONDS = 7.0
HTTP_SHUTDOWN_SECONDS = 1.0
OUTBOX_GRACE_SECONDS = 1.0
# Slack's replay window for signed requests, as Bolt applies it.
SIGNATURE_MAX_AGE_SECONDS = 5 * 60


async def slack_events(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    try:
        bolt_request = await to_bolt_request(request)
        problem = _unreadable(bolt_request.body)
    except (ValueError, AttributeError, TypeError) as error:
        # Not UTF-8, broken or truncated JSON, JSON that is not an object: Bolt raises while reading it.
        bolt_request, problem = None, f"{type(error).__name__}: {str(error)[:200]}"
    if problem is not None or bolt_request is None:
        return await _refuse_unreadable(request, runtime, problem or "unreadable")
    bolt_response = await runtime.app.async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)


def _unreadable(body: object) -> str | None:
    """Why Bolt cannot work with a parsed body (its middleware calls .get on these), or None."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if "event" in body and not isinstance(body["event"], dict):
        return "its event is not a JSON object"
    return None


async def _refuse_unreadable(request: web.Request, runtime: Runtime, problem: str) -> web.Response:
    """401 when not signed with our secret (as Bolt answers any unsigned request), else 400; never a 500,
    which Slack would retry."""
    secret = runtime.deps.settings.slack_signing_secret or ""
    if not _signed(secret, await request.read(), request.headers):
        logger.info("unreadable unsigned request refused", extra={"problem": problem})
        return web.json_response({"error": "invalid request"}, status=401)
    logger.warning(
        "signed request the bot cannot read refused",
        extra={"problem": problem, "content_type": request.content_type},
    )
    return web.json_response({"error": "malformed request"}, status=400)


def _signed(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature over the raw bytes. slack_sdk's verifier decodes the body as UTF-8 first, so it
    cannot check a signed body that is not UTF-8; this is the same HMAC over the bytes themselves."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    if not secret or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return False
    signed_part = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), signed_part, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Slack-Signature", ""))


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    try:
        await runtime.deps.store.ping()
    except Exception as error:  # noqa: BLE001 - any store failure means not ready
        logger.warning("health check failed", extra={"error": str(error)[:200]})
        return web.json_response({"ok": False, "store": "unreachable"}, status=503)
    handler: Any = request.app.get(SOCKET_KEY)
    if handler is not None and not await handler.client.is_connected():
        return web.json_response({"ok": False, "slack": "socket mode not connected"}, status=503)
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    try:
        depth: int | None = await runtime.deps.store.pending_count()
    except Exception as error:  # noqa: BLE001 - the other metrics are still worth serving
        logger.warning("outbox depth unavailable", extra={"error": str(error)[:200]})
        depth = None
    body = runtime.deps.metrics.render(depth)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def web_app(runtime: Runtime, *, serve_slack_events: bool = True) -> web.Application:
    application = web.Application()
    application[RUNTIME_KEY] = runtime
    if serve_slack_events:
        application.router.add_post("/slack/events", slack_events)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/metrics", metrics)
    return application


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set). Raises TokenRejected before serving anything if Slack
    refuses a configured token."""
    stop = stop or _stop_on_signals()
    runtime = await build_runtime(settings)
    try:
        await runtime.identity.verify()
        if settings.slack_app_token is not None:
            await verify_app_token(settings.slack_app_token, settings.slack_api_url)
        await _serve(settings, runtime, stop)
    finally:
        await runtime.close()


async def _serve(settings: Settings, runtime: Runtime, stop: asyncio.Event) -> None:
    warm: asyncio.Task[None] | None = None
    if isinstance(runtime.deps.gateway, Boto3IncidentGateway):
        # Load the AWS client off the request path; a failure here is reported per request instead.
        warm = asyncio.create_task(_warm(runtime.deps.gateway))
    application = web_app(runtime, serve_slack_events=not settings.socket_mode)
    socket_handler: Any = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        socket_handler = AsyncSocketModeHandler(runtime.app, settings.slack_app_token)
        application[SOCKET_KEY] = socket_handler
    # In-flight HTTP requests are acks (fast); the slow work after them is drained separately below.
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=HTTP_SHUTDOWN_SECONDS)
    try:
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", settings.port).start()
        if socket_handler is not None:
            # slack_sdk keeps retrying a failed connection; racing it with stop keeps SIGTERM working, and
            # /healthz says 503 until it is connected.
            connect = asyncio.create_task(socket_handler.connect_async())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if connect.done() and connect.exception() is None:
                logger.info("connected to Slack in Socket Mode", extra={"health_port": settings.port})
            else:
                connect.cancel()
        else:
            logger.info("listening", extra={"port": settings.port, "path": "/slack/events"})
        # Serving: resume what a previous run left pending, and retry what gets queued.
        runtime.deps.outbox.start()
        await stop.wait()
    finally:
        logger.info("stopping: no new requests; finishing work already acknowledged")
        if warm is not None:
            warm.cancel()
        if socket_handler is not None:
            await _step("close the Slack socket", socket_handler.close_async())
        await _step("stop the HTTP server", runner.cleanup())
        unfinished = await runtime.deps.inflight.finish(DRAIN_SECONDS)
        if unfinished:
            logger.warning("stopped with acknowledged work unfinished", extra={"tasks": unfinished})
        # What is still on its way stays pending in the store; the next run resumes it.
        left = await runtime.deps.outbox.stop(OUTBOX_GRACE_SECONDS)
        if left:
            logger.warning("stopped with outbox attempts unfinished", extra={"attempts": left})


async def _step(what: str, work: Awaitable[object]) -> None:
    try:
        await work
    except Exception as error:  # noqa: BLE001 - one failing step must not skip the rest of the stop
        logger.warning("stop step failed", extra={"step": what, "error": str(error)[:200]})


async def _warm(gateway: Boto3IncidentGateway) -> None:
    try:
        await gateway.warm_up()
    except Exception as error:  # noqa: BLE001 - e.g. no region: each request explains it to its person
        logger.warning("AWS client not ready", extra={"error": str(error)[:300]})


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
