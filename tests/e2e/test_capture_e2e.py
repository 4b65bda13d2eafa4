"""The "Add to timeline" message shortcut, end to end: signed shortcut -> views.open -> view_submission
built from the opened view's own blocks -> CreateTimelineEvent in the fake Incident Manager."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.timeline import from_slack_ts
from tests.support.aws_errors import (
    CREATE_TIMELINE_EVENT_OUTAGES,
    CREATE_TIMELINE_EVENT_REFUSALS,
    FIRST_TRY_ATTEMPTS,
    LANDED_LATER,
    QUEUED,
)
from tests.support.harness import Harness, values_from_view
from tests.support.slack_requests import interactivity, view_submission_payload

CHANNEL = "C0001"
PERMALINK = "https://fake.slack.com/archives/C0001/p"


def seed(bot: Harness, **message: Any) -> dict[str, Any]:
    """Put a message in the fake channel and return it as Slack would send it in the shortcut."""
    message.setdefault("user", "U0002")
    ts = bot.slack.add_message(CHANNEL, message)
    return stored(bot, ts)


def stored(bot: Harness, ts: str) -> dict[str, Any]:
    return next(m for m in bot.slack.messages(CHANNEL) if m["ts"] == ts)


@dataclass(frozen=True)
class Opened:
    view: dict[str, Any]
    response_url: str


def open_capture(bot: Harness, message: dict[str, Any], user_id: str = "U0001") -> Opened:
    result = bot.shortcut(message, user_id=user_id)
    assert result.ack.status == 200 and result.ack.body == ""
    (call,) = bot.slack.wait_for_calls("views.open", 1, timeout=10)
    assert call.ok, call.response
    assert call.params["trigger_id"] == result.trigger_id
    view = call.response["view"]
    assert isinstance(view, dict)
    return Opened(view, result.response_url)


def updated(bot: Harness, opened: Opened, updates: int = 1) -> Opened:
    """The form as it is after the bot's `updates` views.update calls."""
    calls = bot.slack.wait_for_calls("views.update", updates, timeout=10)
    assert all(call.ok for call in calls), [call.response for call in calls]
    current = bot.slack.views[opened.view["id"]]
    assert isinstance(current, dict)
    return Opened(current, opened.response_url)


def submit(bot: Harness, opened: Opened, user_id: str = "U0001", **changes: Any) -> Any:
    view = opened.view
    payload = view_submission_payload(view, values=values_from_view(view, **changes), user_id=user_id)
    body, headers = interactivity(bot.secret, payload)
    return bot.post(body, headers)


def wait_replies(bot: Harness, opened: Opened, count: int = 1) -> list[str]:
    """What the person was told after submitting: through the shortcut's response_url."""
    return [
        str(p.get("text", "")) for p in bot.slack.wait_for_responses(opened.response_url, count, timeout=20)
    ]


def text_box(view: dict[str, Any]) -> dict[str, Any]:
    block = next(
        b for b in view["blocks"] if b["type"] == "input" and b["element"]["type"] == "plain_text_input"
    )
    assert isinstance(block, dict)
    return block


def marks(bot: Harness, ts: str) -> set[str]:
    return {r["name"] for r in stored(bot, ts).get("reactions", [])}


