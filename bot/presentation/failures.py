"""The mapping layer: any failure -> a friendly, specific reply with a reference id, and a log line.

Replies never contain a traceback or an exception class name; the log carries the technical detail under
the same reference id, so an operator can find it from a screenshot of the reply. The wording is in
`bot.presentation.messages.problems`; this module only chooses.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

import aiohttp
from botocore import exceptions as aws
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.aws.incidents import THROTTLING_CODES, aws_error_code, aws_status
from bot.domain.arn import InvalidIncidentArn
from bot.domain.timeline import NoteTooLong
from bot.presentation.messages import problems as say
from bot.presentation.messages.common import with_reference
from bot.presentation.messages.help import malformed_problem
from bot.presentation.messages.problems import Action, Failure, outcome_of
from bot.slack.errors import slack_error_code
from bot.usecases.errors import (
    BindingChanged,
    BindNotAllowed,
    BindPermissionUnknown,
    BoundIncidentMissing,
    ChannelNotBound,
    DraftMissing,
    EntryEmpty,
    GaveUp,
    IncidentManagerError,
    IncidentNotOpen,
    IncidentResolved,
    MalformedCommand,
    MessageNotFound,
    MessageUnreadable,
    OutcomeUnknown,
)

__all__ = ["Action", "Explanation", "FailureContext", "classify", "explain", "new_reference"]

# Named for what it logs (operators filter on it), not for where the module sits.
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
# Actions that send CreateTimelineEvent, whose outcome can be unknown.
_ADDING = {Action.ADD, Action.PIN}
# Actions that change an entry already on the timeline (UpdateTimelineEvent, DeleteTimelineEvent).
_CHANGING = {Action.UNDO, Action.UNPIN, Action.EDIT, Action.DELETE}
_CONSTRAINT = re.compile(r"at '([\w.\[\]]+)' failed to satisfy constraint: ([^;]+)")


class FailureKind(StrEnum):
    """What kind of failure it was: the log's and the metrics' name for it."""

    UNKNOWN_FORM = "unknown_form"
    BINDING_CHANGED = "binding_changed"
    NOT_BOUND = "not_bound"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    DRAFT_MISSING = "draft_missing"
    MESSAGE_NOT_FOUND = "message_not_found"
    INVALID_ARN = "invalid_arn"
    INCIDENT_RESOLVED = "incident_resolved"
    INCIDENT_NOT_OPEN = "incident_not_open"
    BIND_NOT_ALLOWED = "bind_not_allowed"
    INCIDENT_NOT_FOUND = "incident_not_found"
    EVENT_NOT_FOUND = "event_not_found"
    GAVE_UP = "gave_up"
    AWS_OUTCOME_UNKNOWN = "aws_outcome_unknown"
    THROTTLED = "throttled"
    ACCESS_DENIED = "access_denied"
    VALIDATION = "validation"
    CONFLICT = "conflict"
    BAD_CREDENTIALS = "bad_credentials"
    AWS_REFUSED = "aws_refused"
    AWS_INTERNAL = "aws_internal"
    NO_CREDENTIALS = "no_credentials"
    NO_REGION = "no_region"
    AWS_UNREACHABLE = "aws_unreachable"
    AWS_TIMEOUT = "aws_timeout"
    INVALID_PARAMETERS = "invalid_parameters"
    MESSAGE_UNREADABLE = "message_unreadable"
    BIND_PERMISSION_UNKNOWN = "bind_permission_unknown"
    SLACK_NOT_IN_CHANNEL = "slack_not_in_channel"
    SLACK_CHANNEL_NOT_FOUND = "slack_channel_not_found"
    SLACK_EXPIRED_TRIGGER = "slack_expired_trigger_id"
    SLACK_INVALID_TRIGGER = "slack_invalid_trigger_id"
    SLACK_RATELIMITED = "slack_ratelimited"
    SLACK_UNAVAILABLE = "slack_unavailable"
    SLACK_ERROR = "slack_error"
    SLACK_UNREACHABLE = "slack_unreachable"
    TIMEOUT = "timeout"
    INTERNAL = "internal"


@dataclass(frozen=True)
class FailureContext:
    """What the person was doing when it failed."""

    action: Action
    operation: str = "CreateTimelineEvent"
    incident_title: str | None = None
    region: str | None = None
    text: str = ""

    def __post_init__(self) -> None:
        # A closed set: an action the replies don't know is a bug, not a silent empty outcome.
        object.__setattr__(self, "action", Action(self.action))


@dataclass(frozen=True)
class Explanation:
    text: str
    reference: str
    kind: str


FailureObserver = Callable[[str], None]
# Told the kind of every failure explained (the metrics count them), whatever LOG_LEVEL prints.
_observers: list[FailureObserver] = []


def observe_failures(observer: FailureObserver) -> Callable[[], None]:
    """Have `observer` told the kind of every failure explained from now on; returns the undo."""
    _observers.append(observer)
    return lambda: _observers.remove(observer)


def new_reference() -> str:
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _rejected(message: str) -> Failure:
    match = _CONSTRAINT.search(message)
    if match is None:
        return say.request_rejected("", message[:300] or "the request was not valid")
    field = match.group(1).split(".")[0].split("[")[0]
    return say.request_rejected(field, match.group(2).strip().removeprefix("Member "))


def _by_code(code: str, status: int, message: str, context: FailureContext) -> tuple[FailureKind, Failure]:
    """Incident Manager's error code (and HTTP status) -> what to say."""
    if code in THROTTLING_CODES:
        return FailureKind.THROTTLED, say.throttled()
    if code == "ResourceNotFoundException":
        if context.action in _CHANGING:
            return FailureKind.EVENT_NOT_FOUND, say.event_missing(context.incident_title)
        if context.action in _ADDING:
            return FailureKind.INCIDENT_NOT_FOUND, say.incident_missing_for_add(
                context.incident_title, context.region
            )
        return FailureKind.INCIDENT_NOT_FOUND, say.incident_missing_for_bind(context.region)
    if code in ("AccessDeniedException", "AccessDenied"):
        return FailureKind.ACCESS_DENIED, say.access_denied(context.operation)
    if code == "ValidationException":
        return FailureKind.VALIDATION, _rejected(message)
    if code == "ConflictException":
        return FailureKind.CONFLICT, say.conflict()
    if code in _BAD_CREDENTIAL_CODES:
        return FailureKind.BAD_CREDENTIALS, say.bad_credentials(expired="Expired" in code)
    if (status or 500) < 500:
        return FailureKind.AWS_REFUSED, say.aws_refused()
    return FailureKind.AWS_INTERNAL, say.aws_internal_error()


