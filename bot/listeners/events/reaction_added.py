"""`reaction_added` with TIMELINE_REACTION: the message becomes a Note at its own time.

However many people pin one message, and however often Slack re-delivers the event, the token comes
from (team, channel, message ts) and the bound incident, so it lands once; a re-delivery (same
event_id) is dropped at once. Other emoji and unbound channels are ignored quietly.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import deps_of
from bot.domain.slack_message import parse_message
from bot.domain.timeline import EventType, from_slack_ts
from bot.failures import FailureContext, explain
from bot.outbox import Notice
from bot.services import CapturedEntry, EntryQueued
from bot.slack.conversation import fetch_message, mark_added, permalink_of
from bot.slack.outcomes import added_reply
from bot.slack.replies import Replier

logger = logging.getLogger(__name__)


async def handle_reaction_added(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    deps = deps_of(context)
    item = event.get("item") or {}
    # Skin-tone variants ("+1::skin-tone-2") are the same emoji.
    reaction = str(event.get("reaction") or "").split("::", 1)[0]
    if reaction != deps.settings.timeline_reaction or item.get("type") != "message":
        return
    team_id = str(body.get("team_id") or context.team_id or "")
    channel_id = str(item.get("channel") or "")
    ts = str(item.get("ts") or "")
    user_id = str(event.get("user") or "")
    if not (channel_id and ts and user_id) or user_id == context.bot_user_id:
        return
    event_id = str(body.get("event_id") or "")
    if event_id and not deps.delivered_events.first_time(event_id):
        # Slack re-delivering an event this bot already took (it answered slowly): that one carries on.
        return
    failure = FailureContext(action="pin", region=deps.gateway.region)
    try:
        binding = await deps.store.get_binding(team_id, channel_id)
        if binding is None:
            logger.info("pin in an unbound channel ignored", extra={"team": team_id, "channel": channel_id})
            return
        failure = FailureContext(
            action="pin", region=deps.gateway.region, incident_title=binding.incident_title
        )
        message = parse_message(await fetch_message(client, channel_id, ts))
        added = await deps.timeline.add(
            CapturedEntry(
                team_id=team_id,
                channel_id=channel_id,
                event_type=EventType.NOTE,
                slack_text=message.markup,
                event_time=from_slack_ts(message.ts),
                author_id=message.author_id,
                author_fallback=message.author_label,
                # Once per message and incident: more pins and Slack's retries land once, and after a
                # re-bind a pin puts the message on the new incident instead of echoing the old one.
                token_source=("reaction", team_id, channel_id, ts, binding.incident_arn),
                added_by_id=user_id,
                permalink=await permalink_of(client, channel_id, ts),
            ),
            Notice(kind="pin", team_id=team_id, channel_id=channel_id, user_id=user_id, message_ts=ts),
        )
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        await Replier(client, channel_id, user_id, session=deps.http).send(explain(error, failure).text)
        return
    replier = Replier(client, channel_id, user_id, session=deps.http)
    if isinstance(added, EntryQueued):
        # Saved, not on the timeline yet: the person who pinned hears it now; the ✅ comes when it lands.
        logger.info("pinned message queued", extra={"channel": channel_id})
        await replier.send(added_reply(added, deps.gateway.region, pin=True))
        return
    logger.info("pinned message added", extra={"channel": channel_id, "repeat": added.repeat})
    # The mark is the confirmation the channel (and the person who pinned) sees; without it, tell them.
    marked = await mark_added(client, channel_id, ts, deps.settings.added_reaction)
    if not marked:
        await replier.send(added_reply(added, deps.gateway.region))