def test_shortcut_opens_a_prefilled_modal_and_submit_lands_exactly(bot: Harness) -> None:
    arn = bot.bound_incident("Checkout DB down")
    message = seed(
        bot,
        ts="1764150000.123456",
        text="<@U0003> failed over &amp; <https://status.example.com|status page> says ok in <#C0009|ops>",
    )
    form = open_capture(bot, message)
    view = form.view
    assert view["title"]["text"] == "Add to timeline"
    assert "Checkout DB down" in json.dumps(view["blocks"])
    assert len(view["private_metadata"]) <= 3000
    box = text_box(view)["element"]
    assert box["initial_value"] == (
        "@Carol Danvers failed over & status page (https://status.example.com) says ok in #ops"
    )
    assert box["max_length"] == 3000 and box["multiline"] is True
    kinds = {b["element"]["action_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds["entry_type_choice"]["initial_option"]["value"] == "Note"
    assert kinds["entry_time_picker"]["initial_date_time"] == 1764150000

    ack = submit(bot, form)
    assert ack.status == 200 and ack.body == ""
    (reply,) = wait_replies(bot, form)
    assert "Added a note to" in reply and "Checkout DB down" in reply
    (event,) = bot.aws.events(arn)
    assert event["eventType"] == "Note"
    # The message's own time in UTC, to the millisecond AWS keeps (boto3 sends epoch seconds, 3 decimals).
    assert event["eventTime"] == datetime(2025, 11, 26, 9, 40, 0, 123000, tzinfo=UTC)
    assert bot.event_text(event) == (
        "@Carol Danvers failed over & status page (https://status.example.com) says ok in #ops\n\n"
        "— bob, via Slack (added by alice)\n"
        f"{PERMALINK}1764150000123456"
    )
    # On the wire: the JSON encoding of that one string, as AWS's own CLI examples send it.
    assert event["eventData"] == (
        '"@Carol Danvers failed over & status page (https://status.example.com) says ok in #ops'
        '\\n\\n— bob, via Slack (added by alice)\\nhttps://fake.slack.com/archives/C0001/p1764150000123456"'
    )
    assert event["eventReferences"] == [{"resource": arn}]
    # The channel sees it is on the timeline.
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    assert "white_check_mark" in marks(bot, message["ts"])


def test_edited_type_time_and_text_are_honoured(bot: Harness) -> None:
    arn = bot.bound_incident()
    form = open_capture(bot, seed(bot, text="rollback started"))
    chosen = int(datetime(2026, 11, 26, 8, 15, tzinfo=UTC).timestamp())
    submit(
        bot,
        form,
        entry_type_choice="Custom Event",
        entry_time_picker=chosen,
        entry_text_input="Rollback of deploy 42 started",
    )
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert event["eventType"] == "Custom Event"
    assert event["eventTime"] == datetime(2026, 11, 26, 8, 15, tzinfo=UTC)
    assert bot.event_text(event).startswith(
        "Rollback of deploy 42 started\n\n— bob, via Slack (added by alice)\n" + PERMALINK
    )
    assert not event.get("eventReferences")


def test_author_adding_their_own_message_is_not_named_twice(bot: Harness) -> None:
    arn = bot.bound_incident()
    form = open_capture(bot, seed(bot, user="U0001", text="I restarted the primary"))
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    text = bot.event_text(event)
    assert text.startswith("I restarted the primary\n\n— alice, via Slack\n" + PERMALINK)
    assert "added by" not in text


def test_thread_reply(bot: Harness) -> None:
    arn = bot.bound_incident()
    parent = seed(bot, text="what is the status?")
    reply = seed(bot, text="replica promoted", thread_ts=parent["ts"], user="U0003")
    form = open_capture(bot, reply)
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    text = bot.event_text(event)
    assert text.startswith("replica promoted\n\n— Carol Danvers, via Slack (added by alice)\n")
    assert f"thread_ts={parent['ts']}" in text
    assert abs(event["eventTime"] - from_slack_ts(reply["ts"])) <= timedelta(microseconds=500)
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    assert "white_check_mark" in marks(bot, reply["ts"])


def test_bot_message_without_a_user(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(
        CHANNEL,
        {
            "subtype": "bot_message",
            "bot_id": "B0GRAF",
            "username": "Grafana",
            "text": "",
            "attachments": [
                {
                    "fallback": "[Alerting] p99 latency",
                    "title": "[Alerting] p99 latency",
                    "title_link": "https://grafana.example.com/d/1",
                    "text": "p99 is 2.3s",
                }
            ],
        },
    )
    form = open_capture(bot, stored(bot, ts))
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith(
        "[Alerting] p99 latency (https://grafana.example.com/d/1)\np99 is 2.3s\n\n"
        "— Grafana, via Slack (added by alice)\n"
    )


def test_blocks_only_message(bot: Harness) -> None:
    arn = bot.bound_incident()
    section = [
        {"type": "text", "text": "paging "},
        {"type": "user", "user_id": "U0002"},
        {"type": "text", "text": " now"},
    ]
    message = seed(
        bot,
        user="U0001",
        text="",
        blocks=[{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": section}]}],
    )
    form = open_capture(bot, message)
    assert text_box(form.view)["element"]["initial_value"] == "paging @bob now"
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("paging @bob now\n\n— alice, via Slack\n")


def test_files_are_listed_with_their_links(bot: Harness) -> None:
    arn = bot.bound_incident()
    message = seed(
        bot,
        text="heap dump attached",
        files=[
            {
                "id": "F1",
                "name": "heap.hprof",
                "permalink": "https://fake.slack.com/files/U0002/F1/heap.hprof",
            }
        ],
    )
    form = open_capture(bot, message)
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith(
        "heap dump attached\n\nFiles:\n• heap.hprof (https://fake.slack.com/files/U0002/F1/heap.hprof)\n\n"
    )


def test_edited_message_lands_with_the_text_slack_sends_now(bot: Harness) -> None:
    arn = bot.bound_incident()
    message = seed(bot, text="ETA 20 minutes", edited={"user": "U0002", "ts": "1764150100.000000"})
    form = open_capture(bot, message)
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("ETA 20 minutes\n\n")


def test_long_message_lands_whole_unless_edited(bot: Harness) -> None:
    arn = bot.bound_incident()
    long_text = ("log line with detail " * 300).strip()  # 6,299 characters
    opened = open_capture(bot, seed(bot, text=long_text))
    form = updated(bot, opened)
    # The update only adds what it learned; the blocks (and what the person typed in them) stay.
    assert [b.get("block_id") for b in form.view["blocks"] if b["type"] == "input"] == [
        b.get("block_id") for b in opened.view["blocks"] if b["type"] == "input"
    ]
    shown = text_box(form.view)["element"]["initial_value"]
    assert len(shown) <= 3000 and shown.endswith("…") and long_text.startswith(shown[:-1])
    assert "Leave it unchanged and the whole message is added" in json.dumps(form.view["blocks"])
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith(long_text + "\n\n— bob, via Slack (added by alice)\n")


def test_long_message_edited_lands_as_edited(bot: Harness) -> None:
    arn = bot.bound_incident()
    form = updated(bot, open_capture(bot, seed(bot, text="x" * 4000)))
    submit(bot, form, entry_text_input="the short version")
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("the short version\n\n")


def test_message_too_long_for_one_event_is_refused_in_the_form(bot: Harness) -> None:
    arn = bot.bound_incident()
    form = updated(bot, open_capture(bot, seed(bot, text="y" * 12_500)))
    assert "more than one timeline event can hold" in json.dumps(form.view["blocks"])
    answer = submit(bot, form).json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {text_box(form.view)["block_id"]}
    assert "over Incident Manager's limit" in answer["errors"][text_box(form.view)["block_id"]]
    assert bot.aws.calls_to("CreateTimelineEvent") == []
    submit(bot, form, entry_text_input="y" * 100)
    wait_replies(bot, form)
    assert len(bot.aws.events(arn)) == 1


def test_too_long_is_caught_even_when_submitted_before_the_form_is_completed(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.slack.set_latency(2.0, "chat.getPermalink")  # the completing update is still on its way
    form = open_capture(bot, seed(bot, text="y" * 12_500))
    assert "more than one timeline event can hold" in json.dumps(form.view["blocks"])
    answer = submit(bot, form).json()
    assert answer["response_action"] == "errors"
    assert "over Incident Manager's limit" in answer["errors"]["entry_text"]
    assert bot.aws.events(arn) == []


def test_slow_name_lookups_do_not_hold_the_form_past_its_trigger(bot: Harness) -> None:
    arn = bot.bound_incident()
    message = seed(bot, text="<@U0003> is on it")
    bot.slack.set_latency(2.5, "users.info")
    started = time.monotonic()
    form = open_capture(bot, message)
    assert time.monotonic() - started < 2.5  # opened within the trigger's 3 s, names or not
    assert text_box(form.view)["element"]["initial_value"] == "@U0003 is on it"
    bot.slack.set_latency(0.0, "users.info")
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    # The box's text is what the person submitted; the author line has every name.
    assert bot.event_text(event).startswith("@U0003 is on it\n\n— bob, via Slack (added by alice)\n")


def test_a_long_message_gets_names_that_arrive_after_the_form_opened(bot: Harness) -> None:
    arn = bot.bound_incident()
    long_text = "<@U0003> " + "trace " * 800
    bot.slack.set_latency(1.5, "users.info")  # past the form's budget, within the follow-up
    form = updated(bot, open_capture(bot, seed(bot, text=long_text)))
    assert text_box(form.view)["element"]["initial_value"].startswith("@U0003 trace")
    bot.slack.set_latency(0.0, "users.info")
    submit(bot, form)
    wait_replies(bot, form)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("@Carol Danvers trace trace")


def test_a_form_that_looked_too_long_before_the_link_was_known_accepts_it_after(bot: Harness) -> None:
    arn = bot.bound_incident()
    # Fits with the real link and author line, not with the generous allowance used before opening.
    opened = open_capture(bot, seed(bot, text="w" * 11_890))
    assert "more than one timeline event can hold" in json.dumps(opened.view["blocks"])
    form = updated(bot, opened)
    assert "more than one timeline event can hold" not in json.dumps(form.view["blocks"])
    assert submit(bot, form).body == ""
    wait_replies(bot, form)
    assert len(bot.aws.events(arn)) == 1


def test_unbound_channel_says_how_to_bind_and_opens_nothing(bot: Harness) -> None:
    message = seed(bot, text="hello")
    result = bot.shortcut(message)
    assert result.ack.status == 200
    reply = bot.reply(result)
    assert "isn't bound to an incident" in reply and "/incident-note bind" in reply
    assert bot.slack.calls_to("views.open") == []


def test_expired_trigger_is_explained(bot: Harness) -> None:
    bot.bound_incident()
    message = seed(bot, text="late")
    bot.slack.set_latency(3.5, "views.open")
    reply = bot.reply(bot.shortcut(message), timeout=20)
    assert "Slack took too long to open the form" in reply


def test_double_submit_creates_one_event(bot: Harness) -> None:
    arn = bot.bound_incident()
    form = open_capture(bot, seed(bot, text="once only"))
    submit(bot, form)
    submit(bot, form)
    replies = sorted(wait_replies(bot, form, 2))
    assert replies[0].startswith("Added a note to") and replies[1].startswith("Already on the timeline of")
    assert len(bot.aws.events(arn)) == 1
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 1


def test_rebinding_while_the_form_is_open_adds_nothing(bot: Harness) -> None:
    bot.bound_incident("First")
    form = open_capture(bot, seed(bot, text="meant for the first"))
    second = bot.bound_incident("Second")
    submit(bot, form)
    (reply,) = wait_replies(bot, form)
    assert "a different incident" in reply and "```meant for the first```" in reply
    assert bot.aws.events(second) == []


@pytest.mark.parametrize(("error_code", "times", "expected"), CREATE_TIMELINE_EVENT_REFUSALS)
def test_aws_errors_at_submit_are_explained_and_leave_no_mark(
    bot: Harness, error_code: str, times: int, expected: str
) -> None:
    arn = bot.bound_incident()
    message = seed(bot, text="failover done")
    form = open_capture(bot, message)
    bot.aws.fail_next("CreateTimelineEvent", error_code, times=times)
    ack = submit(bot, form)
    assert ack.status == 200 and ack.body == ""
    (reply,) = wait_replies(bot, form)
    assert expected in reply
    assert "Nothing was added to the timeline." in reply
    assert "```failover done```" in reply
    assert "_Reference: " in reply
    assert bot.aws.events(arn) == []
    assert "white_check_mark" not in marks(bot, message["ts"])


@pytest.mark.parametrize(("error_code", "expected"), CREATE_TIMELINE_EVENT_OUTAGES)
def test_an_outage_at_submit_queues_it_and_the_mark_comes_when_it_lands(
    bot: Harness, error_code: str, expected: str
) -> None:
    arn = bot.bound_incident()
    message = seed(bot, text="failover done")
    form = open_capture(bot, message)
    bot.aws.fail_next("CreateTimelineEvent", error_code, times=FIRST_TRY_ATTEMPTS)
    submit(bot, form)
    queued, landed = wait_replies(bot, form, count=2)
    assert QUEUED in queued and expected in queued and "> failover done" in queued
    assert LANDED_LATER in landed
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("failover done\n\n— bob, via Slack (added by alice)")
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    assert "white_check_mark" in marks(bot, message["ts"])


@pytest.mark.parametrize("callback_id", ["capture_timeline_entry", "compose_timeline_entry"])
def test_a_form_with_metadata_that_is_not_ours_is_answered_by_direct_message(
    bot: Harness, callback_id: str
) -> None:
    arn = bot.bound_incident()
    form = open_capture(bot, seed(bot, text="db ok"))
    forged = {**form.view, "callback_id": callback_id, "private_metadata": "not json"}
    ack = submit(bot, Opened(forged, form.response_url), entry_text_input="keep this text")
    assert ack.status == 200 and ack.body == ""
    (dm,) = bot.slack.wait_for_calls("chat.postMessage", 2, timeout=10)[1:]  # the first announced the bind
    assert dm.params["channel"] == "U0001"
    assert "_Reference: " in dm.params["text"] and "keep this text" in dm.params["text"]
    assert bot.aws.events(arn) == []
