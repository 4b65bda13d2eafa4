"""The "More" button under a `timeline` reply: the next (older) page, as a new ephemeral reply."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.domain.binding import Binding
from bot.listeners.commands.incident_note import timeline_reply
from bot.listeners.common import RichReply, reply_with_outcome
from bot.listeners.deps import Deps, deps_of
from bot.listeners.middleware import binding_of
from bot.presentation.failures import Action, FailureContext
from bot.presentation.messages import timeline as says
from bot.presentation.views import MoreTimeline


async def handle_timeline_more(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    deps = deps_of(context)
    channel = binding_of(context)
    user_id = str((body.get("user") or {}).get("id") or "")
    response_url = body.get("response_url")
    replier = deps.repliers(
        channel.channel_id, user_id, response_url if isinstance(response_url, str) else None
    )
    actions = body.get("actions") or [{}]
    failure = FailureContext(
        action=Action.TIMELINE, operation="ListTimelineEvents", region=deps.gateway.region
    )
    await reply_with_outcome(
        replier, failure, _more(deps, await channel.get(), str(actions[0].get("value") or ""))
    )


async def _more(deps: Deps, binding: Binding | None, value: str) -> str | RichReply:
    more = MoreTimeline.from_value(
        value
    )  # only the bot writes it: unreadable is a bug, for the mapping layer
    # The page continues the list of the incident the channel serves, or not at all.
    if binding is None or binding.incident_arn != more.incident_arn:
        return says.binding_changed()
    return await timeline_reply(deps, binding, more.count, more.next_token)
