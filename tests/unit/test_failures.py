"""The mapping table: every failure, built as botocore, slack_sdk, aiohttp and the bot build it, becomes one
specific, friendly reply (what happened, what it means for the action, what to do) and one log record
under the same reference id."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import botocore.session
import pytest
from botocore import exceptions as aws
from botocore.errorfactory import ClientExceptionsFactory
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.slack_response import SlackResponse

from bot.domain.arn import parse_incident_record_arn
from bot.domain.timeline import EventType, encode_event_data
from bot.presentation.failures import Action, Explanation, FailureContext, classify, explain, new_reference
from bot.presentation.messages.common import escape
from bot.usecases.errors import (
    BindNotAllowed,
    BindPermissionUnknown,
    BoundIncidentMissing,
    ChannelNotBound,
    EntryEmpty,
    IncidentResolved,
)

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
REGION = "eu-west-1"
# What the person typed: a mention and a channel ping, which must never come back live.
USER_TEXT = "DB <@U1> failover done, <!channel> & <https://evil.example|click>"
TITLE = "DB down <!here>"

ADD = FailureContext(action=Action.ADD, region=REGION, incident_title=TITLE, text=USER_TEXT)
BIND = FailureContext(action=Action.BIND, operation="GetIncidentRecord", region=REGION)
COMPOSE = FailureContext(action=Action.COMPOSE, operation="views.open", region=REGION)

OUTCOME = {"add": "Nothing was added to the timeline.", "bind": "The channel was not bound."}
REFERENCE = re.compile(r"^[A-HJ-NP-Z2-9]{8}$")
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U1>", "<https://evil")

# botocore raises the modeled subclass (ThrottlingException, ...) for codes in the service model and a
# plain ClientError for the rest; build both exactly as the client's error factory does.
_MODEL = botocore.session.get_session().get_service_model("ssm-incidents")
_AWS_EXCEPTIONS = ClientExceptionsFactory().create_client_exceptions(_MODEL)


def aws_error(
    code: str, status: int, message: str, operation: str = "CreateTimelineEvent"
) -> aws.ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "RequestId": "5f0b6a7e-1111-2222-3333-444455556666",
            "HTTPStatusCode": status,
            "HTTPHeaders": {"x-amzn-errortype": f"{code}:http://internal.amazon.com/coral/"},
            "RetryAttempts": 2 if status in (429, 500) else 0,
        },
        "message": message,
    }
    error: aws.ClientError = _AWS_EXCEPTIONS.from_code(code)(response, operation)
    return error


def slack_error(code: str, status: int = 200, *, asynchronous: bool = False) -> SlackApiError:
    """The SlackApiError slack_sdk raises from SlackResponse.validate() for {"ok": false}."""
    kind = AsyncSlackResponse if asynchronous else SlackResponse
    headers = {"retry-after": "3"} if status == 429 else {}
    response = kind(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postEphemeral",
        req_args={},
        data={"ok": False, "error": code},
        headers=headers,
        status_code=status,
    )
    try:
        response.validate()  # type: ignore[no-untyped-call]
    except SlackApiError as error:
        return error
    raise AssertionError("SlackResponse.validate() accepted an error response")


def raised(action: Callable[[], object]) -> BaseException:
    """The exception the bot's own code raises, caught where it would be."""
    try:
        action()
    except Exception as error:
        return error
    raise AssertionError("expected an exception")


VALIDATION_TEXT = (
    "1 validation error detected: Value at 'eventData' failed to satisfy constraint: "
    "Member must have length less than or equal to 12000"
)
VALIDATION_ARN = (
    "1 validation error detected: Value 'arn:aws:ssm-incidents::111122223333:incident-record/p/x' at 'arn' "
    "failed to satisfy constraint: Member must have length less than or equal to 1000"
)


