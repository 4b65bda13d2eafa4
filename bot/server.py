"""HTTP serving (aiohttp) and Socket Mode, with /healthz in both, and a graceful stop."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import logging
import signal
import socket
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
from bot.store.factory import is_in_memory

logger = logging.getLogger(__name__)

RUNTIME_KEY = web.AppKey("runtime", Runtime)
SOCKET_KEY = web.AppKey("socket_mode_handler", object)
# From the stop signal, all of the stop fits in this: the HTTP server's own stop, then work acked before it
# (AWS calls, replies), then the outbox's attempts still on their way. Closing and exiting follow at once,
# so the process is gone within 8 s, under Docker's 10 s grace, whatever AWS does (bot/__main__.py).
STOP_SECONDS = 6.5
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


class CannotListen(Exception):
    """The HTTP port cannot be had (taken, or not allowed); the message is one line for the operator."""


def _listen(port: int) -> socket.socket:
    """Take the port before anything slow, so a busy one is the first and only thing the operator reads.
    Connections that arrive before serving starts wait in its backlog rather than being refused."""
    try:
        return socket.create_server(("0.0.0.0", port), backlog=128)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CannotListen(f"port {port} is already in use: stop what holds it, or set PORT") from error
        raise CannotListen(f"cannot listen on port {port}: {error.strerror or error}") from error


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set). Raises CannotListen if the port cannot be had, and
    TokenRejected if Slack refuses a configured token, before serving anything."""
    stop = stop or _stop_on_signals()
    listener = _listen(settings.port)
    try:
        mode = "Socket Mode" if settings.socket_mode else f"HTTP on port {settings.port}"
        logger.info(
            f"starting: Slack over {mode}, Incident Manager in {settings.aws_region}",
            extra={"port": settings.port, "database": settings.database_url},
        )
        if is_in_memory(settings.database_url):
            logger.warning("DATABASE_URL is an in-memory database: bindings are lost when the bot restarts")
        runtime = await build_runtime(settings)
        try:
            await runtime.identity.verify()
            if settings.slack_app_token is not None:
                await verify_app_token(settings.slack_app_token, settings.slack_api_url)
            await _serve(settings, runtime, stop, listener)
        finally:
            await runtime.close()
    finally:
        listener.close()


async def _serve(settings: Settings, runtime: Runtime, stop: asyncio.Event, listener: socket.socket) -> None:
    application = web_app(runtime, serve_slack_events=not settings.socket_mode)
    socket_handler: Any = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        socket_handler = AsyncSocketModeHandler(runtime.app, settings.slack_app_token)
        application[SOCKET_KEY] = socket_handler
    # In-flight HTTP requests are acks (fast); the slow work after them is drained separately below.
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=HTTP_SHUTDOWN_SECONDS)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    warm: asyncio.Task[None] | None = None
    if isinstance(runtime.deps.gateway, Boto3IncidentGateway):
        # Load the AWS client (and find its credentials) off the request path and off the event loop.
        warm = asyncio.create_task(_warm(runtime.deps.gateway))
    try:
        if socket_handler is not None:
            # slack_sdk keeps retrying a failed connection; racing it with stop keeps SIGTERM working, and
            # /healthz says 503 until it is connected.
            logger.info(f"serving /healthz on port {settings.port}; connecting to Slack in Socket Mode")
            connect = asyncio.create_task(socket_handler.connect_async())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if connect.done() and connect.exception() is None:
                logger.info("ready, connected to Slack in Socket Mode", extra={"health_port": settings.port})
            else:
                connect.cancel()
        else:
            logger.info(
                f"ready, listening on http://0.0.0.0:{settings.port}/slack/events",
                extra={"port": settings.port, "path": "/slack/events"},
            )
        # Serving: resume what a previous run left pending, and retry what gets queued.
        runtime.deps.outbox.start()
        await stop.wait()
    finally:
        await _stop(runtime, runner, socket_handler, warm)


async def _stop(
    runtime: Runtime, runner: web.AppRunner, socket_handler: Any, warm: asyncio.Task[None] | None
) -> None:
    """Stop within STOP_SECONDS of being asked, however long the work still on its way would take."""
    logger.info("stopping: no new requests; finishing work already acknowledged")
    deadline = asyncio.get_running_loop().time() + STOP_SECONDS

    def left(keep: float = 0.0) -> float:
        return max(0.0, deadline - asyncio.get_running_loop().time() - keep)

    if warm is not None:
        warm.cancel()
    if socket_handler is not None:
        await _step("close the Slack socket", socket_handler.close_async(), HTTP_SHUTDOWN_SECONDS)
    await _step("stop the HTTP server", runner.cleanup(), left(OUTBOX_GRACE_SECONDS))
    unfinished = await runtime.deps.inflight.finish(left(OUTBOX_GRACE_SECONDS))
    if unfinished:
        logger.warning("stopped with acknowledged work unfinished", extra={"tasks": unfinished})
    # What is still on its way stays pending in the store; the next run resumes it.
    remaining = await runtime.deps.outbox.stop(max(left(), 0.1))
    if remaining:
        logger.warning(
            "stopped with outbox attempts unfinished; their entries stay pending for the next run",
            extra={"attempts": remaining},
        )


async def _step(what: str, work: Awaitable[object], seconds: float) -> None:
    try:
        await asyncio.wait_for(work, max(seconds, 0.1))
    except Exception as error:  # noqa: BLE001 - one failing step must not skip the rest of the stop
        logger.warning(
            "stop step failed", extra={"step": what, "error": str(error)[:200] or type(error).__name__}
        )


async def _warm(gateway: Boto3IncidentGateway) -> None:
    try:
        found_credentials = await gateway.warm_up()
    except Exception as error:  # noqa: BLE001 - each request explains it to its person
        logger.warning("AWS client not ready", extra={"error": str(error)[:300]})
        return
    if not found_credentials:
        logger.warning(
            "no AWS credentials found (environment, profile, container or instance role): every bind and "
            "note will fail until the bot has some"
        )


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
