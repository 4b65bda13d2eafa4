"""`/incident-note` with no text: the compose modal, opened and submitted through the fakes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from tests.support.harness import Harness, compose_values, submit_view


def open_compose(bot: Harness) -> dict[str, Any]:
    result = bot.command("")
    assert result.ack.status == 200 and result.ack.body == ""
    (call,) = bot.slack.wait_for_calls("views.open", 1, timeout=10)
    assert call.ok, call.response
    assert call.params["trigger_id"] == result.trigger_id
    view = call.response["view"]
    assert isinstance(view, dict)
    return view


def ephemeral_texts(bot: Harness, count: int = 1) -> list[str]:
    return [str(c.params["text"]) for c in bot.slack.wait_for_calls("chat.postEphemeral", count, timeout=10)]


def test_compose_opens_a_valid_modal_naming_the_incident(bot: Harness) -> None:
    bot.bound_incident("Payments <degraded>")
    view = open_compose(bot)
    assert view["title"]["text"] == "Add to timeline"
    assert "Payments &lt;degraded&gt;" in json.dumps(view["blocks"])
    assert len(view["private_metadata"]) <= 3000
    kinds = {
        block["block_id"]: block["element"]["type"] for block in view["blocks"] if block["type"] == "input"
    }
    assert kinds == {
        "entry_type": "radio_buttons",
        "entry_text": "plain_text_input",
        "entry_time": "datetimepicker",
    }
    picker = next(b for b in view["blocks"] if b.get("block_id") == "entry_time")["element"]
    assert abs(picker["initial_date_time"] - time.time()) < 60


def test_submit_creates_the_entry_at_the_chosen_time_with_the_chosen_type(bot: Harness) -> None:
    arn = bot.bound_incident()
    view = open_compose(bot)
    chosen = int(datetime(2026, 11, 26, 8, 15, 0, tzinfo=UTC).timestamp())
    ack = submit_view(bot, view, compose_values("Rolled back deploy 42\nsecond line", "Custom Event", chosen))
    assert ack.status == 200 and ack.body == ""
    (reply,) = ephemeral_texts(bot)
    assert "Added a custom event to" in reply and "2026-11-26 08:15:00 UTC" in reply
    (event,) = bot.aws.events(arn)
    assert event["eventType"] == "Custom Event"
    assert event["eventTime"] == datetime(2026, 11, 26, 8, 15, 0, tzinfo=UTC)
    assert bot.event_text(event) == "Rolled back deploy 42\nsecond line\n\n— alice, via Slack"


def test_double_submit_of_one_view_creates_one_event(bot: Harness) -> None:
    arn = bot.bound_incident()
    view = open_compose(bot)
    values = compose_values("only once", "Note", int(time.time()) - 60)
    submit_view(bot, view, values)
    submit_view(bot, view, values)
    ephemeral_texts(bot, 2)
    assert len(bot.aws.events(arn)) == 1


def test_empty_text_and_future_time_are_shown_in_the_form(bot: Harness) -> None:
    arn = bot.bound_incident()
    view = open_compose(bot)
    ack = submit_view(bot, view, compose_values("   ", "Note", int(time.time()) + 3600))
    assert ack.status == 200
    answer = ack.json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"entry_text", "entry_time"}
    assert bot.aws.events(arn) == []
    assert bot.aws.calls_to("CreateTimelineEvent") == []


def test_compose_in_unbound_channel_says_how_to_bind_and_opens_nothing(bot: Harness) -> None:
    reply = bot.run("")
    assert "isn't bound to an incident" in reply
    assert bot.slack.calls_to("views.open") == []


def test_expired_trigger_is_explained(bot: Harness) -> None:
    bot.bound_incident()
    trigger = bot.slack.issue_trigger_id()
    bot.slack.expire_trigger_id(trigger)
    reply = bot.run("", trigger_id=trigger)
    assert "Slack took too long to open the form. Please try again." in reply
    assert "_Reference:" in reply


def test_binding_changed_while_the_form_was_open(bot: Harness) -> None:
    first = bot.bound_incident("First")
    view = open_compose(bot)
    bot.bind(bot.new_incident("Second"))
    submit_view(bot, view, compose_values("meant for First", "Note", int(time.time())))
    (reply,) = ephemeral_texts(bot)
    assert "this channel was bound to *Second*" in reply
    assert "```meant for First```" in reply
    assert bot.aws.calls_to("CreateTimelineEvent") == []
    assert bot.aws.events(first) == []


def test_reply_reaches_the_person_by_direct_message_when_bot_is_not_in_channel(bot: Harness) -> None:
    arn = bot.bound_incident()
    view = open_compose(bot)
    bot.slack.fail_next("chat.postEphemeral", "not_in_channel")
    submit_view(bot, view, compose_values("still told", "Note", int(time.time())))
    dm = next(
        c
        for c in bot.slack.wait_for_calls("chat.postMessage", 2, timeout=10)
        if c.params["channel"] == "U0001"
    )
    assert "Added a note" in dm.params["text"]
    assert len(bot.aws.events(arn)) == 1


def test_form_text_is_literal_not_slack_markup(bot: Harness) -> None:
    # A plain-text input hands over exactly what was typed: "&lt;" and "<https://x|y>" are the person's
    # own characters, not Slack escapes or links.
    arn = bot.bound_incident()
    view = open_compose(bot)
    typed = "literal &lt; and <https://x.example|y> and <@U0002>"
    submit_view(bot, view, compose_values(typed, "Note", int(time.time())))
    ephemeral_texts(bot)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith(typed + "\n\n— ")
