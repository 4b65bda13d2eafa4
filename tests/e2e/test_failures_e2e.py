"""Every row of the mapping table, injected through the fakes: the reply says what happened and what to
do, carries a reference, never a traceback or an exception class name, and leaves the bot healthy."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import pytest

from tests.support.aws_errors import CREATE_TIMELINE_EVENT_REFUSALS
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


def test_no_region(make_bot: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    bot = make_bot(AWS_REGION="")
    reply = bot.bind(bot.new_incident())
    assert "The bot has no AWS region configured." in reply and "AWS_REGION" in reply
    assert_friendly(reply)
    assert bot.healthz().status == 200


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


def test_timeout_says_the_outcome_is_unknown(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(INCIDENT_MANAGER_READ_TIMEOUT="0.3")
    arn = bot.bound_incident()
    bot.aws.set_latency(1.0, operation="CreateTimelineEvent")
    reply = bot.reply(bot.command("slow one"), timeout=30)
    assert "didn't answer in time, so I can't tell whether it was added" in reply
    assert "Check the incident's timeline" in reply
    assert_friendly(reply)
    # botocore tried three times; wait for the fake to have seen them all so nothing leaks into the next test.
    deadline = time.monotonic() + 10
    while len(bot.aws.calls_to("CreateTimelineEvent")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 3
    # The fake finished the request after the bot stopped waiting: it may well be on the timeline, which
    # is why the reply does not say "nothing was added". Retries reuse the token, so never twice.
    assert len(bot.aws.events(arn)) == 1


def test_service_down_is_explained(bot: Harness) -> None:
    bot.bound_incident()
    bot.aws.set_down(True)
    try:
        reply = bot.run("while AWS is down")
    finally:
        bot.aws.set_down(False)
    # The fake resets the connection mid-request, as a dying endpoint does: the outcome is unknown.
    assert "can't tell whether it was added" in reply and "Nothing was added" not in reply
    assert_friendly(reply)
    assert bot.healthz().status == 200


def test_generic_aws_endpoint_url_is_honoured(
    make_bot: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = os.environ["AWS_ENDPOINT_URL_SSM_INCIDENTS"]
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM_INCIDENTS")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    bot = make_bot()
    assert "now bound" in bot.bind(bot.new_incident())
    assert len(bot.aws.calls_to("GetIncidentRecord")) == 1
