"""`/incident-note`: parse and ack at once (pure work only), then do the slow part and reply."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deps import Deps, deps_of
from bot.domain.arn import InvalidIncidentArn, console_url, parse_incident_record_arn
from bot.domain.commands import (
    AddEntry,
    Bind,
    Command,
    Compose,
    EmptyEntry,
    Help,
    Malformed,
    Status,
    Unbind,
    parse_command,
)
from bot.domain.slack_text import readable
from bot.domain.timeline import EventType
from bot.errors import EntryEmpty, MalformedCommand
from bot.failures import FailureContext, explain
from bot.outbox import Notice
from bot.services import CapturedEntry
from bot.slack.outcomes import added_reply
from bot.slack.replies import Replier
from bot.slack.views import ComposeContext, compose_modal

logger = logging.getLogger(__name__)


def immediate_reply(command: Command) -> str | None:
    """Replies that need no store, AWS or Slack call, so they can ride on the ack itself."""
    match command:
        case Help(trailing=trailing):
            return messages.help_reply(readable(trailing))
        case EmptyEntry(event_type=event_type):
            return explain(EntryEmpty(event_type), FailureContext(action="add")).text
        case Malformed(problem=problem, original=original):
            return explain(MalformedCommand(problem, readable(original)), FailureContext(action="add")).text
        case Bind(arn_text=arn_text):
            try:
                parse_incident_record_arn(arn_text)
            except InvalidIncidentArn as error:
                return explain(error, FailureContext(action="bind", operation="GetIncidentRecord")).text
    return None


async def handle_incident_note(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    received_at = datetime.now(UTC)
    metrics = deps_of(context).metrics
    missing = [field for field in ("team_id", "channel_id", "user_id") if not command.get(field)]
    if missing:
        metrics.commands.labels("incomplete").inc()
        # Slack always sends all three: without them there is no one to attribute to and nowhere to reply.
        logger.warning("slash command refused: missing fields", extra={"missing": ",".join(missing)})
        await ack(text=messages.command_incomplete(), response_type="ephemeral")
        return
    parsed = parse_command(str(command.get("text") or ""))
    metrics.commands.labels(command_form(parsed)).inc()
    quick = immediate_reply(parsed)
    if quick is not None:
        await ack(text=quick, response_type="ephemeral")
        return
    await ack()

    deps = deps_of(context)
    team_id = str(command.get("team_id") or context.team_id or "")
    channel_id = str(command.get("channel_id") or "")
    user_id = str(command.get("user_id") or "")
    replier = Replier(
        client, channel_id, user_id, response_url=command.get("response_url"), session=deps.http
    )
    failure = failure_context(parsed, deps.gateway.region)
    reply: str | None = None
    try:
        match parsed:
            case AddEntry(event_type=event_type, text=text):
                captured = CapturedEntry(
                    team_id=team_id,
                    channel_id=channel_id,
                    event_type=event_type,
                    slack_text=text,
                    event_time=received_at,
                    author_id=user_id,
                    author_fallback=str(command.get("user_name") or user_id),
                    token_source=_slash_token_source(team_id, channel_id, user_id, command, received_at),
                )
                notice = Notice(
                    kind="reply",
                    team_id=team_id,
                    channel_id=channel_id,
                    user_id=user_id,
                    response_url=command.get("response_url"),
                    response_url_issued_at=received_at.timestamp(),
                )
                reply = added_reply(await deps.timeline.add(captured, notice), deps.gateway.region)
            case Bind(arn_text=arn_text):
                reply = await _bind(deps, client, team_id, channel_id, user_id, arn_text)
            case Unbind():
                reply = await _unbind(deps, team_id, channel_id, user_id)
            case Compose():
                trigger_id = str(command.get("trigger_id") or "")
                reply = await _open_compose(deps, client, team_id, channel_id, trigger_id)
            case Status():
                reply = await _status(deps, team_id, channel_id)
    except Exception as error:  # noqa: BLE001 - every failure becomes a reply through the mapping layer
        reply = explain(error, failure).text
    if reply is not None:
        await replier.send(reply)


def command_form(command: Command) -> str:
    """The form's name for the metrics: note, event, bind, unbind, status, help, compose, empty, malformed."""
    match command:
        case AddEntry(event_type=EventType.NOTE):
            return "note"
        case AddEntry():
            return "event"
        case EmptyEntry():
            return "empty"
    return type(command).__name__.lower()


