"""The mapping layer: any failure -> a friendly, specific reply with a reference id, and a log line.

Replies never contain a traceback or an exception class name; the log carries the technical detail under
the same reference id, so an operator can find it from a screenshot of the reply.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from botocore import exceptions as aws
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import messages
from bot.aws.incidents import OutcomeUnknown, aws_error_code
from bot.domain.arn import InvalidIncidentArn
from bot.domain.timeline import NoteTooLong
from bot.errors import (
    BindingChanged,
    BindNotAllowed,
    BindPermissionUnknown,
    BoundIncidentMissing,
    ChannelNotBound,
    DraftMissing,
    EntryEmpty,
    GaveUp,
    IncidentResolved,
    MalformedCommand,
    MessageNotFound,
    MessageUnreadable,
)
from bot.slack.errors import slack_error_code

logger = logging.getLogger("bot.failures")

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_BAD_CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
}
_FIELD_NAMES = {
    "eventData": "the text",
    "clientToken": "the request id",
    "incidentRecordArn": "the incident ARN",
    "arn": "the incident ARN",
    "eventTime": "the event time",
    "eventType": "the event type",
    "eventReferences": "the event references",
}
# Actions that send CreateTimelineEvent, whose outcome can be unknown.
_ADDING = {"add", "pin"}
_CONSTRAINT = re.compile(r"at '([\w.\[\]]+)' failed to satisfy constraint: ([^;]+)")


@dataclass(frozen=True)
class FailureContext:
    """What the person was doing when it failed."""

    action: str  # add | bind | unbind | status | announce | compose | capture | pin
    operation: str = "CreateTimelineEvent"
    incident_title: str | None = None
    region: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Explanation:
    text: str
    reference: str
    kind: str


def new_reference() -> str:
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _constraint_of(message: str) -> str:
    match = _CONSTRAINT.search(message)
    if match is None:
        return message[:300] or "the request was not valid"
    field = match.group(1).split(".")[0].split("[")[0]
    return f"{_FIELD_NAMES.get(field, field)} {match.group(2).strip().removeprefix('Member ')}"


def _aws_client_error(error: aws.ClientError, context: FailureContext) -> tuple[str, tuple[str, str]]:
    code = aws_error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return "throttled", messages.throttled()
    if code == "ResourceNotFoundException":
        if context.action in _ADDING:
            return "incident_not_found", messages.incident_missing_for_add(
                context.incident_title, context.region
            )
        return "incident_not_found", messages.incident_missing_for_bind(context.region)
    if code in ("AccessDeniedException", "AccessDenied"):
        return "access_denied", messages.access_denied(context.operation)
    if code == "ValidationException":
        return "validation", messages.request_rejected(_constraint_of(message))
    if code == "ConflictException":
        return "conflict", messages.conflict()
    if code in _BAD_CREDENTIAL_CODES:
        return "bad_credentials", messages.bad_credentials(expired="Expired" in code)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
    if status < 500:
        return "aws_refused", messages.aws_refused()
    return "aws_internal", messages.aws_internal_error()


def _slack_error(error: SlackApiError) -> tuple[str, tuple[str, str]]:
    code = slack_error_code(error)
    table: dict[str, Callable[[], tuple[str, str]]] = {
        "not_in_channel": messages.slack_not_in_channel,
        "channel_not_found": messages.slack_channel_not_found,
        "expired_trigger_id": messages.slack_trigger_expired,
        "invalid_trigger_id": messages.slack_trigger_expired,
        "ratelimited": messages.slack_rate_limited,
    }
    if code in table:
        return f"slack_{code}", table[code]()
    if code.startswith("http_5"):
        return "slack_unavailable", messages.slack_unavailable()
    return "slack_error", messages.slack_refused(code)


def classify(error: BaseException, context: FailureContext) -> tuple[str, str, bool]:
    """(kind, reply text without reference, whether the person's input caused it) for any failure."""
    expected = _expected(error, context)
    if expected is not None:
        return (*expected, True)
    kind, (what, todo) = _unexpected(error, context)
    # When the outcome is unknown, "nothing was added" would be a claim we cannot make.
    unknown = kind == "aws_outcome_unknown" or (isinstance(error, GaveUp) and error.uncertain)
    action = "" if unknown else context.action
    return kind, messages.failure(what, action, todo, context.text), False


def _expected(error: BaseException, context: FailureContext) -> tuple[str, str] | None:
    """Failures caused by what the person did or the channel's state, not by a fault: logged at info."""
    if isinstance(error, MalformedCommand):
        return "unknown_form", messages.malformed(error.problem, error.original)
    if isinstance(error, BindingChanged):
        return "binding_changed", messages.binding_changed(error.current_title, context.text)
    if isinstance(error, ChannelNotBound):
        return "not_bound", messages.not_bound_with_text(context.text)
    if isinstance(error, EntryEmpty):
        if context.action == "pin":
            return "empty", messages.message_empty()
        return "empty", messages.entry_empty(error.event_type)
    if isinstance(error, NoteTooLong):
        if context.action == "pin":
            return "too_long", messages.message_too_long(error.over_by)
        return "too_long", messages.entry_too_long(error.over_by, context.text)
    if isinstance(error, DraftMissing):
        return "draft_missing", messages.draft_missing()
    if isinstance(error, MessageNotFound):
        what, todo = messages.message_not_found()
        return "message_not_found", messages.failure(what, context.action, todo)
    if isinstance(error, InvalidIncidentArn):
        return "invalid_arn", messages.invalid_arn(error.reason)
    if isinstance(error, IncidentResolved):
        return "incident_resolved", messages.incident_resolved(error.title)
    if isinstance(error, BindNotAllowed):
        return "bind_not_allowed", messages.bind_not_allowed(error.allowed_users, error.allowed_usergroups)
    return None


def _unexpected(error: BaseException, context: FailureContext) -> tuple[str, tuple[str, str]]:
    if isinstance(error, BoundIncidentMissing):
        return "incident_not_found", messages.incident_missing_for_add(error.title, context.region)
    if isinstance(error, GaveUp):
        return "gave_up", messages.gave_up(_duration(error.waited), error.uncertain)
    if isinstance(error, OutcomeUnknown):
        return "aws_outcome_unknown", messages.aws_outcome_unknown()
    if isinstance(error, aws.ClientError):
        return _aws_client_error(error, context)
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError | aws.CredentialRetrievalError):
        return "no_credentials", messages.no_credentials()
    if isinstance(error, aws.NoRegionError):
        return "no_region", messages.no_region()
    if isinstance(error, aws.ConnectionError):
        # Refused before a connection existed (includes connect timeouts): the request never reached AWS.
        return "aws_unreachable", messages.aws_unreachable()
    if isinstance(error, aws.HTTPClientError):
        # Read timeouts, connections closed mid-request: the request may have reached AWS, so for an add
        # say only what is known; a lookup's outcome is known (nothing changed).
        if context.action not in _ADDING:
            return "aws_timeout", messages.aws_timed_out()
        return "aws_outcome_unknown", messages.aws_outcome_unknown()
    if isinstance(error, aws.ParamValidationError):
        return "invalid_parameters", messages.bot_bug()
    if isinstance(error, MessageUnreadable):
        return "message_unreadable", messages.message_unreadable(error.slack_error)
    if isinstance(error, BindPermissionUnknown):
        reason = _slack_error_reason(error.slack_error)
        return "bind_permission_unknown", messages.bind_permission_unknown(reason)
    if isinstance(error, SlackApiError):
        return _slack_error(error)
    if isinstance(error, SlackClientError | aiohttp.ClientError):
        return "slack_unreachable", messages.slack_unreachable()
    if isinstance(error, TimeoutError):
        return "timeout", messages.timed_out()
    return "internal", messages.internal_error()


