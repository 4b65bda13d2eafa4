"""Submit of the compose modal: check the form (pure, in the ack), close it, then add the entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deps import Deps, deps_of
from bot.failures import FailureContext, explain
from bot.outbox import Notice
from bot.services import CapturedEntry
from bot.slack.outcomes import added_reply
from bot.slack.replies import Replier
from bot.slack.views import TEXT_BLOCK, TIME_BLOCK, ComposeContext, ComposeSubmission, read_compose_submission

# Clocks differ a little between a laptop and the server; anything later than this is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)


def form_errors(submission: ComposeSubmission, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not submission.text.strip():
        errors[TEXT_BLOCK] = messages.compose_text_empty()
    if submission.event_time is not None and submission.event_time > now + FUTURE_TOLERANCE:
        errors[TIME_BLOCK] = messages.compose_time_in_future()
    return errors


async def answer_unreadable_form(
    client: AsyncWebClient, deps: Deps, user_id: str, error: Exception, text: str
) -> None:
    """The form's metadata isn't ours: no channel to answer in, so the app's direct message tells them."""
    failure = FailureContext(action="add", region=deps.gateway.region, text=text)
    await Replier(client, "", user_id, session=deps.http).send(explain(error, failure).text)


async def handle_compose_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
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
        await answer_unreadable_form(client, deps, user_id, error, submission.text)
        return
    captured = CapturedEntry(
        team_id=compose.team_id,
        channel_id=compose.channel_id,
        event_type=submission.event_type,
        slack_text=submission.text,
        event_time=submission.event_time or received_at,
        author_id=user_id,
        author_fallback=str(user.get("username") or user.get("name") or user_id),
        # One view is one entry: a double click on Add, or Slack retrying the submit, cannot add twice.
        token_source=("view", compose.team_id, str(view.get("id") or "")),
        expected_incident_arn=compose.incident_arn,
        is_markup=False,
    )
    replier = Replier(client, compose.channel_id, user_id, session=deps.http)
    try:
        notice = Notice(kind="reply", team_id=compose.team_id, channel_id=compose.channel_id, user_id=user_id)
        reply = added_reply(await deps.timeline.add(captured, notice), deps.gateway.region)
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        reply = explain(
            error, FailureContext(action="add", region=deps.gateway.region, text=submission.text)
        ).text
    await replier.send(reply)