@dataclass(frozen=True)
class Row:
    id: str
    error: BaseException
    context: FailureContext
    kind: str
    says: tuple[str, ...]
    detail: str  # technical detail the log must carry
    expected: bool = False  # the person's own doing (or the channel's state): logged at INFO
    notes: dict[str, str] = field(default_factory=dict)


def _aws_rows(operation: str, context: FailureContext) -> list[Row]:
    prefix = f"{operation}-"
    add = context.action == "add"
    rows = [
        Row(
            prefix + "ThrottlingException",
            aws_error("ThrottlingException", 429, "Rate exceeded", operation),
            context,
            "throttled",
            (
                "Incident Manager is throttling requests right now and still refused after several tries.",
                "Try again in a minute.",
            ),
            "ThrottlingException",
        ),
        Row(
            prefix + "ResourceNotFoundException",
            aws_error("ResourceNotFoundException", 404, f"Incident record {ARN} not found", operation),
            context,
            "incident_not_found",
            (
                "*DB down &lt;!here&gt;* no longer exists in Incident Manager in eu-west-1 "
                "(it may have been deleted).",
                "Bind the channel to the current incident with `/incident-note bind &lt;incident-record-arn&gt;`.",
            )
            if add
            else (
                "Incident Manager has no incident record with that ARN in eu-west-1.",
                "Check the ARN, and that the bot runs in the incident's region.",
            ),
            "ResourceNotFoundException",
        ),
        Row(
            prefix + "AccessDeniedException",
            aws_error(
                "AccessDeniedException",
                403,
                "User: arn:aws:sts::1:assumed-role/bot is not authorized",
                operation,
            ),
            context,
            "access_denied",
            (
                f"The bot's AWS role isn't allowed to call `ssm-incidents:{operation}` on this incident.",
                "Ask your AWS administrator to grant it (README.md has the IAM policy the bot needs).",
            ),
            "assumed-role/bot is not authorized",
        ),
        Row(
            prefix + "ValidationException",
            aws_error("ValidationException", 400, VALIDATION_TEXT if add else VALIDATION_ARN, operation),
            context,
            "validation",
            (
                "Incident Manager rejected the request: the text must have length less than or equal to 12000.",
                "Change the text or the ARN accordingly and try again.",
            )
            if add
            else (
                "Incident Manager rejected the request: the incident ARN must have length less than or equal "
                "to 1000.",
            ),
            "failed to satisfy constraint",
        ),
        Row(
            prefix + "InternalServerException",
            aws_error("InternalServerException", 500, "Internal error", operation),
            context,
            "aws_internal",
            ("Incident Manager had an internal error.", "Try again in a minute."),
            "InternalServerException",
        ),
    ]
    if add:
        rows.append(
            Row(
                prefix + "ConflictException",
                aws_error("ConflictException", 409, "Idempotent parameter mismatch", operation),
                context,
                "conflict",
                (
                    "Incident Manager refused it as a repeat of an earlier request that had different details.",
                    "If you meant to add something new, send it again as a new command.",
                ),
                "ConflictException",
            )
        )
    return rows


