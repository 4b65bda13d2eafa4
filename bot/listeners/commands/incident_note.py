"""`/incident-note`: parse and ack at once (pure work only), then do the slow part and reply."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.arn import InvalidIncidentArn, console_url, parse_incident_reference
from bot.domain.binding import Binding, channel_link
from bot.domain.commands import (
    AddEntry,
    Bind,
    Command,
    Compose,
    EmptyEntry,
    Help,
    Malformed,
    PickIncident,
    Status,
    Timeline,
    Unbind,
    parse_command,
)
from bot.domain.slack_text import readable
from bot.domain.timeline import EventType
from bot.listeners.common import (
    RichReply,
    bind_and_announce,
    confirmation,
    relate_failure,
    reply_with_outcome,
    workspace_url,
)
from bot.listeners.deps import Deps, deps_of
from bot.listeners.middleware import ChannelBinding, binding_of
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.messages import binding as says
from bot.presentation.messages import timeline as timeline_says
from bot.presentation.messages.help import command_incomplete, help_reply
from bot.presentation.views import (
    ComposeContext,
    PickerContext,
    compose_modal,
    picker_modal,
    picker_notice_modal,
    timeline_message,
)
from bot.usecases.binding import BindRequest, OpenIncidents
from bot.usecases.errors import EntryEmpty, MalformedCommand
from bot.usecases.sources import slash_entry

logger = logging.getLogger(__name__)

# How long the picker waits for the open incidents before it opens a placeholder form instead: Slack's
# trigger_id lasts 3 seconds, and Incident Manager may be slow or the bot's rate limit busy.
PICKER_QUICK_SECONDS = 1.5


def immediate_reply(command: Command) -> str | None:
    """Replies that need no store, AWS or Slack call, so they can ride on the ack itself."""
    match command:
        case Help(trailing=trailing):
            return help_reply(readable(trailing))
        case EmptyEntry(event_type=event_type):
            return explain(EntryEmpty(event_type), FailureContext(action=Action.ADD)).text
        case Malformed(keyword=keyword, reason=reason, original=original):
            failure = MalformedCommand(reason, keyword, readable(original))
            return explain(failure, FailureContext(action=Action.ADD)).text
        case Bind(arn_text=arn_text):
            try:
                parse_incident_reference(arn_text)
            except InvalidIncidentArn as error:
                return explain(error, FailureContext(action=Action.BIND, operation="GetIncidentRecord")).text
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
        await ack(text=command_incomplete(), response_type="ephemeral")
        return
    parsed = parse_command(str(command.get("text") or ""))
    metrics.commands.labels(command_form(parsed)).inc()
    quick = immediate_reply(parsed)
    if quick is not None:
        await ack(text=quick, response_type="ephemeral")
        return
    await ack()

    deps = deps_of(context)
    channel = binding_of(context)
    user_id = str(command.get("user_id") or "")
    response_url = command.get("response_url")
    replier = deps.repliers(channel.channel_id, user_id, response_url)
    picker = PickerContext(
        team_id=channel.team_id,
        channel_id=channel.channel_id,
        channel_name=str(command.get("channel_name") or ""),
        workspace_url=workspace_url(context, str(command.get("team_domain") or "")),
    )
    await reply_with_outcome(
        replier,
        failure_context(parsed, deps.gateway.region),
        _serve(parsed, deps, client, channel, user_id, command, received_at, picker),
    )


async def _serve(
    parsed: Command,
    deps: Deps,
    client: AsyncWebClient,
    channel: ChannelBinding,
    user_id: str,
    command: dict[str, Any],
    received_at: datetime,
    picker: PickerContext,
) -> str | RichReply | None:
    """The slow part of a command; its reply, or None when there is nothing to say (a form opened)."""
    team_id, channel_id = channel.team_id, channel.channel_id
    trigger_id = str(command.get("trigger_id") or "")
    changes_binding = isinstance(parsed, Bind | PickIncident | Unbind)
    if (
        changes_binding
        and trigger_id
        and not await deps.handled_commands.first_time(f"{team_id}:{trigger_id}")
    ):
        logger.warning(
            "replayed command ignored", extra={"form": command_form(parsed), "channel": channel_id}
        )
        return says.already_done(command_form(parsed))
    match parsed:
        case AddEntry(event_type=event_type, text=text):
            captured, notice = slash_entry(
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                user_name=str(command.get("user_name") or ""),
                event_type=event_type,
                text=text,
                trigger_id=trigger_id,
                response_url=command.get("response_url"),
                received_at=received_at,
            )
            outcome = await deps.timeline.add(captured, notice, await channel.get())
            return confirmation(deps, outcome, received_at)
        case Bind(arn_text=arn_text):
            link = channel_link(team_id, channel_id, picker.channel_name, picker.workspace_url)
            request = BindRequest(team_id, channel_id, user_id, arn_text, link, trigger_id)
            return await bind_and_announce(deps, client, request)
        case PickIncident():
            return await _open_picker(deps, client, picker, user_id, trigger_id)
        case Unbind():
            return await _unbind(deps, team_id, channel_id, user_id, trigger_id)
        case Compose():
            return await _open_compose(client, await channel.get(), trigger_id)
        case Status():
            return await _status(deps, await channel.get())
        case Timeline(count=count):
            return await timeline_reply(deps, await channel.get(), count)
    return None


def command_form(command: Command) -> str:
    """The form's name for the metrics: note, event, bind, pick (`bind` alone), unbind, status, timeline,
    help, compose, empty, malformed."""
    match command:
        case PickIncident():
            return "pick"
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
            return FailureContext(action=Action.ADD, region=region, text=readable(text))
        case Bind():
            return FailureContext(action=Action.BIND, operation="GetIncidentRecord", region=region)
        case PickIncident():
            return FailureContext(action=Action.PICK, operation="ListIncidentRecords", region=region)
        case Timeline():
            return FailureContext(action=Action.TIMELINE, operation="ListTimelineEvents", region=region)
        case Unbind():
            return FailureContext(action=Action.UNBIND, region=region)
        case Compose():
            return FailureContext(action=Action.COMPOSE, operation="views.open", region=region)
    return FailureContext(action=Action.STATUS, operation="GetIncidentRecord", region=region)


async def _open_compose(client: AsyncWebClient, binding: Binding | None, trigger_id: str) -> str | None:
    """Open the compose form; return a reply only when there is nothing to open it for."""
    if binding is None:
        return says.status_not_bound()
    context = ComposeContext(
        team_id=binding.team_id, channel_id=binding.channel_id, incident_arn=binding.incident_arn
    )
    view = compose_modal(context, binding.incident_title, datetime.now(UTC))
    await client.views_open(trigger_id=trigger_id, view=view)
    return None


async def _open_picker(
    deps: Deps, client: AsyncWebClient, picker: PickerContext, user_id: str, trigger_id: str
) -> str | None:
    """The form offering the open incidents; a reply instead when there is none, or the person may not
    bind. When listing them takes long, a placeholder form opens while the trigger_id is still good, and
    is filled in when the list comes."""
    await deps.bindings.check_permission(user_id)
    region = deps.gateway.region
    listing = asyncio.ensure_future(deps.bindings.open_incidents.get())
    done, _ = await asyncio.wait({listing}, timeout=PICKER_QUICK_SECONDS)
    if listing in done:
        incidents = listing.result()
        if not incidents.incidents:
            return says.no_open_incidents(region)
        await client.views_open(trigger_id=trigger_id, view=_picker(picker, incidents, region))
        return None
    try:
        opened = await client.views_open(
            trigger_id=trigger_id, view=picker_notice_modal(picker, says.picker_loading())
        )
    except BaseException:
        listing.cancel()
        raise
    view_id = str((opened.get("view") or {}).get("id") or "")
    try:
        incidents = await listing
    except Exception as error:  # noqa: BLE001 - the mapping layer's reply goes where the person looks
        failure = FailureContext(action=Action.PICK, operation="ListIncidentRecords", region=region)
        view = picker_notice_modal(picker, explain(error, failure).text)
    else:
        view = (
            _picker(picker, incidents, region)
            if incidents.incidents
            else picker_notice_modal(picker, says.no_open_incidents(region))
        )
    await client.views_update(view_id=view_id, view=view)
    return None


def _picker(picker: PickerContext, incidents: OpenIncidents, region: str | None) -> dict[str, Any]:
    return picker_modal(picker, incidents, region, datetime.now(UTC))


async def _unbind(deps: Deps, team_id: str, channel_id: str, user_id: str, trigger_id: str) -> str:
    outcome = await deps.bindings.unbind(team_id, channel_id, user_id, trigger_id)
    removed = outcome.removed
    if removed is None:
        return says.nothing_to_unbind()
    reply = says.unbound(removed.incident_title)
    if outcome.unlink_error is None:
        return reply + says.unlinked()
    reason = explain(outcome.unlink_error, relate_failure(deps.gateway.region)).text
    return reply + says.unlink_failed(removed.incident_title, reason)


async def timeline_reply(
    deps: Deps, binding: Binding | None, count: int, next_token: str | None = None
) -> str | RichReply:
    """A page of the channel's incident's timeline, newest first (`next_token`: an older page)."""
    if binding is None:
        return timeline_says.not_bound()
    page = await deps.reader.latest(binding.incident_arn, count, next_token)
    url = console_url(binding.incident_arn, deps.gateway.region)
    text, blocks = timeline_message(
        binding.incident_title, url, page, count, binding.incident_arn, first_page=next_token is None
    )
    return RichReply(text, blocks)


async def _status(deps: Deps, binding: Binding | None) -> str:
    report = await deps.bindings.status(binding)
    if report.binding is None:
        return says.status_not_bound()
    binding = report.binding
    url = console_url(binding.incident_arn, deps.gateway.region)
    live = (report.incident.status, report.incident.impact) if report.incident else None
    live_error = None
    if report.lookup_error is not None:
        live_error = explain(
            report.lookup_error,
            FailureContext(
                action=Action.STATUS, operation="GetIncidentRecord", incident_title=binding.incident_title
            ),
        ).text
    title = report.incident.title if report.incident else binding.incident_title
    return says.status(title, url, binding.incident_arn, binding.bound_by, binding.bound_at, live, live_error)
