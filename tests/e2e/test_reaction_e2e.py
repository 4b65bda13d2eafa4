"""Pinning a message with TIMELINE_REACTION, end to end: signed reaction_added events -> the message read
back from the fake Slack -> one Note in the fake Incident Manager -> the mark on the message."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.timeline import from_slack_ts
from tests.support.aws_errors import (
    CREATE_TIMELINE_EVENT_OUTAGES,
    CREATE_TIMELINE_EVENT_REFUSALS,
    FIRST_TRY_ATTEMPTS,
    QUEUED,
)
from tests.support.harness import Harness

CHANNEL = "C0001"


def marks(bot: Harness, ts: str) -> set[str]:
    message = next(m for m in bot.slack.messages(CHANNEL) if m["ts"] == ts)
    return {r["name"] for r in message.get("reactions", [])}


def wait_marked(bot: Harness, count: int = 1) -> None:
    bot.slack.wait_for_calls("reactions.add", count, timeout=10)


def ephemerals_to(bot: Harness, user: str, count: int = 1) -> list[str]:
    calls = bot.slack.wait_for_calls("chat.postEphemeral", count, timeout=10)
    return [str(c.params["text"]) for c in calls if c.params.get("user") == user]


def settle() -> None:
    """Long enough for an ignored event's handler to have done anything it was going to do."""
    time.sleep(0.5)


def test_pin_adds_a_note_at_the_message_time_and_marks_it(bot: Harness) -> None:
    arn = bot.bound_incident("Checkout DB down")
    ts = bot.slack.add_message(
        CHANNEL, {"user": "U0003", "ts": "1764150000.654321", "text": "failover to <@U0002>'s replica done"}
    )
    assert bot.react(ts, user_id="U0001").status == 200
    wait_marked(bot)
    (event,) = bot.aws.events(arn)
    assert event["eventType"] == "Note"
    assert event["eventReferences"] == [{"resource": arn}]
    assert event["eventTime"] == datetime(2025, 11, 26, 9, 40, 0, 654000, tzinfo=UTC)
    assert bot.event_text(event) == (
        "failover to @bob's replica done\n\n"
        "— Carol Danvers, via Slack (added by alice)\n"
        "https://fake.slack.com/archives/C0001/p1764150000654321"
    )
    assert marks(bot, ts) == {"white_check_mark"}
    assert bot.slack.calls_to("chat.postEphemeral") == []


def test_pin_on_a_thread_reply_reads_the_thread(bot: Harness) -> None:
    arn = bot.bound_incident()
    parent = bot.slack.add_message(CHANNEL, {"user": "U0001", "text": "status?"})
    reply = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica promoted", "thread_ts": parent})
    bot.react(reply, user_id="U0001")
    wait_marked(bot)
    assert bot.slack.calls_to("conversations.replies")
    (event,) = bot.aws.events(arn)
    text = bot.event_text(event)
    assert text.startswith("replica promoted\n\n— bob, via Slack (added by alice)\n")
    assert f"thread_ts={parent}" in text
    assert abs(event["eventTime"] - from_slack_ts(reply)) <= timedelta(microseconds=500)
    assert marks(bot, reply) == {"white_check_mark"}


