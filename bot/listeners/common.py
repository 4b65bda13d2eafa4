"""What several listeners share: running the slow part with every failure turned into the person's
reply, and checking a submitted form."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta

from bot.listeners.deps import Deps, ReplyChannel
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.ids import BlockId
from bot.presentation.messages import entries
from bot.presentation.views import ComposeSubmission

# Clocks differ a little between a laptop and the server; anything later than this is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)


async def reply_with_outcome(
    replier: ReplyChannel, failure: FailureContext, work: Awaitable[str | None]
) -> bool:
    """Run `work` and send its reply (if any); any failure becomes the mapping layer's reply instead.
    True when `work` succeeded."""
    try:
        reply = await work
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        await replier.send(explain(error, failure).text)
        return False
    if reply is not None:
        await replier.send(reply)
    return True


def form_errors(submission: ComposeSubmission, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not submission.text.strip():
        errors[BlockId.TEXT] = entries.compose_text_empty()
    if submission.event_time is not None and submission.event_time > now + FUTURE_TOLERANCE:
        errors[BlockId.TIME] = entries.compose_time_in_future()
    return errors


async def answer_unreadable_form(deps: Deps, user_id: str, error: Exception, text: str) -> None:
    """The form's metadata isn't ours: no channel to answer in, so the app's direct message tells them."""
    failure = FailureContext(action=Action.ADD, region=deps.gateway.region, text=text)
    await deps.repliers("", user_id).send(explain(error, failure).text)
