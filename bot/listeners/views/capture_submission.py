"""Submit of the "Add to timeline" modal: check the form in the ack, then add the message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deps import deps_of
from bot.domain.timeline import from_slack_ts
from bot.errors import DraftMissing
from bot.failures import FailureContext, explain
from bot.listeners.views.compose_submission import answer_unreadable_form, form_errors
from bot.outbox import Notice
from bot.services import CapturedEntry, EntryAdded
from bot.slack.conversation import mark_added, permalink_of
from bot.slack.outcomes import added_reply
from bot.slack.replies import Replier
from bot.slack.views import TEXT_BLOCK, CaptureContext, ComposeSubmission, read_compose_submission, text_key


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
        await answer_unreadable_form(client, deps_of(context), user_id, error, submission.text)
        return
    whole_message = text_key(submission.text) in capture.shortened_keys
    errors = form_errors(submission, received_at)
    if whole_message and capture.over_by > 0 and not errors:
        errors[TEXT_BLOCK] = messages.capture_too_long_error(capture.over_by)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    deps = deps_of(context)
    replier = Replier(
        client, capture.channel_id, user_id, response_url=capture.response_url, session=deps.http
    )
    # Typed (or changed) text is given back if it fails; the untouched message is still in the channel.
    given_back = "" if whole_message else submission.text
    failure = FailureContext(action="add", region=deps.gateway.region, text=given_back)
    try:
        text = submission.text
        if whole_message and capture.draft_id:
            # The box showed the beginning and the person left it alone: the whole message lands.
            whole = await deps.store.draft_text(capture.draft_id, text_key(submission.text))
            if whole is None:
                raise DraftMissing()
            text = whole
        permalink = capture.permalink or await permalink_of(client, capture.channel_id, capture.message_ts)
        captured = CapturedEntry(
            team_id=capture.team_id,
            channel_id=capture.channel_id,
            event_type=submission.event_type,
            slack_text=text,
            event_time=event_time_of(submission, capture.message_ts),
            author_id=capture.author_id,
            author_fallback=capture.author_label,
            # One view is one entry: a double click on Add, or Slack retrying the submit, cannot add twice.
            token_source=(
                "shortcut",
                capture.team_id,
                capture.channel_id,
                capture.message_ts,
                str(view.get("id") or ""),
            ),
            added_by_id=user_id,
            permalink=permalink,
            expected_incident_arn=capture.incident_arn,
            is_markup=False,
        )
        notice = Notice(
            kind="capture",
            team_id=capture.team_id,
            channel_id=capture.channel_id,
            user_id=user_id,
            response_url=capture.response_url,
            message_ts=capture.message_ts,
        )
        added = await deps.timeline.add(captured, notice)
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        await replier.send(explain(error, failure).text)
        return
    await replier.send(added_reply(added, deps.gateway.region))
    if isinstance(added, EntryAdded):
        # Only once AWS has it: the channel sees the message is on the timeline (a queued one gets its
        # mark when it lands).
        await mark_added(client, capture.channel_id, capture.message_ts, deps.settings.added_reaction)