def failure_context(command: Command, region: str | None) -> FailureContext:
    """What a failure while serving this command means for the person."""
    match command:
        case AddEntry(text=text):
            # Given back readable if it fails, so nothing the person typed is lost.
            return FailureContext(action="add", region=region, text=readable(text))
        case Bind():
            return FailureContext(action="bind", operation="GetIncidentRecord", region=region)
        case Unbind():
            return FailureContext(action="unbind", region=region)
        case Compose():
            return FailureContext(action="compose", operation="views.open", region=region)
    return FailureContext(action="status", operation="GetIncidentRecord", region=region)


def _slash_token_source(
    team_id: str, channel_id: str, user_id: str, command: dict[str, Any], received_at: datetime
) -> tuple[str, ...]:
    trigger_id = str(command.get("trigger_id") or "")
    if trigger_id:
        # Slack's id of this one invocation: a re-delivery of the same command cannot add a second event.
        return ("slash", team_id, trigger_id)
    # Without one (never seen from Slack), keep distinct commands distinct rather than merging them.
    return ("slash-untriggered", team_id, channel_id, user_id, received_at.isoformat())


async def _open_compose(
    deps: Deps, client: AsyncWebClient, team_id: str, channel_id: str, trigger_id: str
) -> str | None:
    """Open the compose form; return a reply only when there is nothing to open it for."""
    binding = await deps.store.get_binding(team_id, channel_id)
    if binding is None:
        return messages.status_not_bound()
    context = ComposeContext(team_id=team_id, channel_id=channel_id, incident_arn=binding.incident_arn)
    view = compose_modal(context, binding.incident_title, datetime.now(UTC))
    await client.views_open(trigger_id=trigger_id, view=view)
    return None


async def _bind(
    deps: Deps, client: AsyncWebClient, team_id: str, channel_id: str, user_id: str, arn_text: str
) -> str:
    outcome = await deps.bindings.bind(team_id, channel_id, user_id, arn_text)
    incident = outcome.incident
    url = console_url(outcome.binding.incident_arn, deps.gateway.region)
    previous = outcome.previous
    if previous is not None and previous.incident_arn == outcome.binding.incident_arn:
        return messages.rebound_same(incident.title, url, incident.status, incident.impact)
    reply = messages.bound(
        incident.title, url, incident.status, incident.impact, previous.incident_title if previous else None
    )
    try:
        await client.chat_postMessage(
            channel=channel_id, text=messages.bind_announcement(user_id, incident.title, url)
        )
    except Exception as error:  # noqa: BLE001 - the binding stands; the person learns why nobody saw it
        explanation = explain(error, FailureContext(action="announce", operation="chat.postMessage"))
        reply += messages.announcement_failed(explanation.text)
    return reply


async def _unbind(deps: Deps, team_id: str, channel_id: str, user_id: str) -> str:
    removed = await deps.bindings.unbind(team_id, channel_id, user_id)
    if removed is None:
        return messages.nothing_to_unbind()
    return messages.unbound(removed.incident_title)


async def _status(deps: Deps, team_id: str, channel_id: str) -> str:
    report = await deps.bindings.status(team_id, channel_id)
    binding = report.binding
    if binding is None:
        return messages.status_not_bound()
    url = console_url(binding.incident_arn, deps.gateway.region)
    live = (report.incident.status, report.incident.impact) if report.incident else None
    live_error = None
    if report.lookup_error is not None:
        live_error = explain(
            report.lookup_error,
            FailureContext(
                action="status", operation="GetIncidentRecord", incident_title=binding.incident_title
            ),
        ).text
    title = report.incident.title if report.incident else binding.incident_title
    return messages.status(
        title, url, binding.incident_arn, binding.bound_by, binding.bound_at, live, live_error
    )
