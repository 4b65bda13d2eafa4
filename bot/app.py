"""Builds the Bolt app and everything its listeners need."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.aws.incidents import AWS_THREADS, Boto3IncidentGateway
from bot.config import Settings
from bot.inflight import InFlight
from bot.listeners import register_listeners
from bot.listeners.deps import Deps
from bot.listeners.middleware import attach
from bot.metrics import Metrics
from bot.presentation.followups import SlackFollowUps
from bot.recent import DeliveredOnce
from bot.slack.directory import UserDirectory
from bot.slack.identity import SlackIdentity
from bot.slack.permission import SlackBindPermission
from bot.slack.replies import Replier
from bot.store import open_store
from bot.usecases.binding import BindingService
from bot.usecases.changes import EntryChanges
from bot.usecases.outbox import Outbox
from bot.usecases.ports import IncidentGateway, Store
from bot.usecases.replicas import Replicas
from bot.usecases.timeline import TimelineService
from bot.usecases.timeline_events import TimelineReader

logger = logging.getLogger(__name__)

# A claimed entry (or an owed reply being told) is held this long, renewed by the outbox's heartbeat (a
# third of it) while this process works on it: a replica that dies gives its work up within one lease.
OUTBOX_LEASE = timedelta(seconds=3)


@dataclass(frozen=True)
class Runtime:
    app: AsyncApp
    deps: Deps
    client: AsyncWebClient
    identity: SlackIdentity
    http: aiohttp.ClientSession
    # This replica among those on the database: its share of the rate limit.
    replicas: Replicas

    async def close(self) -> None:
        self.deps.metrics.detach()
        # Each step on its own: one failing close must not leave the others open.
        for step in (self.deps.store.close, self.deps.gateway.close, self.http.close):
            try:
                await step()
            except Exception as error:  # noqa: BLE001 - stopping anyway; the log says what did not close
                logger.warning("close failed", extra={"step": step.__qualname__, "error": str(error)[:200]})


def build_app(settings: Settings, deps: Deps, client: AsyncWebClient, identity: SlackIdentity) -> AsyncApp:
    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # A plain function: Bolt matches an authorize hook's parameters by name, and `self` confuses it.
        return await identity.authorize(enterprise_id, team_id)

    app = AsyncApp(
        client=client,
        authorize=authorize,
        signing_secret=settings.slack_signing_secret,
        # Socket Mode connections are authenticated by the app token. HTTP requests are verified by
        # bot/server.py before Bolt sees them (headers first, then one HMAC over the exact bytes): checking
        # again here would only spend a second HMAC and body decode on the ack path.
        request_verification_enabled=False,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt"),
    )

    app.middleware(attach(deps, identity.workspace))
    register_listeners(app)
    return app


async def build_runtime(
    settings: Settings, gateway: IncidentGateway | None = None, store: Store | None = None
) -> Runtime:
    """Open the store and wire everything; nothing here calls Slack or AWS."""
    store = store or open_store(
        settings.database_url,
        timedelta(days=settings.entry_retention_days),
        holder=replica_name(settings.port),
    )
    await store.ping()
    metrics = Metrics()
    metrics.attach()
    gateway = gateway or Boto3IncidentGateway(
        settings.aws_region,
        settings.aws_read_timeout,
        calls_per_second=settings.aws_calls_per_second,
        retry_mode=settings.aws_retry_mode,
        observe=metrics.observe_aws,
    )
    # One HTTP session for every Slack call and reply: kept-alive connections, no handshake per call.
    http = aiohttp.ClientSession()
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=http,
        # slack_sdk's default (a dropped connection is tried again), and a rate-limited call is tried again
        # once after Slack's Retry-After; past that the caller hears it failed (an owed reply is kept).
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )
    identity = SlackIdentity(client, settings.slack_bot_token)
    directory = UserDirectory(client)
    permission = SlackBindPermission(client, settings.bind_allowed_users, settings.bind_allowed_usergroups)
    follow_ups = SlackFollowUps(
        client, http, settings.added_reaction, lambda: gateway.region, undo_window=settings.undo_window
    )

    outbox = Outbox(
        store,
        gateway,
        follow_ups,
        lease=OUTBOX_LEASE,
        # Claim no more than the rate limit sends in about two seconds: the rest stays due in the store.
        max_in_flight=min(AWS_THREADS, max(1, int(settings.aws_calls_per_second * 2))),
        on_outcome=metrics.observe_outcome,
    )
    deps = Deps(
        settings=settings,
        store=store,
        gateway=gateway,
        outbox=outbox,
        metrics=metrics,
        timeline=TimelineService(store, outbox, directory),
        changes=EntryChanges(
            store,
            outbox,
            directory,
            permission,
            undo_window=settings.undo_window,
            others_may_undo=bool(settings.bind_allowed_users or settings.bind_allowed_usergroups),
            deleted_message_action=settings.deleted_message_action,
        ),
        bindings=BindingService(store, gateway, permission),
        reader=TimelineReader(gateway),
        directory=directory,
        repliers=lambda channel_id, user_id, response_url=None: Replier(
            client, channel_id, user_id, response_url=response_url, session=http
        ),
        inflight=InFlight(),
        delivered_events=DeliveredOnce(store, "event"),
        handled_commands=DeliveredOnce(store, "command"),
    )
    app = build_app(settings, deps, client, identity)
    replicas = Replicas(
        store,
        store.holder,
        settings.aws_calls_per_second,
        gateway.set_rate
        if isinstance(gateway, Boto3IncidentGateway) and settings.aws_calls_per_second
        else None,
    )
    return Runtime(app=app, deps=deps, client=client, identity=identity, http=http, replicas=replicas)


def replica_name(port: int) -> str:
    """Names this replica among those on the database: its host and the port it listens on (/healthz in
    Socket Mode too). `serve` holds that port before the store is opened, so no other live process has
    this name: a process that had it before is gone (killed), and what it held is this one's to resume at
    once. Replicas must have distinct host names (as Docker, Kubernetes and ECS give them)."""
    return f"{socket.gethostname()}:{port}"
