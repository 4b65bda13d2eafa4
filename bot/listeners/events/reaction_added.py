"""`reaction_added` with TIMELINE_REACTION: the message becomes a Note at its own time.

However many people pin one message, and however often Slack re-delivers the event, the token comes
from (team, channel, message ts) and the bound incident (and, after an un-pin deleted it, the pin's
generation), so it lands once; each pinner is recorded; a re-delivery (same
event_id) is dropped at once. Other emoji and unbound channels are ignored quietly.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.reactions import pin_reaction
from bot.domain.slack_message import MessageRef, parse_message
from bot.listeners.deps import Deps, deps_of
from bot.listeners.middleware import ChannelBinding, binding_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.outcomes import entry_reply
from bot.slack.conversation import fetch_message, mark_added, permalink_of
from bot.usecases.sources import pin_notice, pinned_entry
from bot.usecases.timeline import EntryAdded, EntryQueued

logger = logging.getLogger(__name__)


async def handle_reaction_added(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    deps = deps_of(context)
    pin = pin_reaction(event, deps.settings.timeline_reaction, context.bot_user_id)
    channel = binding_of(context)
    if pin is None or not channel.channel_id:
        return
    ts, user_id = pin.ts, pin.user_id
    event_id = str(body.get("event_id") or "")
    if event_id and not await deps.delivered_events.first_time(f"{channel.team_id}:{event_id}"):
        # Slack re-delivering an event this bot (this replica or another) already took: that one carries on.
        return
    replier = deps.repliers(channel.channel_id, user_id)
    failure = FailureContext(action=Action.PIN, region=deps.gateway.region)
    try:
        outcome = await _pin(deps, client, channel, ts, user_id)
        if outcome is None:
            return
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        title = channel.known.incident_title if channel.known is not None else None
        failure = FailureContext(action=Action.PIN, region=deps.gateway.region, incident_title=title)
        await replier.send(explain(error, failure).text)
        return
    if isinstance(outcome, EntryQueued):
        # Saved, not on the timeline yet: the person who pinned hears it now; the ✅ comes when it lands.
        logger.info("pinned message queued", extra={"channel": channel.channel_id})
        await replier.send(entry_reply(outcome, deps.gateway.region, pin=True))
        return
    logger.info("pinned message outcome", extra={"channel": channel.channel_id, "repeat": outcome.repeat})
    # The mark is the confirmation the channel (and the person who pinned) sees; without it, tell them.
    marked = await mark_added(client, channel.channel_id, ts, deps.settings.added_reaction)
    if not marked:
        await replier.send(entry_reply(outcome, deps.gateway.region))


async def _pin(
    deps: Deps, client: AsyncWebClient, channel: ChannelBinding, ts: str, user_id: str
) -> EntryAdded | EntryQueued | None:
    """Put the pinned message on the channel's incident; None when the channel is not bound."""
    binding = await channel.get()
    if binding is None:
        logger.info(
            "pin in an unbound channel ignored",
            extra={"team": channel.team_id, "channel": channel.channel_id},
        )
        return None
    # On the timeline already (another pin, the shortcut, a thread, Slack re-delivering): this pinner is
    # recorded and the answer comes from the store, no Slack read at all.
    notice = pin_notice(channel.team_id, channel.channel_id, user_id, ts)
    message_ref = MessageRef(channel.team_id, channel.channel_id, ts)
    known = await deps.timeline.already_pinned(message_ref, binding, notice, user_id)
    if known is not None:
        return known
    message = parse_message(await fetch_message(client, channel.channel_id, ts))
    captured, notice = pinned_entry(
        team_id=channel.team_id,
        channel_id=channel.channel_id,
        user_id=user_id,
        message=message,
        incident_arn=binding.incident_arn,
        permalink=await permalink_of(client, channel.channel_id, ts),
    )
    return await deps.timeline.add(captured, notice, binding)
