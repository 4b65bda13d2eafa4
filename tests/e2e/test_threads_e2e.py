""" "Add thread to timeline", end to end: a signed message shortcut -> the thread read from the fake Slack
(conversations.replies, paginated) -> a modal that shows progress -> one Note per message in the fake
Incident Manager, each at its message's time by its author -> the ✅ on each message. Also over two
replicas on one PostgreSQL database."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.threads import THREAD_CAP
from bot.domain.timeline import from_slack_ts
from bot.presentation.ids import CallbackId
from tests.conftest import SIGNING_SECRET
from tests.e2e.replicas import Deployment, Replica
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.aws_errors import FIRST_TRY_ATTEMPTS
from tests.support.harness import CommandResult, Harness

CHANNEL = "C0001"
PARENT = "1764150000.100000"
NAMES = {"U0001": "alice", "U0002": "bob", "U0003": "Carol Danvers"}
AUTHORS = ("U0001", "U0002", "U0003")
# The final confirmation's first words (every count follows).
CONFIRMED = ("Thread added to", "Every message of this thread is already on the timeline")


def reply_ts(i: int) -> str:
    # Whole milliseconds: Incident Manager keeps eventTime to the millisecond.
    return f"{1764150000 + i * 37}.{(i * 7) % 1000:03d}000"


def seed_thread(slack: FakeSlack, replies: int) -> list[dict[str, Any]]:
    """A parent by alice and `replies` replies by alice, bob and carol in turn, as Slack holds them."""
    slack.add_message(CHANNEL, {"user": "U0001", "text": "checkout DB primary down", "ts": PARENT})
    for i in range(1, replies + 1):
        slack.add_message(
            CHANNEL,
            {"user": AUTHORS[i % 3], "text": f"update {i}", "ts": reply_ts(i), "thread_ts": PARENT},
        )
    return [m for m in slack.messages(CHANNEL) if m["ts"] == PARENT or m.get("thread_ts") == PARENT]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def modal_text(slack: FakeSlack, view_id: str) -> str:
    view = slack.views[view_id]
    return "\n".join(block["text"]["text"] for block in view["blocks"])


def opened_view(slack: FakeSlack, result: CommandResult) -> tuple[str, str]:
    """The modal the shortcut opened (its id, what it first said)."""
    wait_until(
        lambda: any(c.params.get("trigger_id") == result.trigger_id for c in slack.calls_to("views.open")),
        10,
        "the modal",
    )
    call = next(c for c in slack.calls_to("views.open") if c.params.get("trigger_id") == result.trigger_id)
    assert call.ok, call.response
    view = call.response["view"]
    assert view["callback_id"] == CallbackId.THREAD_PROGRESS
    return str(view["id"]), "\n".join(block["text"]["text"] for block in view["blocks"])


def confirmation(slack: FakeSlack, view_id: str, timeout: float = 30) -> str:
    wait_until(lambda: modal_text(slack, view_id).startswith(CONFIRMED), timeout, "the confirmation")
    return modal_text(slack, view_id)


def add_thread(bot: Harness, message: dict[str, Any], user_id: str = "U0001") -> tuple[str, str]:
    """Run the shortcut on `message`; (what the modal said first, the confirmation)."""
    result = bot.shortcut(message, user_id=user_id, callback_id=CallbackId.ADD_THREAD_TO_TIMELINE)
    assert result.ack.status == 200 and result.ack.body == ""
    view_id, first = opened_view(bot.slack, result)
    return first, confirmation(bot.slack, view_id)


def marks(slack: FakeSlack, ts: str) -> set[str]:
    message = next(m for m in slack.messages(CHANNEL) if m["ts"] == ts)
    return {r["name"] for r in message.get("reactions", [])}


def assert_one_note_per_message(bot: Harness, arn: str, thread: list[dict[str, Any]], adder: str) -> None:
    events = sorted(bot.aws.events(arn), key=lambda event: event["eventTime"])
    assert len(events) == len(thread)
    for event, message in zip(events, thread, strict=True):
        assert event["eventType"] == "Note" and event["eventReferences"] == [{"resource": arn}]
        assert event["eventTime"] == from_slack_ts(message["ts"])
        text = Harness.event_text(event)
        by = "" if message["user"] == adder else f" (added by {NAMES[adder]})"
        assert text.startswith(f"{message['text']}\n\n— {NAMES[message['user']]}, via Slack{by}\n")
        assert f"/p{message['ts'].replace('.', '')}" in text


def test_a_thread_of_30_replies_is_31_notes_at_their_times_by_their_authors(bot: Harness) -> None:
    arn = bot.bound_incident("Checkout DB down")
    thread = seed_thread(bot.slack, 30)
    first, final = add_thread(bot, thread[11])  # picked on a reply
    assert "Adding 31 messages of this thread to" in first and "Checkout DB down" in first
    assert "*31 added*, 0 skipped (already on the timeline), 0 failed, 0 queued" in final
    assert_one_note_per_message(bot, arn, thread, "U0001")
    assert all(marks(bot.slack, m["ts"]) == {"white_check_mark"} for m in thread)
    # Read with Slack's own call, from the thread's parent.
    (read,) = bot.slack.calls_to("conversations.replies")
    assert read.params["ts"] == PARENT
    assert bot.slack.calls_to("chat.postEphemeral") == []  # the modal said it all


def test_run_twice_adds_nothing_and_the_second_confirmation_says_31_skipped(bot: Harness) -> None:
    arn = bot.bound_incident()
    thread = seed_thread(bot.slack, 30)
    add_thread(bot, thread[0])
    created = len(bot.aws.calls_to("CreateTimelineEvent"))
    _, final = add_thread(bot, thread[30], user_id="U0002")
    assert "Every message of this thread is already on the timeline" in final
    assert "*0 added*, 31 skipped (already on the timeline), 0 failed, 0 queued" in final
    assert len(bot.aws.events(arn)) == 31
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == created  # Incident Manager not asked again


def test_a_pinned_message_inside_the_thread_is_skipped(bot: Harness) -> None:
    arn = bot.bound_incident()
    thread = seed_thread(bot.slack, 30)
    pinned = thread[17]
    bot.react(pinned["ts"], user_id="U0002")
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    _, final = add_thread(bot, thread[0])
    assert "*30 added*, 1 skipped (already on the timeline)" in final
    events = bot.aws.events(arn)
    assert len(events) == 31
    mine = [
        Harness.event_text(e) for e in events if f"/p{pinned['ts'].replace('.', '')}" in Harness.event_text(e)
    ]
    assert len(mine) == 1 and "(added by bob)" in mine[0]  # as bob's pin made it


def test_over_the_cap_exactly_200_are_added_and_the_reply_says_what_to_do(
    make_bot: Callable[..., Harness],
) -> None:
    bot = make_bot(INCIDENT_MANAGER_CALLS_PER_SECOND="100")
    arn = bot.bound_incident()
    thread = seed_thread(bot.slack, THREAD_CAP + 4)
    first, final = add_thread(bot, thread[0])
    assert f"Adding {THREAD_CAP} messages of this thread" in first
    assert f"*{THREAD_CAP} added*, 0 skipped" in final, final[:600]
    assert "5 messages of this thread, from" in final and "were *not* added" in final
    assert f"one run adds at most {THREAD_CAP} messages" in final and "again to add the next ones" in final
    events = bot.aws.events(arn)
    assert len(events) == THREAD_CAP
    assert {e["eventTime"] for e in events} == {from_slack_ts(m["ts"]) for m in thread[:THREAD_CAP]}
    # Running it again adds the rest, and only the rest.
    _, again = add_thread(bot, thread[0])
    assert f"*5 added*, {THREAD_CAP} skipped" in again
    assert len(bot.aws.events(arn)) == THREAD_CAP + 5


def test_incident_manager_throttling_queues_them_and_all_land_once(bot: Harness) -> None:
    arn = bot.bound_incident()
    thread = seed_thread(bot.slack, 30)
    # Enough throttles for every attempt of the first messages sent, and some of the outbox's retries.
    bot.aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=FIRST_TRY_ATTEMPTS * 4)
    _, final = add_thread(bot, thread[0])
    counts = final.split("\n", 1)[0]
    queued = int(counts.split(" queued")[0].rsplit(" ", 1)[1])
    added = int(counts.split(" added*")[0].rsplit("*", 1)[1])
    assert queued >= 1 and added + queued == 31, counts
    assert f"{queued} messages saved but not on the timeline yet: Incident Manager is throttling" in final
    wait_until(lambda: len(bot.aws.events(arn)) >= 31, 60, "every message to land")
    wait_until(lambda: all(marks(bot.slack, m["ts"]) == {"white_check_mark"} for m in thread), 10, "the ✅s")
    time.sleep(1.0)
    assert_one_note_per_message(bot, arn, thread, "U0001")
    # The ✅ is each message's confirmation: no reply per message.
    assert bot.slack.calls_to("chat.postEphemeral") == []


def test_a_thread_in_an_unbound_channel_is_refused(bot: Harness) -> None:
    thread = seed_thread(bot.slack, 3)
    result = bot.shortcut(thread[0], callback_id=CallbackId.ADD_THREAD_TO_TIMELINE)
    assert result.ack.status == 200 and result.ack.body == ""
    (reply,) = bot.slack.wait_for_responses(result.response_url, 1, timeout=10)
    assert "isn't bound to an incident" in reply["text"] and "*Add thread to timeline*" in reply["text"]
    time.sleep(0.3)
    assert bot.slack.calls_to("views.open") == [] and bot.slack.calls_to("conversations.replies") == []
    assert bot.aws.calls_to("CreateTimelineEvent") == []


def test_a_shortcut_from_another_workspace_is_refused(bot: Harness) -> None:
    bot.bound_incident()
    thread = seed_thread(bot.slack, 2)
    result = bot.shortcut(thread[0], team_id="T0OTHER", callback_id=CallbackId.ADD_THREAD_TO_TIMELINE)
    assert result.ack.status == 200
    (reply,) = bot.slack.wait_for_responses(result.response_url, 1, timeout=10)
    assert "workspace" in reply["text"]
    assert bot.slack.calls_to("conversations.replies") == [] and bot.aws.calls_to("CreateTimelineEvent") == []


def test_the_thread_goes_in_with_progress_when_the_modal_is_up(make_bot: Callable[..., Harness]) -> None:
    # Slow enough (4 calls a second) for progress to show between the first view and the last.
    bot = make_bot(INCIDENT_MANAGER_CALLS_PER_SECOND="4")
    bot.bound_incident()
    thread = seed_thread(bot.slack, 11)
    result = bot.shortcut(thread[0], callback_id=CallbackId.ADD_THREAD_TO_TIMELINE)
    view_id, _ = opened_view(bot.slack, result)
    final = confirmation(bot.slack, view_id)
    assert "*12 added*" in final
    updates = [c for c in bot.slack.calls_to("views.update") if c.params.get("view_id") == view_id]
    assert all(c.ok for c in updates)
    texts = [str(c.params["view"]) for c in updates]
    assert any(" of 12 done: " in text for text in texts[:-1]), texts
    # At most about one update a second while it goes in (12 messages at 4 a second: ~3 s).
    assert len(updates) <= 6


# Over two replicas on one PostgreSQL database


def shortcut_on(replica: Replica, slack: FakeSlack, message: dict[str, Any]) -> tuple[str, str]:
    trigger_id = slack.issue_trigger_id("U0001")
    payload = slack_requests.message_shortcut_payload(
        CallbackId.ADD_THREAD_TO_TIMELINE,
        message=message,
        trigger_id=trigger_id,
        response_url=slack.new_response_url(),
    )
    body, headers = slack_requests.interactivity(SIGNING_SECRET, payload)
    answer = replica.post(body, headers)
    assert answer.status == 200 and answer.body == ""
    view_id, first = opened_view(slack, CommandResult(answer, "", trigger_id))
    return first, confirmation(slack, view_id, timeout=60)


def test_over_two_replicas_the_second_run_adds_nothing(deployment: Deployment, fake_slack: FakeSlack) -> None:
    one, two = deployment.start(2)
    arn = deployment.aws.add_incident(title="Checkout DB down")
    bound = one.command(fake_slack, f"bind {arn}")
    assert bound.ack.status == 200
    (reply,) = fake_slack.wait_for_responses(bound.response_url, 1, timeout=20)
    assert "now bound" in reply["text"]
    thread = seed_thread(fake_slack, 30)
    _, final = shortcut_on(one, fake_slack, thread[4])
    assert "*31 added*" in final
    _, again = shortcut_on(two, fake_slack, thread[0])
    assert "*0 added*, 31 skipped (already on the timeline)" in again
    time.sleep(1.0)
    events = deployment.aws.events(arn)
    assert len(events) == 31
    assert sorted(e["eventTime"] for e in events) == sorted(from_slack_ts(m["ts"]) for m in thread)
    assert max(e["eventTime"] for e in events) - min(e["eventTime"] for e in events) > timedelta(minutes=10)