def queued_reason(error: BaseException | None, waiting_for_turn: bool = False) -> str:
    """Why an entry is waiting, as a clause: "Incident Manager is throttling requests right now"."""
    if isinstance(error, aws.ClientError):
        if aws_error_code(error) in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
            return "Incident Manager is throttling requests right now"
        return "Incident Manager is having internal errors right now"
    if isinstance(error, aws.ConnectionError):
        return "Incident Manager can't be reached right now"
    if isinstance(error, OutcomeUnknown | aws.HTTPClientError):
        return "Incident Manager isn't answering right now"
    if waiting_for_turn:
        # The bot's own rate limit towards Incident Manager: a burst is being sent a few a second.
        return "many notes are on their way to Incident Manager right now, a few a second"
    return "Incident Manager is slow to answer right now"


def _duration(waited: timedelta) -> str:
    minutes = int(waited.total_seconds() // 60)
    if minutes < 120:
        return f"{max(minutes, 1)} minute{'s' if minutes != 1 else ''}"
    return f"{minutes // 60} hours"


def _slack_error_reason(code: str) -> str:
    if code == "ratelimited":
        return "Slack is rate-limiting the bot"
    if code == "unreachable" or code.startswith("http_5"):
        return "Slack could not be reached"
    return f"Slack answered '{code}'"


def explain(error: BaseException, context: FailureContext) -> Explanation:
    """Turn a failure into the reply for the person, and log it with a reference id."""
    reference = new_reference()
    try:
        kind, text, expected = classify(error, context)
    except Exception as mapping_error:
        logger.exception(
            "could not explain a failure", extra={"reference": reference}, exc_info=mapping_error
        )
        what, todo = messages.internal_error()
        kind, text, expected = "internal", messages.failure(what, "", todo, context.text), False
    log = logger.info if expected else logger.warning
    log(
        "request failed",
        extra={
            "reference": reference,
            "kind": kind,
            "action": context.action,
            "operation": context.operation,
            "error_type": type(error).__name__,
            "error": str(error)[:500],
        },
        exc_info=None if expected or isinstance(error, aws.ClientError | SlackApiError) else error,
    )
    return Explanation(text=messages.with_reference(text, reference), reference=reference, kind=kind)
