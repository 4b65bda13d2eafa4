"""Submit of the "Add to timeline" modal: check the form in the ack, then add the message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.slack_message import SlackMessage
from bot.domain.timeline import from_slack_ts
from bot.listeners.common import (
    RichReply,
    answer_unreadable_form,
    confirmation,
    form_errors,
    reply_with_outcome,
)
from bot.listeners.deps import Deps, deps_of
from bot.presentation.failures import Action, FailureContext
from bot.presentation.ids import BlockId
from bot.presentation.messages.capture import capture_too_long_error
from bot.presentation.views import CaptureContext, ComposeSubmission, read_compose_submission, text_key
from bot.slack.conversation import mark_added, permalink_of
from bot.usecases.errors import DraftMissing
from bot.usecases.sources import captured_message_entry
from bot.usecases.timeline import EntryAdded


def event_time_of(submission: ComposeSubmission, message_ts: str) -> datetime:
    """The message's own time, to the microsecond, unless the person picked another minute.

    The picker holds whole seconds; an untouched picker gives back the message's second.
    """
    message_time = from_slack_ts(message_ts)
    picked = submission.event_time
    if picked is None or int(picked.timestamp()) == int(message_time.timestamp()):
        return message_time
    return picked


async def handle_capture_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    received_at = datetime.now(UTC)
    submission = read_compose_submission((view.get("state") or {}).get("values") or {})
    user_id = str((body.get("user") or {}).get("id") or "")
    try:
        capture = CaptureContext.from_metadata(str(view.get("private_metadata") or ""))
    except (ValueError, KeyError, TypeError) as error:
        await ack()
        await answer_unreadable_form(deps_of(context), user_id, error, submission.text)
        return
    whole_message = text_key(submission.text) in capture.shortened_keys
    errors = form_errors(submission, received_at)
    if whole_message and capture.over_by > 0 and not errors:
        errors[BlockId.TEXT] = capture_too_long_error(capture.over_by)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    deps = deps_of(context)
    # Typed (or changed) text is given back if it fails; the untouched message is still in the channel.
    given_back = "" if whole_message else submission.text
    failure = FailureContext(action=Action.ADD, region=deps.gateway.region, text=given_back)
    view_id = str(view.get("id") or "")
    work = _add(deps, client, capture, submission, user_id, view_id, whole_message, received_at)
    await reply_with_outcome(deps.repliers(capture.channel_id, user_id, capture.response_url), failure, work)


async def _add(
    deps: Deps,
    client: AsyncWebClient,
    capture: CaptureContext,
    submission: ComposeSubmission,
    user_id: str,
    view_id: str,
    whole_message: bool,
    received_at: datetime,
) -> str | RichReply | None:
    text = submission.text
    if whole_message and capture.draft_id:
        # The box showed the beginning and the person left it alone: the whole message lands.
        whole = await deps.store.draft_text(capture.draft_id, text_key(submission.text))
        if whole is None:
            raise DraftMissing()
        text = whole
    permalink = capture.permalink or await permalink_of(client, capture.channel_id, capture.message_ts)
    captured, notice = captured_message_entry(
        team_id=capture.team_id,
        channel_id=capture.channel_id,
        user_id=user_id,
        message=SlackMessage(capture.message_ts, capture.author_id, capture.author_label, text),
        event_type=submission.event_type,
        event_time=event_time_of(submission, capture.message_ts),
        view_id=view_id,
        permalink=permalink,
        incident_arn=capture.incident_arn,
        response_url=capture.response_url,
        # Known unchanged only for a shortened prefill left as it was (the whole message lands).
        text_changed=not whole_message,
    )
    # The form's channel, read once for this submit: the shared path uses exactly this binding.
    binding = await deps.store.get_binding(capture.team_id, capture.channel_id)
    outcome = await deps.timeline.add(captured, notice, binding)
    reply = confirmation(deps, outcome, received_at)
    if isinstance(outcome, EntryAdded):
        # Only once AWS has it: the channel sees the message is on the timeline (a queued one gets its
        # mark when it lands). The reply goes first, as the person asked for it.
        replier = deps.repliers(capture.channel_id, user_id, capture.response_url)
        if isinstance(reply, RichReply):
            await replier.send(reply.text, reply.blocks)
        else:
            await replier.send(reply)
        await mark_added(client, capture.channel_id, capture.message_ts, deps.settings.added_reaction)
        return None
    return reply
