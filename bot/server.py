"""HTTP serving (aiohttp) and Socket Mode, with /healthz in both, and a graceful stop."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import logging
import re
import signal
import socket
import time
from collections.abc import Awaitable, Mapping
from enum import StrEnum
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import Runtime, build_runtime
from bot.aws.incidents import Boto3IncidentGateway
from bot.config import Settings
from bot.metrics import CONTENT_TYPE
from bot.slack.identity import verify_app_token
from bot.store import describe

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


class Refusal(StrEnum):
    """Why a request is not taken as Slack's."""

    NO_SECRET = "no signing secret configured"
    NO_TIMESTAMP = "no X-Slack-Request-Timestamp"
    BAD_TIMESTAMP = "X-Slack-Request-Timestamp is not a number of seconds"
    STALE = "X-Slack-Request-Timestamp is outside the 5-minute window"
    NO_SIGNATURE = "no X-Slack-Signature"
    BAD_SIGNATURE = "X-Slack-Signature is not v0= and 64 hex digits"
    REPEATED_HEADER = "a signature header is repeated"
    WRONG_SIGNATURE = "X-Slack-Signature does not match the body"


TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
# ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "١٢" (which it reads).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# hmac.compare_digest raises TypeError on a str with anything but ASCII, so the shape is checked first.
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# The largest request Slack sends this bot is a message shortcut: the whole message, its text (up to
# 40,000 characters) twice (as text and as rich_text), JSON-escaped then URL-encoded: about 720 KB for
# 40,000 CJK characters. A submitted modal of ours is under 100 KB, a slash command or an event a few KB.
# 1 MiB keeps headroom for attachments and files and bounds what a forged request can make us buffer.
MAX_BODY_BYTES = 1024 * 1024


async def slack_events(request: web.Request) -> web.Response:
    """Refuse what is not signed before reading it, read what is, and never answer a 5xx (Slack retries
    those): Bolt gets only requests signed with our secret, parsed from the very bytes that were signed."""
    runtime = request.app[RUNTIME_KEY]
    secret = runtime.deps.settings.slack_signing_secret or ""
    # The headers alone refuse an unsigned, stale or malformed request: its body is never read.
    refusal = _header_refusal(secret, request.headers, time.time())
    if refusal is None:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _too_large(request)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:  # chunked, so no Content-Length to check first
            return _too_large(request)
        if not _signature_matches(secret, request.headers, body):
            refusal = Refusal.WRONG_SIGNATURE
    if refusal is not None:
        # One short line, whatever LOG_LEVEL: never the body, which may be large and carries bearer values.
        logger.info("unsigned request refused", extra={"reason": refusal, "bytes": request.content_length})
        return web.json_response({"error": "invalid request"}, status=401)
    return await _dispatch_signed(request, runtime, body)


def _header_refusal(secret: str, headers: CIMultiDictProxy[str], now: float) -> Refusal | None:
    """Why the signature headers alone show the request is not Slack's, or None."""
    if not secret:
        return Refusal.NO_SECRET
    if any(len(headers.getall(name, ())) > 1 for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER)):
        # We check the first and Bolt would check the last: take no chances.
        return Refusal.REPEATED_HEADER
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if timestamp is None:
        return Refusal.NO_TIMESTAMP
    if not _TIMESTAMP.fullmatch(timestamp):
        return Refusal.BAD_TIMESTAMP
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return Refusal.STALE
    if signature is None:
        return Refusal.NO_SIGNATURE
    if not _SIGNATURE.fullmatch(signature):
        return Refusal.BAD_SIGNATURE
    return None