def test_pin_captures_the_edited_text(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(
        CHANNEL, {"user": "U0002", "text": "ETA 20 minutes", "edited": {"user": "U0002", "ts": "1.0"}}
    )
    bot.react(ts)
    wait_marked(bot)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("ETA 20 minutes\n\n— bob, via Slack\n")


def test_two_people_pinning_one_message_make_one_event(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.react(ts, user_id="U0001")
    wait_marked(bot)
    bot.react(ts, user_id="U0003")
    wait_marked(bot, 2)
    (event,) = bot.aws.events(arn)
    # The first pin's entry stands: one token, one set of parameters.
    assert "(added by alice)" in bot.event_text(event)
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 1


def test_slack_retrying_the_delivery_makes_one_event(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    # A slow first answer makes Slack retry: same event_id, X-Slack-Retry-Num 1 and 2.
    bot.aws.set_latency(1.0, "CreateTimelineEvent")
    for retry_num in (None, 1, 2):
        assert bot.react(ts, event_id="Ev0RETRY", retry_num=retry_num).status == 200
    wait_marked(bot, 1)
    settle()
    assert len(bot.aws.events(arn)) == 1
    # The re-deliveries were recognised by their event_id and dropped: no second read of the message.
    assert len(bot.slack.calls_to("conversations.history")) == 1
    # The retries waited for the first delivery's answer instead of sending the token again.
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 1


def test_concurrent_pins_make_one_event(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.aws.set_latency(0.5, "CreateTimelineEvent")
    for user in ("U0001", "U0003", "U0001"):
        bot.react(ts, user_id=user)
    wait_marked(bot, 3)
    assert len(bot.aws.events(arn)) == 1
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 1


def test_pin_after_a_rebind_goes_to_the_new_incident(bot: Harness) -> None:
    first = bot.bound_incident("First")
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.react(ts, user_id="U0001")
    wait_marked(bot)
    second = bot.bound_incident("Second")
    bot.react(ts, user_id="U0003")
    for _ in range(100):
        if bot.aws.events(second):
            break
        time.sleep(0.05)
    assert len(bot.aws.events(first)) == 1
    (event,) = bot.aws.events(second)
    assert "(added by Carol Danvers)" in bot.event_text(event)


def test_without_the_mark_the_person_who_pinned_is_told(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(TIMELINE_ADDED_REACTION="none")
    bot.bound_incident("Checkout DB down")
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.react(ts, user_id="U0003")
    (reply,) = ephemerals_to(bot, "U0003")
    assert "Added a note to" in reply and "Checkout DB down" in reply
    assert bot.slack.calls_to("reactions.add") == []
    # Someone else pinning it later is told it is already there (no mark would show them).
    bot.react(ts, user_id="U0001")
    (again,) = ephemerals_to(bot, "U0001", count=2)
    assert "Already on the timeline of" in again and "Checkout DB down" in again


def test_when_the_mark_fails_the_person_who_pinned_is_told(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.slack.fail_next("reactions.add", "missing_scope")
    bot.react(ts, user_id="U0003")
    (reply,) = ephemerals_to(bot, "U0003")
    assert "Added a note to" in reply
    assert len(bot.aws.events(arn)) == 1


def test_a_skin_tone_variant_of_the_emoji_pins_too(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(TIMELINE_REACTION="+1")
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.react(ts, reaction="+1::skin-tone-3")
    wait_marked(bot)
    assert len(bot.aws.events(arn)) == 1


def test_other_emoji_are_ignored_without_a_call(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.react(ts, reaction="eyes")
    settle()
    assert bot.aws.calls_to("CreateTimelineEvent") == []
    assert bot.slack.calls_to("conversations.history") == []
    assert bot.aws.events(arn) == []


def test_unbound_channel_is_ignored_quietly(bot: Harness) -> None:
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.react(ts)
    settle()
    assert bot.aws.calls == []
    assert bot.slack.calls_to("conversations.history") == []
    assert bot.slack.calls_to("chat.postEphemeral") == []


def test_the_configured_emoji_is_the_one_that_pins(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(TIMELINE_REACTION=":rotating_light:", TIMELINE_ADDED_REACTION="none")
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.react(ts, reaction="pushpin")
    settle()
    assert bot.aws.events(arn) == []
    bot.react(ts, reaction="rotating_light")
    for _ in range(100):
        if bot.aws.events(arn):
            break
        time.sleep(0.05)
    assert len(bot.aws.events(arn)) == 1
    settle()
    assert bot.slack.calls_to("reactions.add") == []  # the mark is turned off


@pytest.mark.parametrize(("error_code", "times", "expected"), CREATE_TIMELINE_EVENT_REFUSALS)
def test_aws_refusal_is_told_to_the_person_who_pinned(
    bot: Harness, error_code: str, times: int, expected: str
) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.aws.fail_next("CreateTimelineEvent", error_code, times=times)
    bot.react(ts, user_id="U0003")
    (reply,) = ephemerals_to(bot, "U0003")
    assert expected in reply
    assert "The message was not added to the timeline." in reply
    assert "_Reference: " in reply
    assert bot.aws.events(arn) == []
    assert marks(bot, ts) == set()


@pytest.mark.parametrize(("error_code", "expected"), CREATE_TIMELINE_EVENT_OUTAGES)
def test_an_outage_queues_the_pin_and_the_mark_comes_when_it_lands(
    bot: Harness, error_code: str, expected: str
) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.aws.fail_next("CreateTimelineEvent", error_code, times=FIRST_TRY_ATTEMPTS)
    bot.react(ts, user_id="U0003")
    (reply,) = ephemerals_to(bot, "U0003")
    assert QUEUED in reply and expected in reply and "gets the ✅ when it lands" in reply
    wait_marked(bot)
    assert marks(bot, ts) == {"white_check_mark"}
    assert len(bot.aws.events(arn)) == 1
    settle()
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1  # the ✅ is the confirmation


def test_deleted_message_is_explained(bot: Harness) -> None:
    bot.bound_incident()
    bot.react("1700000000.000100", user_id="U0001")
    (reply,) = ephemerals_to(bot, "U0001")
    assert "couldn't find that message" in reply
    assert bot.aws.calls_to("CreateTimelineEvent") == []


def test_unreadable_history_points_to_the_shortcut(bot: Harness) -> None:
    bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "db ok"})
    bot.slack.fail_next("conversations.history", "missing_scope")
    bot.react(ts, user_id="U0001")
    (reply,) = ephemerals_to(bot, "U0001")
    assert "couldn't read that message (missing_scope)" in reply and "Add to timeline" in reply


def test_message_with_nothing_to_add_is_explained(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": ""})
    bot.react(ts, user_id="U0001")
    (reply,) = ephemerals_to(bot, "U0001")
    assert "That message has no text" in reply
    assert bot.aws.events(arn) == []