ROWS: list[Row] = [
    *_aws_rows("CreateTimelineEvent", ADD),
    *_aws_rows("GetIncidentRecord", BIND),
    Row(
        "UnrecognizedClientException",
        aws_error(
            "UnrecognizedClientException", 400, "The security token included in the request is invalid."
        ),
        ADD,
        "bad_credentials",
        (
            "The bot's AWS credentials were not accepted.",
            "An operator needs to renew or fix the bot's AWS credentials.",
        ),
        "UnrecognizedClientException",
    ),
    Row(
        "ExpiredTokenException",
        aws_error("ExpiredTokenException", 400, "The security token included in the request is expired"),
        BIND,
        "bad_credentials",
        (
            "The bot's AWS credentials have expired.",
            "An operator needs to renew or fix the bot's AWS credentials.",
        ),
        "ExpiredTokenException",
    ),
    Row(
        "unmodeled-ServiceUnavailable",
        aws_error("ServiceUnavailableException", 503, "Service unavailable"),
        ADD,
        "aws_internal",
        ("Incident Manager had an internal error.",),
        "ServiceUnavailableException",
    ),
    Row(
        "unparsed-ValidationException",
        aws_error("ValidationException", 400, "Invalid <eventTime> format"),
        ADD,
        "validation",
        ("Incident Manager rejected the request: Invalid &lt;eventTime&gt; format.",),
        "Invalid <eventTime> format",
    ),
    Row(
        "NoCredentialsError",
        aws.NoCredentialsError(),
        ADD,
        "no_credentials",
        (
            "The bot has no AWS credentials.",
            "An operator needs to give it credentials (environment variables, a profile or a role).",
        ),
        "Unable to locate credentials",
    ),
    Row(
        "PartialCredentialsError",
        aws.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        BIND,
        "no_credentials",
        ("The bot has no AWS credentials.",),
        "AWS_SECRET_ACCESS_KEY",
    ),
    Row(
        "NoRegionError",
        aws.NoRegionError(),
        ADD,
        "no_region",
        (
            "The bot has no AWS region configured.",
            "An operator needs to set AWS_REGION to the region of your Incident Manager replication set.",
        ),
        "You must specify a region",
    ),
    Row(
        "EndpointConnectionError",
        aws.EndpointConnectionError(endpoint_url="http://x"),
        ADD,
        "aws_unreachable",
        ("The bot couldn't reach Incident Manager.", "Try again in a minute;"),
        "http://x",
    ),
    Row(
        "ConnectTimeoutError",
        aws.ConnectTimeoutError(endpoint_url="http://x"),
        BIND,
        "aws_unreachable",
        ("The bot couldn't reach Incident Manager.",),
        "Connect timeout",
    ),
    Row(
        "ReadTimeoutError",
        aws.ReadTimeoutError(endpoint_url="http://x"),
        ADD,
        "aws_outcome_unknown",
        (
            "Incident Manager didn't answer in time, so I can't tell whether it was added.",
            "Check the incident's timeline in the console before adding it again.",
        ),
        "Read timeout",
    ),
    Row(
        "ConnectionClosedError",
        aws.ConnectionClosedError(endpoint_url="http://x"),
        ADD,
        "aws_outcome_unknown",
        ("Incident Manager didn't answer in time, so I can't tell whether it was added.",),
        "Connection was closed",
    ),
    Row(
        "ReadTimeoutError-bind",
        aws.ReadTimeoutError(endpoint_url="http://x"),
        BIND,
        "aws_timeout",
        ("Incident Manager didn't answer in time.", "The channel was not bound.", "Try again in a minute."),
        "Read timeout",
    ),
    Row(
        "ParamValidationError",
        aws.ParamValidationError(
            report="Invalid length for parameter clientToken, value: 0, valid min length: 1"
        ),
        ADD,
        "invalid_parameters",
        (
            "The bot built a request that Incident Manager would reject; that is a bug in the bot.",
            "Please tell the bot's operators and give them the reference below.",
        ),
        "Invalid length for parameter clientToken",
    ),
    Row(
        "slack-not_in_channel",
        slack_error("not_in_channel"),
        ADD,
        "slack_not_in_channel",
        ("I'm not a member of this channel.", "Invite me with `/invite @Incident Timeline` and try again."),
        "not_in_channel",
    ),
    Row(
        "slack-channel_not_found",
        slack_error("channel_not_found", asynchronous=True),
        ADD,
        "slack_channel_not_found",
        ("I can't see this channel (private channels need an invitation).", "Invite me with `/invite"),
        "channel_not_found",
    ),
    Row(
        "slack-expired_trigger_id",
        slack_error("expired_trigger_id", asynchronous=True),
        COMPOSE,
        "slack_expired_trigger_id",
        ("Slack took too long to open the form.", "Please try again."),
        "expired_trigger_id",
    ),
    Row(
        "slack-ratelimited",
        slack_error("ratelimited", status=429),
        ADD,
        "slack_ratelimited",
        ("Slack is rate-limiting the bot right now.", "Try again in a few seconds."),
        "ratelimited",
    ),
    Row(
        "slack-unknown-code",
        slack_error("team_access_not_granted"),
        ADD,
        "slack_error",
        (
            "Slack refused the bot's request (team_access_not_granted).",
            "Try again; if it keeps failing, tell the bot's operators.",
        ),
        "team_access_not_granted",
    ),
    Row(
        "SlackClientError",
        SlackClientError("Failed to send a request to Slack API server: Server disconnected"),
        ADD,
        "slack_unreachable",
        ("The bot couldn't reach Slack.", "Try again in a minute."),
        "Server disconnected",
    ),
    Row(
        "SlackRequestError",
        SlackRequestError("Invalid URL detected: ftp://slack.example"),
        BIND,
        "slack_unreachable",
        ("The bot couldn't reach Slack.",),
        "Invalid URL detected",
    ),
    Row(
        "aiohttp-ClientConnectionError",
        aiohttp.ClientConnectionError("Cannot connect to host slack.com:443"),
        ADD,
        "slack_unreachable",
        ("The bot couldn't reach Slack.", "Try again in a minute."),
        "Cannot connect to host slack.com:443",
    ),
    Row(
        "ChannelNotBound",
        ChannelNotBound(),
        ADD,
        "not_bound",
        (
            "This channel isn't bound to an incident yet, so nothing was added.",
            "Bind it with `/incident-note bind &lt;incident-record-arn&gt;`",
        ),
        "",
        expected=True,
    ),
    Row(
        "EntryEmpty",
        EntryEmpty(EventType.CUSTOM_EVENT),
        FailureContext(action=Action.ADD, region=REGION, text="   "),
        "empty",
        (
            "There is nothing to add: the custom event is empty.",
            "Type the text after the command, for example `/incident-note event DB failover finished`.",
        ),
        "empty custom event",
        expected=True,
    ),
    Row(
        "NoteTooLong",
        raised(lambda: encode_event_data("a" * 12_340)),
        ADD,
        "too_long",
        (
            "Nothing was added: Incident Manager takes at most 12,000 characters per timeline event",
            "this one is 342 over. Shorten it by at least 342 characters, or split it into several notes.",
        ),
        "encoded eventData is 12342 characters",
        expected=True,
    ),
    Row(
        "InvalidIncidentArn",
        raised(lambda: parse_incident_record_arn("arn:aws:ssm-incidents::111122223333:<!channel>/x")),
        BIND,
        "invalid_arn",
        (
            "That isn't an incident record ARN: it is the ARN of a &lt;!channel&gt;, not of an incident "
            "record (open the incident in the console and copy its ARN). Nothing was changed.",
        ),
        "not of an incident record",
        expected=True,
    ),
    Row(
        "IncidentResolved",
        IncidentResolved(TITLE, ARN),
        BIND,
        "incident_resolved",
        (
            "*DB down &lt;!here&gt;* is already resolved, so this channel was not bound to it.",
            "Bind the channel to an open incident instead.",
        ),
        ARN,
        expected=True,
    ),
    Row(
        "BindNotAllowed",
        BindNotAllowed(frozenset({"U0002", "U0001"}), frozenset({"S0001"})),
        BIND,
        "bind_not_allowed",
        (
            "You aren't allowed to bind or unbind this channel, so nothing was changed.",
            "Ask one of these: <@U0001>, <@U0002>, <!subteam^S0001>.",
            "Notes, `status` and `help` are open to everyone.",
        ),
        "user may not bind",
        expected=True,
    ),
    Row(
        "BindPermissionUnknown",
        BindPermissionUnknown("ratelimited"),
        BIND,
        "bind_permission_unknown",
        (
            "Binding is limited to certain user groups, and I couldn't check yours because Slack is "
            "rate-limiting the bot.",
            "Try again in a minute.",
        ),
        "usergroups.users.list failed: ratelimited",
    ),
    Row(
        "BindPermissionUnknown-code",
        BindPermissionUnknown("missing_scope"),
        BIND,
        "bind_permission_unknown",
        ("I couldn't check yours because Slack answered 'missing_scope'.",),
        "missing_scope",
    ),
    Row(
        "BoundIncidentMissing",
        BoundIncidentMissing(TITLE, ARN),
        ADD,
        "incident_not_found",
        (
            "*DB down &lt;!here&gt;* no longer exists in Incident Manager in eu-west-1 (it may have been deleted).",
        ),
        ARN,
    ),
    Row(
        "RuntimeError",
        RuntimeError("boom"),
        ADD,
        "internal",
        (
            "Something went wrong inside the bot.",
            "Try again; if it keeps happening, give the reference below to the bot's operators.",
        ),
        "boom",
    ),
]