def _slack_error(error: SlackApiError) -> tuple[FailureKind, Failure]:
    code = slack_error_code(error)
    table: dict[str, tuple[FailureKind, Callable[[], Failure]]] = {
        "not_in_channel": (FailureKind.SLACK_NOT_IN_CHANNEL, say.slack_not_in_channel),
        "channel_not_found": (FailureKind.SLACK_CHANNEL_NOT_FOUND, say.slack_channel_not_found),
        "expired_trigger_id": (FailureKind.SLACK_EXPIRED_TRIGGER, say.slack_trigger_expired),
        "invalid_trigger_id": (FailureKind.SLACK_INVALID_TRIGGER, say.slack_trigger_expired),
        "ratelimited": (FailureKind.SLACK_RATELIMITED, say.slack_rate_limited),
    }
    if code in table:
        kind, failure = table[code]
        return kind, failure()
    if code.startswith("http_5"):
        return FailureKind.SLACK_UNAVAILABLE, say.slack_unavailable()
    return FailureKind.SLACK_ERROR, say.slack_refused(code)


def sdk_error(error: BaseException) -> BaseException:
    """The SDK's own exception behind the gateway's typed one, which says the most about what happened."""
    if isinstance(error, IncidentManagerError) and not isinstance(error, OutcomeUnknown):
        cause = error.__cause__
        if isinstance(cause, aws.BotoCoreError | aws.ClientError):
            return error.__cause__ or error
    return error


def classify(error: BaseException, context: FailureContext) -> tuple[str, str, bool]:
    """(kind, reply text without reference, whether the person's input caused it) for any failure."""
    expected = _expected(error, context)
    if expected is not None:
        kind, failure, outcome, given_back = expected
        return kind, failure.render(outcome, given_back), True
    kind, failure = _unexpected(sdk_error(error), context)
    # When the outcome is unknown, "nothing was added" would be a claim we cannot make.
    unknown = kind is FailureKind.AWS_OUTCOME_UNKNOWN or (isinstance(error, GaveUp) and error.uncertain)
    return kind, failure.render("" if unknown else outcome_of(context.action), context.text), False


def _expected(error: BaseException, context: FailureContext) -> tuple[FailureKind, Failure, str, str] | None:
    """Failures caused by what the person did or the channel's state, not by a fault: logged at info.
    (kind, what to say, the outcome sentence, the text given back)."""
    pin = context.action is Action.PIN
    if isinstance(error, MalformedCommand):
        problem = malformed_problem(error.reason, error.keyword)
        return FailureKind.UNKNOWN_FORM, say.malformed(problem), "", error.original
    if isinstance(error, BindingChanged):
        return FailureKind.BINDING_CHANGED, say.binding_changed(error.current_title), "", context.text
    if isinstance(error, ChannelNotBound):
        return FailureKind.NOT_BOUND, say.channel_not_bound(), "", context.text
    if isinstance(error, EntryEmpty):
        return FailureKind.EMPTY, say.message_empty() if pin else say.entry_empty(error.event_type), "", ""
    if isinstance(error, NoteTooLong):
        if pin:
            return FailureKind.TOO_LONG, say.message_too_long(error.over_by), "", ""
        return FailureKind.TOO_LONG, say.entry_too_long(error.over_by), "", context.text
    if isinstance(error, DraftMissing):
        return FailureKind.DRAFT_MISSING, say.draft_missing(), "", ""
    if isinstance(error, MessageNotFound):
        return FailureKind.MESSAGE_NOT_FOUND, say.message_not_found(), outcome_of(context.action), ""
    if isinstance(error, InvalidIncidentArn):
        return FailureKind.INVALID_ARN, say.invalid_arn(error.reason), "", ""
    if isinstance(error, IncidentNotOpen):
        return FailureKind.INCIDENT_NOT_OPEN, say.incident_not_open(error.reference, context.region), "", ""
    if isinstance(error, IncidentResolved):
        return FailureKind.INCIDENT_RESOLVED, say.incident_resolved(error.title), "", ""
    if isinstance(error, BindNotAllowed):
        failure = say.bind_not_allowed(error.allowed_users, error.allowed_usergroups)
        return FailureKind.BIND_NOT_ALLOWED, failure, "", ""
    return None


