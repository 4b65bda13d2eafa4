"""What several listeners share: running the slow part with every failure turned into the person's
reply, and checking a submitted form."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.arn import console_url
from bot.listeners.deps import Deps, ReplyChannel
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.ids import BlockId
from bot.presentation.messages import binding as says
from bot.presentation.messages import entries
from bot.presentation.outcomes import entry_confirmation, undo_until
from bot.presentation.views import ComposeSubmission
from bot.usecases.binding import BindRequest
from bot.usecases.timeline import EntryAdded, EntryQueued

# A workspace's subdomain as Slack sends it in `team_domain` / `team.domain`.
_TEAM_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Clocks differ a little between a laptop and the server; anything later than this is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class RichReply:
    """A reply with blocks; `text` is what the notification (and a client without blocks) shows."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


async def reply_with_outcome(
    replier: ReplyChannel, failure: FailureContext, work: Awaitable[str | RichReply | None]
) -> bool:
    """Run `work` and send its reply (if any); any failure becomes the mapping layer's reply instead.
    True when `work` succeeded."""
    try:
        reply = await work
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        await replier.send(explain(error, failure).text)
        return False
    if isinstance(reply, RichReply):
        await replier.send(reply.text, reply.blocks)
    elif reply is not None:
        await replier.send(reply)
    return True


def confirmation(deps: Deps, outcome: EntryAdded | EntryQueued, asked_at: datetime) -> str | RichReply:
    """The reply to an added note, event or shortcut entry, with its *Undo* button. The window is counted
    from `asked_at` (when the request came, before the entry was recorded), so the time shown never
    promises more than the use case allows."""
    until = undo_until(asked_at, deps.settings.undo_window)
    text, blocks = entry_confirmation(outcome, deps.gateway.region, until)
    return RichReply(text, blocks) if blocks else text


def workspace_url(context: AsyncBoltContext, team_domain: str = "") -> str | None:
    """The workspace's address (auth.test's `url`, as Bolt holds it), else one made from its domain."""
    authorized = context.authorize_result
    url = getattr(authorized, "url", None) if authorized is not None else None
    if isinstance(url, str) and url.startswith("https://"):
        return url
    return f"https://{team_domain}.slack.com/" if _TEAM_DOMAIN.fullmatch(team_domain) else None


def relate_failure(region: str | None) -> FailureContext:
    """A related-item update that failed: the binding stands, so no "nothing was changed"."""
    return FailureContext(action=Action.RELATE, operation="UpdateRelatedItems", region=region)


async def bind_and_announce(deps: Deps, client: AsyncWebClient, request: BindRequest) -> str:
    """`bind <arn>` and the picker's submit alike: bind, then the reply and the channel's announcement."""
    outcome = await deps.bindings.bind(request)
    incident = outcome.incident
    region = deps.gateway.region
    url = console_url(outcome.binding.incident_arn, region)
    previous = outcome.previous
    linked = request.link is not None and outcome.link_error is None
    if previous is not None and previous.incident_arn == outcome.binding.incident_arn:
        reply = says.rebound_same(incident.title, url, incident.status, incident.impact)
    else:
        reply = says.bound(
            incident.title,
            url,
            incident.status,
            incident.impact,
            previous.incident_title if previous else None,
        )
    if linked:
        reply += says.linked()
    if outcome.link_error is not None:
        reply += says.link_failed(explain(outcome.link_error, relate_failure(region)).text)
    if outcome.unlink_error is not None and previous is not None:
        reason = explain(outcome.unlink_error, relate_failure(region)).text
        reply += says.unlink_failed(previous.incident_title, reason)
    if previous is not None and previous.incident_arn == outcome.binding.incident_arn:
        return reply
    try:
        await client.chat_postMessage(
            channel=request.channel_id, text=says.bind_announcement(request.user_id, incident.title, url)
        )
    except Exception as error:  # noqa: BLE001 - the binding stands; the person learns why nobody saw it
        explanation = explain(error, FailureContext(action=Action.ANNOUNCE, operation="chat.postMessage"))
        reply += says.announcement_failed(explanation.text)
    return reply


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