def _signature_matches(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Slack's v0 signature over the raw bytes (headers already checked by `_header_refusal`). slack_sdk's
    verifier decodes the body as UTF-8 first, so it cannot check a body that is not UTF-8; this is the
    same HMAC over the bytes themselves."""
    signed_part = b"v0:" + headers[TIMESTAMP_HEADER].encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), signed_part, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers[SIGNATURE_HEADER])


def _too_large(request: web.Request) -> web.Response:
    logger.warning(
        "request over the body limit refused",
        extra={"bytes": request.content_length, "limit": MAX_BODY_BYTES},
    )
    return web.json_response({"error": "request too large"}, status=413)


async def _dispatch_signed(request: web.Request, runtime: Runtime, body: bytes) -> web.Response:
    try:
        # Strict UTF-8, from the bytes that were signed: Bolt's own check (a second line) sees them too.
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8"),
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # a mapping of str, as Bolt's adapter passes
        )
        problem = _unreadable(bolt_request.body)
    except Exception as error:  # noqa: BLE001 - any body Bolt cannot parse is the sender's fault, not ours
        # Not UTF-8, broken JSON, JSON nested deeper than the parser recurses (RecursionError), fields of
        # the wrong type for Bolt's context extraction (KeyError, TypeError)...
        problem = _described(error)
    if problem is not None:
        return _malformed("signed request the bot cannot read refused", problem, request)
    try:
        bolt_response = await runtime.app.async_dispatch(bolt_request)
        response = await to_aiohttp_response(bolt_response)
    except Exception as error:  # noqa: BLE001 - a signed but odd body must not become a 500
        return _malformed("signed request the bot could not handle refused", _described(error), request)
    if response.status >= 500:
        # Bolt answers 500 when its routing trips over the body (it logs why); Slack would retry it.
        return _malformed("signed request the bot could not handle refused", "Bolt answered 500", request)
    return response


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


def _malformed(what: str, problem: str, request: web.Request) -> web.Response:
    logger.warning(what, extra={"problem": problem, "content_type": request.content_type})
    return web.json_response({"error": "malformed request"}, status=400)


# The names Bolt routes on: matched against our listeners (some by regular expression, which takes only a
# str) and pasted into its "unhandled request" warning. Slack sends each as a string, or leaves it out.
# (A `type` of another kind is harmless: Bolt only compares it with ==.)
_ROUTING_NAMES = ("command", "callback_id", "action_id", "block_id")
_EVENT_ROUTING_NAMES = ("type", "subtype")


def _unreadable(body: object) -> str | None:
    """Why Bolt cannot route a parsed body (its routing indexes these without checking them), or None."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    for field in ("event", "view"):
        if field in body and not isinstance(body[field], dict):
            return f"its {field} is not a JSON object"
    names = [(name, body.get(name)) for name in _ROUTING_NAMES]
    names += [(f"event.{name}", body.get("event", {}).get(name)) for name in _EVENT_ROUTING_NAMES]
    names += [("view.callback_id", body.get("view", {}).get("callback_id"))]
    for name, value in names:
        if value is not None and not isinstance(value, str):
            return f"its {name} is not a string"
    kind = body.get("type")
    if kind in ("block_actions", "interactive_message"):
        # Bolt takes actions[0] of both to route them and to name them in its "unhandled" warning.
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            return f"a {kind} payload without actions"
    return None


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
    application = web.Application(client_max_size=MAX_BODY_BYTES)
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
            # Named by the store (kind, host, name), never with the URL's password.
            extra={"port": settings.port, "database": describe(settings.database_url)},
        )
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
    # Counted among the replicas (and its rate limit shared) before it serves or sends anything.
    await runtime.replicas.join()
    await web.SockSite(runner, listener).start()
    warm: asyncio.Task[None] | None = None
    if isinstance(runtime.deps.gateway, Boto3IncidentGateway):
        # Load the AWS client (and find its credentials) off the request path and off the event loop.
        warm = asyncio.create_task(_warm(runtime.deps.gateway))
    try:
        # Resume at once what a previous run (or a replica that died) left pending, and retry what gets
        # queued: the outbox needs the store and AWS, not the Slack connection.
        runtime.deps.outbox.start()
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
    # Sending no more: the other replicas take this one's share of the rate limit at once.
    await _step("leave the replicas", runtime.replicas.leave(), 1.0)


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