def params(check: str = "") -> list[Any]:
    """The rows as pytest params; rows whose `check` is known to fail carry a strict xfail."""
    return [
        pytest.param(
            row,
            id=row.id,
            marks=[pytest.mark.xfail(strict=True, reason=row.notes[check])] if check in row.notes else [],
        )
        for row in ROWS
    ]


def explained(row: Row) -> Explanation:
    return explain(row.error, row.context)


def class_names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__ if cls is not object}


def test_row_ids_are_unique() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("operation", ["CreateTimelineEvent", "GetIncidentRecord"])
def test_every_modeled_error_of_the_operation_has_a_row(operation: str) -> None:
    modeled = {shape.name for shape in _MODEL.operation_model(operation).error_shapes}
    covered = {row.id.removeprefix(f"{operation}-") for row in ROWS if row.id.startswith(f"{operation}-")}
    assert covered == modeled


def test_modeled_errors_are_raised_as_botocores_generated_subclasses() -> None:
    throttled = aws_error("ThrottlingException", 429, "Rate exceeded")
    assert type(throttled).__name__ == "ThrottlingException"
    assert isinstance(throttled, aws.ClientError)
    assert type(aws_error("ExpiredTokenException", 400, "expired")) is aws.ClientError


@pytest.mark.parametrize("row", params())
def test_reply_says_what_happened_and_what_to_do(row: Row) -> None:
    explanation = explained(row)
    assert explanation.kind == row.kind
    for sentence in row.says:
        assert sentence in explanation.text


