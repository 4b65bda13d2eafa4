"""Global Bolt middleware: hands every listener its dependencies and the channel's binding.

It runs before the ack, so it does only pure work: the binding is read from the store at most once per
request, when a listener first asks for it (after its ack), and every later look in that request gets
the same one. The shared path then uses exactly that binding, so a re-bind while a request is being
served can never give an entry whose token names one incident and whose event lands on another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.domain.binding import Binding
from bot.listeners.deps import CONTEXT_KEY, Deps
from bot.metrics import slack_request_kind
from bot.usecases.ports import BindingStore

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
    """(team, channel) a command, shortcut or event came from; empty when the request names none."""
    if body.get("command"):
        team, channel = body.get("team_id"), body.get("channel_id")
    elif body.get("type") == "event_callback":
        event = body.get("event") or {}
        team, channel = body.get("team_id"), (event.get("item") or {}).get("channel") or event.get("channel")
    else:
        team = (body.get("team") or {}).get("id") if isinstance(body.get("team"), dict) else None
        channel = (body.get("channel") or {}).get("id") if isinstance(body.get("channel"), dict) else None
    return str(team or context.team_id or ""), str(channel or "")


def binding_of(context: AsyncBoltContext) -> ChannelBinding:
    binding = context[BINDING_KEY]
    assert isinstance(binding, ChannelBinding)
    return binding


def attach(deps: Deps) -> Callable[..., Awaitable[None]]:
    async def attach_request_context(
        body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        context[CONTEXT_KEY] = deps
        team_id, channel_id = request_channel(body, context)
        context[BINDING_KEY] = ChannelBinding(deps.store, team_id, channel_id)
        deps.metrics.slack_requests.labels(slack_request_kind(body)).inc()
        await next()

    return attach_request_context
