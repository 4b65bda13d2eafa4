"""Submit of the picker (`bind` alone): check the choice (pure, in the ack), close the form, then bind
exactly as `bind <arn>` does: the permission checked again, a resolved incident refused, the same reply
and the same announcement."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.binding import channel_link
from bot.listeners.common import bind_and_announce, reply_with_outcome
from bot.listeners.deps import deps_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.ids import BlockId
from bot.presentation.messages import binding as says
from bot.presentation.views import SEARCH_FAILED_VALUE, PickerContext, read_picker_choice
from bot.usecases.binding import BindRequest

logger = logging.getLogger(__name__)


async def handle_bind_picker_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    choice = read_picker_choice((view.get("state") or {}).get("values") or {})
    if choice is None or choice == SEARCH_FAILED_VALUE:
        problem = says.pick_one() if choice is None else says.pick_again()
        await ack(response_action="errors", errors={BlockId.INCIDENT: problem})
        return
    await ack()

    deps = deps_of(context)
    user_id = str((body.get("user") or {}).get("id") or "")
    region = deps.gateway.region
    failure = FailureContext(action=Action.BIND, operation="GetIncidentRecord", region=region)
    try:
        picker = PickerContext.from_metadata(str(view.get("private_metadata") or ""))
    except (ValueError, KeyError, TypeError) as error:
        # Not a form this bot opened: no channel to bind, so the app's direct message says so.
        await deps.repliers("", user_id).send(explain(error, failure).text)
        return
    replier = deps.repliers(picker.channel_id, user_id)
    view_id = str(view.get("id") or "")
    # A replayed submit (same view) is carried out once: no second announcement.
    if view_id and not await deps.handled_commands.first_time(f"{picker.team_id}:{view_id}"):
        logger.warning("replayed picker submission ignored", extra={"channel": picker.channel_id})
        await replier.send(says.already_done("bind"))
        return
    link = channel_link(picker.team_id, picker.channel_id, picker.channel_name, picker.workspace_url)
    request = BindRequest(picker.team_id, picker.channel_id, user_id, choice, link, view_id)
    await reply_with_outcome(replier, failure, bind_and_announce(deps, client, request))