@pytest.mark.parametrize("row", params())
def test_every_failure_reply_shows_its_reference(row: Row) -> None:
    # The issue asks for a reference on every mapped failure, the person's own mistakes included
    # (no binding, unknown command words), so a support question can always be traced to its log line.
    explanation = explained(row)
    assert REFERENCE.match(explanation.reference)
    assert explanation.text.endswith(f"\n_Reference: {explanation.reference}_")
    assert explanation.text.count("_Reference:") == 1


@pytest.mark.parametrize("row", params("no_class_names"))
def test_reply_names_no_exception_and_shows_no_traceback(row: Row) -> None:
    text = explained(row).text
    for forbidden in ("Traceback", 'File "', "Exception", "Error(", "botocore", "slack_sdk", "aiohttp"):
        assert forbidden not in text
    for name in class_names(row.error):
        assert name not in text


@pytest.mark.parametrize("row", params("outcome"))
def test_reply_says_what_it_means_for_the_action(row: Row) -> None:
    text = explained(row).text
    if row.kind == "aws_outcome_unknown":
        # The request may have reached AWS: the reply must not claim either outcome.
        assert "Nothing was added" not in text
        assert "can't tell whether it was added" in text
    elif row.kind == "aws_timeout":
        # A read-only lookup that timed out: its outcome is known, and nothing was "added".
        assert "added" not in text.lower()
        assert OUTCOME[row.context.action] in text
    elif not row.expected and row.context.action in OUTCOME:
        assert OUTCOME[row.context.action] in text
    elif row.context.action == "compose":
        assert not any(outcome in text for outcome in OUTCOME.values())


