"""`message` events: an edit or a delete of a message that is on the timeline is followed there.

Every message in every channel the bot is in arrives here (Bolt's `app.message()` would not see
`message_changed` / `message_deleted`), so the order of the checks is the cost of the traffic:
1. the payload alone (`message_change`): new messages, other subtypes, unfurls, bots' and apps' messages
   stop here, with nothing read;
2. the channel's binding (one store read): channels with no binding stop here;
3. the entries made from this message (one indexed store read): messages never on the timeline stop here;
4. only then the delivery's dedup (a write, once shared by replicas) and the change itself.

Nobody is told anything when it works: the event simply says what the message says now (or is gone). When
Incident Manager refuses it, or it fails in a way no retry mends, the message's author is told, since the
timeline now disagrees with Slack and they are the one who can act (only the author can edit; a delete
by an admin is still about their message).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.domain.arn import console_url
from bot.domain.binding import Binding
from bot.domain.message_events import MessageChange, MessageEdited, message_change
from bot.domain.slack_message import MessageRef
from bot.listeners.deps import Deps, deps_of
from bot.listeners.middleware import binding_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.messages import lifecycle as says
from bot.usecases.changes import Changed, ChangeResult
from bot.usecases.outbox import Notice

logger = logging.getLogger(__name__)


async def handle_message(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
    change = message_change(event, datetime.now(UTC))
    if change is None:
        return
    channel = binding_of(context)
    if not channel.channel_id:
        return
    deps = deps_of(context)
    binding = await channel.get()
    if binding is None:
        return
    ref = MessageRef(channel.team_id, channel.channel_id, change.ts)
    try:
        if not await deps.changes.entries_following(ref):
            return
    except Exception as error:  # noqa: BLE001 - not known to be on the timeline: nobody to tell
        logger.warning("could not look up a changed message", extra={"error": str(error)[:200]})
        return
    event_id = str(body.get("event_id") or "")
    if event_id and not await deps.delivered_events.first_time(f"{channel.team_id}:{event_id}"):
        return  # Slack re-delivering an event this bot (this replica or another) already took
    author = change.message.author_id if isinstance(change, MessageEdited) else change.author_id
    action = Action.EDIT if isinstance(change, MessageEdited) else Action.DELETE
    try:
        results = await _follow(deps, ref, change)
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        results = [Changed(ChangeResult.REFUSED, None, error)]
    logger.info(
        "message change followed",
        extra={"action": str(action), "results": ",".join(str(changed.result) for changed in results)},
    )
    for changed in results:
        if changed.result is ChangeResult.REFUSED:
            await _tell_author(deps, binding, author, action, changed)


async def _follow(deps: Deps, ref: MessageRef, change: MessageChange) -> list[Changed]:
    if isinstance(change, MessageEdited):
        message = change.message
        return await deps.changes.message_edited(ref, message.markup, message.author_id, change.edited_at)
    # A deleted message takes its reactions with it: there is no ✅ left to take off.
    return await deps.changes.message_deleted(ref, change.deleted_at)


async def _tell_author(
    deps: Deps, binding: Binding, author: str | None, action: Action, changed: Changed
) -> None:
    stored = changed.stored
    notice = Notice.from_json(stored.notice) if stored is not None else None
    # The entry's own incident (after a re-bind it may not be the channel's now).
    title = notice.incident_title if notice is not None and notice.incident_title else binding.incident_title
    arn = stored.entry.incident_arn if stored is not None else binding.incident_arn
    operation = "UpdateTimelineEvent" if action is Action.EDIT else "DeleteTimelineEvent"
    failure = FailureContext(
        action=action, operation=operation, region=deps.gateway.region, incident_title=title
    )
    error = changed.error or RuntimeError("change refused without a reason")
    explanation = explain(error, failure).text
    if author is None:
        logger.warning("no one to tell that a message change was not followed", extra={"action": str(action)})
        return
    url = console_url(arn, deps.gateway.region)
    lead = (
        says.edit_not_followed(title, url) if action is Action.EDIT else says.delete_not_followed(title, url)
    )
    await deps.repliers(binding.channel_id, author).send(f"{lead}\n{explanation}")
