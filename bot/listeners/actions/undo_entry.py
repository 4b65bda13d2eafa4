"""The *Undo* button under the confirmation of an added entry: take the event off the timeline.

The click is acked at once; then the use case decides (only the adder, or those BIND_ALLOWED_* names,
within the window). What happened replaces the confirmation, so its button cannot be clicked again; a
refusal (not theirs, too late) is a reply of its own and the confirmation stays as it was.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.arn import console_url
from bot.listeners.deps import Deps, ReplyChannel, deps_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.messages import lifecycle as says
from bot.presentation.outcomes import queued_reason
from bot.presentation.views import text_blocks
from bot.slack.conversation import unmark_added
from bot.usecases.changes import Changed, ChangeResult, UndoNotAllowed, UndoRefusal
from bot.usecases.outbox import Notice
from bot.usecases.ports import StoredEntry

logger = logging.getLogger(__name__)


async def handle_undo_entry(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    received_at = datetime.now(UTC)
    deps = deps_of(context)
    user_id = str((body.get("user") or {}).get("id") or "")
    channel_id = str((body.get("channel") or {}).get("id") or "")
    response_url = body.get("response_url")
    replier = deps.repliers(channel_id, user_id, response_url if isinstance(response_url, str) else None)
    actions = body.get("actions") or [{}]
    token = str(actions[0].get("value") or "")
    failure = FailureContext(action=Action.UNDO, operation="DeleteTimelineEvent", region=deps.gateway.region)
    try:
        changed = await deps.changes.undo(token, user_id, received_at)
    except UndoNotAllowed as refusal:
        logger.info("undo refused", extra={"reason": str(refusal.reason), "user": user_id})
        await replier.send(_refusal(deps, refusal))
        return
    except Exception as error:  # noqa: BLE001 - the confirmation stays (its button too): try again later
        await replier.send(explain(error, failure).text)
        return
    logger.info("undo", extra={"result": str(changed.result), "user": user_id})
    await _answer(deps, client, replier, changed, failure)


async def _answer(
    deps: Deps, client: AsyncWebClient, replier: ReplyChannel, changed: Changed, failure: FailureContext
) -> None:
    """In place of the confirmation: what the click did."""
    stored = changed.stored
    notice = Notice.from_json(stored.notice) if stored is not None else None
    event_type = stored.entry.event_type if stored is not None else None
    title = notice.incident_title if notice is not None else ""
    url = console_url(stored.entry.incident_arn, deps.gateway.region) if stored is not None else None
    text = (notice.text if notice is not None else "") or (stored.entry.text if stored is not None else "")
    match changed.result:
        case ChangeResult.DONE:
            reply = says.undone(event_type, title, url, text)
        case ChangeResult.CANCELLED:
            reply = says.undo_cancelled(event_type, title, url, text)
        case ChangeResult.QUEUED:
            reply = says.undo_queued(event_type, title, url, queued_reason(changed.error), text)
        case ChangeResult.NOTHING:
            reply = says.undo_nothing(event_type, title, url)
        case _:
            error = changed.error or RuntimeError("undo refused without a reason")
            reply = explain(error, replace(failure, incident_title=title or None)).text
    await replier.replace(reply, text_blocks(reply))
    if changed.result in (ChangeResult.DONE, ChangeResult.CANCELLED) and notice and notice.message_ts:
        # The message it came from is no longer on the timeline: its ✅ goes (a queued delete's goes
        # when Incident Manager answers).
        await unmark_added(client, notice.channel_id, notice.message_ts, deps.settings.added_reaction)


def _refusal(deps: Deps, refusal: UndoNotAllowed) -> str:
    stored: StoredEntry | None = refusal.stored
    match refusal.reason:
        case UndoRefusal.NOT_YOURS:
            notice = Notice.from_json(stored.notice) if stored is not None else None
            others = bool(deps.settings.bind_allowed_users or deps.settings.bind_allowed_usergroups)
            return says.undo_not_yours(notice.user_id if notice is not None else None, others)
        case UndoRefusal.WINDOW_PASSED:
            recorded_at = stored.created_at if stored is not None else None
            return says.undo_window_passed(deps.settings.undo_window, recorded_at)
    return says.undo_unknown()