@pytest.mark.parametrize("row", params())
def test_typed_text_is_given_back_escaped_in_a_code_block(row: Row) -> None:
    text = explained(row).text
    if row.context.action == "add" and row.context.text.strip():
        assert f"Here is your text so you can send it again:\n```{escape(USER_TEXT)}```" in text
        assert (
            "DB &lt;@U1&gt; failover done, &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text
        )
    else:
        assert "Here is your text" not in text


@pytest.mark.parametrize("row", params())
def test_reply_can_never_ping_or_link_from_user_or_incident_text(row: Row) -> None:
    text = explained(row).text
    for ping in PINGS:
        assert ping not in text
    # The only live mentions a reply may hold are the allow-list of who may bind.
    for mention in re.findall(r"<[!@][^>]*>", text):
        assert re.fullmatch(r"<@U\d+>|<!subteam\^S\d+>", mention)


@pytest.mark.parametrize("row", params())
def test_a_log_record_carries_the_reference_and_the_technical_detail(
    row: Row, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.failures")
    explanation = explained(row)
    records = [record for record in caplog.records if record.name == "bot.failures"]
    assert len(records) == 1
    record = records[0]
    fields = vars(record)
    assert fields["reference"] == explanation.reference
    assert fields["kind"] == row.kind
    assert fields["action"] == row.context.action
    assert fields["error_type"] == type(row.error).__name__
    assert row.detail in fields["error"]
    assert record.levelno == (logging.INFO if row.expected else logging.WARNING)
    wants_traceback = not row.expected and not isinstance(row.error, aws.ClientError | SlackApiError)
    if wants_traceback:
        assert record.exc_info is not None and record.exc_info[1] is row.error
    else:
        assert not record.exc_info
    # The person's words stay out of the log.
    assert "failover done" not in record.getMessage() + fields["error"]


def test_classify_matches_explain_without_the_reference() -> None:
    for row in ROWS:
        kind, text, expected = classify(row.error, row.context)
        explanation = explained(row)
        assert kind == explanation.kind
        assert expected == row.expected
        assert explanation.text.startswith(text)


def test_each_failure_gets_its_own_reference() -> None:
    error = RuntimeError("boom")
    references = {explain(error, ADD).reference for _ in range(50)}
    assert len(references) == 50
    assert all(REFERENCE.match(reference) for reference in references)
    # No 0/O or 1/I to misread from a screenshot.
    assert not set("".join(new_reference() for _ in range(200))) & set("01IO")


def test_triple_backticks_in_typed_text_cannot_close_the_code_block() -> None:
    context = FailureContext(action=Action.ADD, region=REGION, text="before ``` *after* <!channel>")
    text = explain(RuntimeError("boom"), context).text
    assert "```before ''' *after* &lt;!channel&gt;```" in text
    assert text.count("```") == 2


def test_other_actions_state_their_own_outcome() -> None:
    unbind = explain(RuntimeError("boom"), FailureContext(action=Action.UNBIND)).text
    assert "Nothing was changed." in unbind
    status = explain(
        RuntimeError("boom"), FailureContext(action=Action.STATUS, operation="GetIncidentRecord")
    ).text
    assert status.startswith("Something went wrong inside the bot. Try again;")


def test_the_mapping_layer_never_fails_a_reply() -> None:
    weird = aws_error("ThrottlingException", 429, "x")
    weird.response = None  # a malformed error object from a library
    for error in (weird, SlackApiError("x", None)):  # type: ignore[no-untyped-call]
        explanation = explain(error, ADD)
        assert explanation.text.endswith(f"_Reference: {explanation.reference}_")
        assert "Traceback" not in explanation.text
        assert explanation.kind in ("internal", "slack_error")
