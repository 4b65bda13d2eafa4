"""`reaction_removed` with TIMELINE_REACTION: an un-pin. When the last person pinning a message takes their
📌 off, the event the pin made is deleted and the ✅ goes; while someone still pins it, it stays (the use
case tracks who pins). An event made by the shortcut or a thread is not a pin's: un-pinning leaves it.

Filtered as `reaction_added` is: other emoji, other items and the bot's own reactions cost nothing; a
re-delivery (same event_id) is dropped; an unbound channel is ignored. Nobody is told anything unless it
could not be done: the ✅ going is the confirmation the whole channel sees.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.arn import console_url
from bot.domain.reactions import pin_reaction
from bot.domain.slack_message import MessageRef
from bot.listeners.deps import deps_of
from bot.listeners.middleware import binding_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.messages import lifecycle as says
from bot.slack.conversation import unmark_added
from bot.usecases.changes import ChangeResult

logger = logging.getLogger(__name__)


async def handle_reaction_removed(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    deps = deps_of(context)
    pin = pin_reaction(event, deps.settings.timeline_reaction, context.bot_user_id)
    channel = binding_of(context)
    if pin is None or not channel.channel_id:
        return
    ts, user_id = pin.ts, pin.user_id
    binding = await channel.get()
    if binding is None:
        logger.info("un-pin in an unbound channel ignored", extra={"channel": channel.channel_id})
        return
    ref = MessageRef(channel.team_id, channel.channel_id, ts)
    failure = FailureContext(
        action=Action.UNPIN,
        operation="DeleteTimelineEvent",
        region=deps.gateway.region,
        incident_title=binding.incident_title,
    )
    url = console_url(binding.incident_arn, deps.gateway.region)
    replier = deps.repliers(channel.channel_id, user_id)
    event_id = str(body.get("event_id") or "")
    try:
        if not await deps.changes.entries_following(ref):
            return  # a 📌 taken off a message on no timeline: one indexed read, no write
        # Only now (a message on a timeline): an un-pin of anything else costs no write.
        if event_id and not await deps.delivered_events.first_time(f"{channel.team_id}:{event_id}"):
            return  # Slack re-delivering an event this bot (this replica or another) already took
        changed = await deps.changes.pin_removed(ref, user_id, binding.incident_arn)
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        await replier.send(
            f"{says.unpin_not_followed(binding.incident_title, url)}\n{explain(error, failure).text}"
        )
        return
    logger.info("un-pin", extra={"channel": channel.channel_id, "result": str(changed.result)})
    if changed.result is ChangeResult.REFUSED:
        refused = changed.error or RuntimeError("un-pin refused without a reason")
        await replier.send(
            f"{says.unpin_not_followed(binding.incident_title, url)}\n{explain(refused, failure).text}"
        )
        return
    if changed.result not in (ChangeResult.DONE, ChangeResult.CANCELLED):
        # QUEUED: the ✅ goes when Incident Manager answers; NOTHING: someone else still pins it, or the
        # event is not a pin's.
        return
    if not await deps.changes.entries_following(ref):
        # The message is on no timeline now (it may still be on another incident's, after a re-bind).
        await unmark_added(client, channel.channel_id, ts, deps.settings.added_reaction)
