"""Submit of the compose modal: check the form (pure, in the ack), close it, then add the entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.listeners.common import (
    RichReply,
    answer_unreadable_form,
    confirmation,
    form_errors,
    reply_with_outcome,
)
from bot.listeners.deps import Deps, deps_of
from bot.presentation.failures import Action, FailureContext
from bot.presentation.views import ComposeContext, ComposeSubmission, read_compose_submission
from bot.usecases.sources import composed_entry


async def handle_compose_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
) -> None:
    received_at = datetime.now(UTC)
    submission = read_compose_submission((view.get("state") or {}).get("values") or {})
    errors = form_errors(submission, received_at)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    deps = deps_of(context)
    user = body.get("user") or {}
    user_id = str(user.get("id") or "")
    try:
        compose = ComposeContext.from_metadata(str(view.get("private_metadata") or ""))
    except (ValueError, KeyError, TypeError) as error:
        await answer_unreadable_form(deps, user_id, error, submission.text)
        return
    failure = FailureContext(action=Action.ADD, region=deps.gateway.region, text=submission.text)
    await reply_with_outcome(
        deps.repliers(compose.channel_id, user_id),
        failure,
        _add(deps, compose, submission, user, str(view.get("id") or ""), received_at),
    )


async def _add(
    deps: Deps,
    compose: ComposeContext,
    submission: ComposeSubmission,
    user: dict[str, Any],
    view_id: str,
    received_at: datetime,
) -> str | RichReply:
    user_id = str(user.get("id") or "")
    captured, notice = composed_entry(
        team_id=compose.team_id,
        channel_id=compose.channel_id,
        user_id=user_id,
        user_name=str(user.get("username") or user.get("name") or ""),
        event_type=submission.event_type,
        text=submission.text,
        event_time=submission.event_time or received_at,
        view_id=view_id,
        incident_arn=compose.incident_arn,
    )
    # The form's channel, read once for this submit: the shared path uses exactly this binding.
    binding = await deps.store.get_binding(compose.team_id, compose.channel_id)
    return confirmation(deps, await deps.timeline.add(captured, notice, binding), received_at)
