"""Every row of the mapping table, injected through the fakes: the reply says what happened and what to
do, carries a reference, never a traceback or an exception class name, and leaves the bot healthy."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest

from tests.support.aws_errors import (
    CREATE_TIMELINE_EVENT_OUTAGES,
    CREATE_TIMELINE_EVENT_REFUSALS,
    FIRST_TRY_ATTEMPTS,
    LANDED_LATER,
    QUEUED,
)
from tests.support.bot_server import free_port
from tests.support.harness import Harness

REFERENCE = re.compile(r"_Reference: [A-Z2-9]{8}_")
CLASS_NAMES = re.compile(r"Exception|Error\b|Traceback|botocore|ClientError")


def assert_friendly(reply: str) -> None:
    assert REFERENCE.search(reply), reply
    assert not CLASS_NAMES.search(reply.replace("ValidationException", "")), reply
    assert "Traceback" not in reply


@pytest.mark.parametrize(("error_code", "times", "expected"), CREATE_TIMELINE_EVENT_REFUSALS)
def test_create_timeline_event_errors(bot: Harness, error_code: str, times: int, expected: str) -> None:
    arn = bot.bound_incident()
    bot.aws.fail_next("CreateTimelineEvent", error_code, times=times)
    reply = bot.run("db is back")
    assert expected in reply
    assert "Nothing was added to the timeline." in reply
    assert "```db is back```" in reply  # nothing the person typed is lost
    assert_friendly(reply)
    assert bot.aws.events(arn) == []
    assert bot.healthz().status == 200


@pytest.mark.parametrize(("error_code", "expected"), CREATE_TIMELINE_EVENT_OUTAGES)
def test_an_outage_queues_the_note_then_it_lands_once(bot: Harness, error_code: str, expected: str) -> None:
    arn = bot.bound_incident()
    bot.aws.fail_next("CreateTimelineEvent", error_code, times=FIRST_TRY_ATTEMPTS)
    result = bot.command("db is back")
    queued, landed = bot.replies(result, count=2, timeout=20)
    assert QUEUED in queued and expected in queued and "Nothing was added" not in queued
    assert "> db is back" in queued  # what will land, so the person need not keep it
    assert LANDED_LATER in landed and "|Checkout DB down>" in landed and "> db is back" in landed
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event) == "db is back\n\n— alice, via Slack"
    calls = bot.aws.calls_to("CreateTimelineEvent")
    assert len(calls) == FIRST_TRY_ATTEMPTS + 1
    assert len({c.params["clientToken"] for c in calls}) == 1
    assert all(c.params == calls[0].params for c in calls)  # the same request every time, eventTime too


def test_throttling_that_clears_within_retries_still_lands(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=2)
    assert "Added a note" in bot.run("eventually")
    assert len(bot.aws.events(arn)) == 1
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 3


def test_validation_reply_names_the_limit(bot: Harness) -> None:
    bot.bound_incident()
    bot.aws.fail_next(
        "CreateTimelineEvent",
        "ValidationException",
        message="1 validation error detected: Value at 'eventData' failed to satisfy constraint: "
        "Member must have length less than or equal to 12000",
    )
    reply = bot.run("too big for AWS")
    assert "the text must have length less than or equal to 12000" in reply


def test_deleted_incident_suggests_binding_again(bot: Harness) -> None:
    arn = bot.bound_incident("Gone incident")
    bot.aws.delete_incident(arn)
    reply = bot.run("anyone there?")
    assert "*Gone incident* no longer exists in Incident Manager in eu-west-1" in reply
    assert "/incident-note bind &lt;incident-record-arn&gt;" in reply
    assert_friendly(reply)


@pytest.mark.parametrize(
    ("error_code", "times", "expected"),
    [
        ("ThrottlingException", 3, "Incident Manager is throttling requests right now"),
        ("AccessDeniedException", 1, "isn't allowed to call `ssm-incidents:GetIncidentRecord`"),
        ("ValidationException", 1, "Incident Manager rejected the request"),
        ("InternalServerException", 3, "Incident Manager had an internal error"),
    ],
)
def test_get_incident_record_errors_on_bind(bot: Harness, error_code: str, times: int, expected: str) -> None:
    arn = bot.new_incident()
    bot.aws.fail_next("GetIncidentRecord", error_code, times=times)
    reply = bot.bind(arn)
    assert expected in reply and "The channel was not bound." in reply
    assert_friendly(reply)
    assert "isn't bound" in bot.run("status")


def test_no_aws_credentials(make_bot: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    bot = make_bot()
    reply = bot.bind(bot.new_incident())
    assert "The bot has no AWS credentials." in reply
    assert_friendly(reply)
    assert bot.aws.calls == []


# No region at all stops start-up: test_process_e2e.py::test_no_region_stops_start_up_with_one_line_naming_aws_region


def test_aws_default_region_is_used_when_aws_region_is_unset(
    make_bot: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    bot = make_bot(AWS_REGION="")
    assert "now bound" in bot.bind(bot.new_incident())
    assert bot.aws.calls_to("GetIncidentRecord")[0].region == "ap-southeast-2"


def test_aws_region_wins_over_aws_default_region(
    make_bot: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    bot = make_bot(AWS_REGION="us-west-2")
    assert "now bound" in bot.bind(bot.new_incident())
    assert bot.aws.calls_to("GetIncidentRecord")[0].region == "us-west-2"


def test_endpoint_unreachable(make_bot: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM_INCIDENTS", f"http://127.0.0.1:{free_port()}")
    bot = make_bot()
    reply = bot.bind(bot.new_incident())
    assert "The bot couldn't reach Incident Manager." in reply
    assert_friendly(reply)


def test_a_timeout_queues_the_note_and_the_retry_finds_it_landed_once(
    make_bot: Callable[..., Harness],
) -> None:
    bot = make_bot(INCIDENT_MANAGER_READ_TIMEOUT="0.3")
    arn = bot.bound_incident()
    bot.aws.set_latency(1.0, operation="CreateTimelineEvent")
    result = bot.command("slow one")
    (queued,) = bot.replies(result, count=1, timeout=30)
    assert QUEUED in queued and "Incident Manager isn't answering right now" in queued
    # The fake finished the timed-out requests after the bot stopped waiting: the note is there already,
    # and a retry with the same token is answered with that event instead of making a second one.
    bot.aws.set_latency(0.0, operation="CreateTimelineEvent")
    queued, landed = bot.replies(result, count=2, timeout=30)
    assert LANDED_LATER in landed
    assert len(bot.aws.events(arn)) == 1
    assert len({c.params["clientToken"] for c in bot.aws.calls_to("CreateTimelineEvent")}) == 1


def test_service_down_then_back_queues_then_lands(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.aws.set_down(True)
    try:
        result = bot.command("while AWS is down")
        (queued,) = bot.replies(result, count=1, timeout=20)
    finally:
        bot.aws.set_down(False)
    # The fake resets the connection mid-request, as a dying endpoint does: queued, not refused.
    assert QUEUED in queued and "Nothing was added" not in queued
    assert bot.healthz().status == 200
    _, landed = bot.replies(result, count=2, timeout=20)
    assert LANDED_LATER in landed
    assert len(bot.aws.events(arn)) == 1


def test_generic_aws_endpoint_url_is_honoured(
    make_bot: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = os.environ["AWS_ENDPOINT_URL_SSM_INCIDENTS"]
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM_INCIDENTS")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    bot = make_bot()
    assert "now bound" in bot.bind(bot.new_incident())
    assert len(bot.aws.calls_to("GetIncidentRecord")) == 1