def _unexpected(error: BaseException, context: FailureContext) -> tuple[FailureKind, Failure]:
    if isinstance(error, BoundIncidentMissing):
        return FailureKind.INCIDENT_NOT_FOUND, say.incident_missing_for_add(error.title, context.region)
    if isinstance(error, GaveUp):
        return FailureKind.GAVE_UP, say.gave_up(error.waited, error.uncertain)
    if isinstance(error, OutcomeUnknown):
        return FailureKind.AWS_OUTCOME_UNKNOWN, say.aws_outcome_unknown()
    if isinstance(error, aws.ClientError):
        message = str(error.response.get("Error", {}).get("Message", ""))
        # The operation AWS refused, which may not be the one the action is named for (a bind lists,
        # reads and updates related items): "not allowed to call X" must name the X it was.
        refused = str(getattr(error, "operation_name", "") or "") or context.operation
        return _by_code(
            aws_error_code(error), aws_status(error), message, replace(context, operation=refused)
        )
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError | aws.CredentialRetrievalError):
        return FailureKind.NO_CREDENTIALS, say.no_credentials()
    if isinstance(error, aws.NoRegionError):
        return FailureKind.NO_REGION, say.no_region()
    if isinstance(error, aws.ConnectionError):
        # Refused before a connection existed (includes connect timeouts): the request never reached AWS.
        return FailureKind.AWS_UNREACHABLE, say.aws_unreachable()
    if isinstance(error, aws.HTTPClientError):
        # Read timeouts, connections closed mid-request: the request may have reached AWS, so for an add
        # say only what is known; a lookup's outcome is known (nothing changed).
        if context.action not in _ADDING:
            return FailureKind.AWS_TIMEOUT, say.aws_timed_out()
        return FailureKind.AWS_OUTCOME_UNKNOWN, say.aws_outcome_unknown()
    if isinstance(error, aws.ParamValidationError):
        return FailureKind.INVALID_PARAMETERS, say.bot_bug()
    if isinstance(error, IncidentManagerError):
        # Typed without the SDK's own exception behind it: its code and flags say what is known.
        if error.code:
            return _by_code(error.code, error.status, str(error), context)
        if error.may_have_landed and context.action in _ADDING:
            return FailureKind.AWS_OUTCOME_UNKNOWN, say.aws_outcome_unknown()
        if error.retryable:
            return FailureKind.AWS_UNREACHABLE, say.aws_unreachable()
        return FailureKind.AWS_REFUSED, say.aws_refused()
    if isinstance(error, MessageUnreadable):
        return FailureKind.MESSAGE_UNREADABLE, say.message_unreadable(error.slack_error)
    if isinstance(error, BindPermissionUnknown):
        return FailureKind.BIND_PERMISSION_UNKNOWN, say.bind_permission_unknown(error.slack_error)
    if isinstance(error, SlackApiError):
        return _slack_error(error)
    if isinstance(error, SlackClientError | aiohttp.ClientError):
        return FailureKind.SLACK_UNREACHABLE, say.slack_unreachable()
    if isinstance(error, TimeoutError):
        return FailureKind.TIMEOUT, say.timed_out()
    return FailureKind.INTERNAL, say.internal_error()


def explain(error: BaseException, context: FailureContext) -> Explanation:
    """Turn a failure into the reply for the person, and log it with a reference id."""
    reference = new_reference()
    try:
        kind, text, expected = classify(error, context)
    except Exception as mapping_error:
        logger.exception(
            "could not explain a failure", extra={"reference": reference}, exc_info=mapping_error
        )
        kind, text, expected = FailureKind.INTERNAL, say.internal_error().render(text=context.text), False
    log = logger.info if expected else logger.warning
    cause = sdk_error(error)
    log(
        "request failed",
        extra={
            "reference": reference,
            "kind": str(kind),
            "action": str(context.action),
            "operation": context.operation,
            "error_type": type(cause).__name__,
            "error": str(error)[:500],
        },
        exc_info=None if expected or isinstance(cause, aws.ClientError | SlackApiError) else error,
    )
    for observer in list(_observers):
        observer(str(kind))
    return Explanation(text=with_reference(text, reference), reference=reference, kind=str(kind))
