"""Global Bolt middleware: hands every listener its dependencies and the channel's binding.

It runs before the ack, so it does only pure work: the binding is read from the store at most once per
request, when a listener first asks for it (after its ack), and every later look in that request gets
the same one. The shared path then uses exactly that binding, so a re-bind while a request is being
served can never give an entry whose token names one incident and whose event lands on another.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.domain.binding import Binding
from bot.listeners.deps import CONTEXT_KEY, Deps
from bot.metrics import slack_request_kind
from bot.presentation.messages.help import other_workspace
from bot.slack.identity import Workspace
from bot.slack.replies import respond
from bot.usecases.ports import BindingStore

logger = logging.getLogger(__name__)

BINDING_KEY = "channel_binding"


class ChannelBinding:
    """The binding of one channel, read once, when first asked for."""

    def __init__(self, store: BindingStore, team_id: str, channel_id: str) -> None:
        self.team_id = team_id
        self.channel_id = channel_id
        self._store = store
        self._read = False
        self._binding: Binding | None = None

    @property
    def known(self) -> Binding | None:
        """The binding if it has been read already (no I/O: for explaining a failure)."""
        return self._binding

    async def get(self) -> Binding | None:
        if not self._read:
            self._binding = await self._store.get_binding(self.team_id, self.channel_id)
            self._read = True
        return self._binding


def request_channel(body: dict[str, Any], context: AsyncBoltContext) -> tuple[str, str]:
    """(workspace, channel) a command, shortcut or event came from; empty when the request names none.

    The workspace is the one Bolt resolved: for events `authorizations[0].team_id`, which in a Slack
    Connect channel is this side's, not the body's `team_id` (the other side's)."""
    if body.get("command"):
        channel = body.get("channel_id")
    elif body.get("type") == "event_callback":
        event = body.get("event") or {}
        channel = (event.get("item") or {}).get("channel") or event.get("channel")
    else:
        channel = (body.get("channel") or {}).get("id") if isinstance(body.get("channel"), dict) else None
    return str(context.team_id or ""), str(channel or "")


def binding_of(context: AsyncBoltContext) -> ChannelBinding:
    binding = context[BINDING_KEY]
    assert isinstance(binding, ChannelBinding)
    return binding


def attach(
    deps: Deps, workspace: Callable[[], Workspace | None]
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """`workspace` says where the app is installed (None until auth.test has answered: served meanwhile)."""

    async def attach_request_context(
        body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        kind = slack_request_kind(body)
        deps.metrics.slack_requests.labels(kind).inc()
        installed = workspace()
        # A request that names no workspace at all is not "another workspace's": Bolt answers it as before.
        named = context.team_id is not None or context.enterprise_id is not None
        if installed is not None and named and not installed.serves(context.team_id, context.enterprise_id):
            return _refuse_other_workspace(deps, body, context, kind)
        context[CONTEXT_KEY] = deps
        team_id, channel_id = request_channel(body, context)
        context[BINDING_KEY] = ChannelBinding(deps.store, team_id, channel_id)
        await next()
        return None

    return attach_request_context


def _refuse_other_workspace(
    deps: Deps, body: dict[str, Any], context: AsyncBoltContext, kind: str
) -> BoltResponse:
    """No listener runs: no store read or write, no AWS call. Commands are told on the ack, shortcuts
    through their response_url; events and everything else are acked and ignored."""
    logger.info(
        "request from another workspace refused",
        extra={"kind": kind, "team": str(context.team_id), "enterprise": str(context.enterprise_id)},
    )
    if kind == "command":
        reply = {"response_type": "ephemeral", "text": other_workspace()}
        return BoltResponse(status=200, body=json.dumps(reply), headers={"content-type": "application/json"})
    response_url = body.get("response_url")
    if kind == "shortcut" and isinstance(response_url, str) and response_url:
        task = asyncio.get_running_loop().create_task(respond(response_url, other_workspace()))
        deps.inflight.track(task)
    return BoltResponse(status=200, body="")
