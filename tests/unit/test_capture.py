"""The pieces behind "Add to timeline" and pinning: the modal and what it carries, the text box fit,
the event time rule, drafts in the store, one send per token in flight, recent deliveries, and the pin
replies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore import exceptions as aws
from slack_sdk.models.views import View

from bot.domain.timeline import (
    EventType,
    NoteTooLong,
    from_slack_ts,
    utf16_length,
)
from bot.listeners.views.capture_submission import event_time_of
from bot.presentation.failures import Action, FailureContext, classify
from bot.presentation.ids import BlockId
from bot.presentation.views import (
    METADATA_LIMIT,
    TEXT_INPUT_LIMIT,
    CaptureContext,
    ComposeContext,
    ComposeSubmission,
    capture_modal,
    compose_modal,
    fit_text_box,
    read_compose_submission,
    text_key,
)
from bot.recent import RecentKeys
from bot.usecases.errors import DraftMissing, EntryEmpty, MessageNotFound, MessageUnreadable

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
TS = "1764150000.123456"


def capture_context(**changes: Any) -> CaptureContext:
    base = CaptureContext(
        team_id="T0001",
        channel_id="C0001",
        incident_arn=ARN,
        message_ts=TS,
        author_id="U0002",
        author_label="bob",
        response_url="https://hooks.slack.com/actions/T0001/1/abc",
    )
    return CaptureContext(**{**base.__dict__, **changes})


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}


# The modal


def test_capture_modal_is_valid_and_prefilled_at_the_message_time() -> None:
    box = fit_text_box("db failed over")
    view = capture_modal(capture_context(), "Checkout <DB> down", box, from_slack_ts(TS), 14)
    View(**view).validate_json()  # what Slack would accept
    assert view["callback_id"] == "capture_timeline_entry"
    assert len(view["title"]["text"]) <= 24
    elements = inputs(view)
    assert elements[BlockId.TEXT]["initial_value"] == "db failed over"
    assert elements[BlockId.TEXT]["max_length"] == TEXT_INPUT_LIMIT
    assert elements["entry_type"]["initial_option"]["value"] == "Note"
    assert elements["entry_time"]["initial_date_time"] == 1764150000
    shown = json.dumps(view["blocks"])
    assert "Checkout &lt;DB&gt; down" in shown  # the title can't become markup
    assert "<@U0002>" in shown  # Slack shows the author by their current name


def test_capture_modal_says_when_the_box_shows_only_the_beginning() -> None:
    full = "z" * 5000
    view = capture_modal(capture_context(), "DB", fit_text_box(full), from_slack_ts(TS), len(full))
    assert "Leave it unchanged and the whole message is added" in json.dumps(view["blocks"])
    too_long = capture_modal(capture_context(over_by=42), "DB", fit_text_box(full), from_slack_ts(TS), 5000)
    assert "42 more than one timeline event can hold" in json.dumps(too_long["blocks"])


@pytest.mark.parametrize("picked", [10**15, "99999999999999999999", "-5", "soon", None])
def test_a_picker_value_that_is_no_time_reads_as_missing(picked: Any) -> None:
    values = {"entry_time": {"entry_time_picker": {"type": "datetimepicker", "selected_date_time": picked}}}
    assert read_compose_submission(values).event_time is None


def test_a_bot_author_is_shown_by_name_and_cannot_inject_markup() -> None:
    context = capture_context(author_id=None, author_label="<!channel> Grafana")
    view = capture_modal(context, "DB", fit_text_box("x"), from_slack_ts(TS), 1)
    shown = json.dumps(view["blocks"])
    assert "&lt;!channel&gt; Grafana" in shown and "<!channel>" not in shown


def test_compose_modal_is_still_valid() -> None:
    view = compose_modal(ComposeContext("T0001", "C0001", ARN), "DB", datetime(2026, 1, 1, tzinfo=UTC))
    View(**view).validate_json()
    assert set(inputs(view)) == {"entry_type", "entry_text", "entry_time"}


# What the modal carries


def test_capture_context_round_trips_through_private_metadata() -> None:
    context = capture_context(
        shortened_keys=("a" * 24, "b" * 24), draft_id="d" * 32, over_by=7, permalink="https://x/p1"
    )
    assert CaptureContext.from_metadata(context.to_metadata()) == context


def test_metadata_stays_within_slacks_limit_even_with_huge_values() -> None:
    context = capture_context(
        author_label="n" * 5000, permalink="https://x/" + "p" * 1500, response_url="https://h/" + "r" * 1500
    )
    metadata = context.to_metadata()
    assert len(metadata) <= METADATA_LIMIT
    back = CaptureContext.from_metadata(metadata)
    assert back.author_label == "n" * 80
    assert back.permalink is None and back.response_url is None  # looked up again / postEphemeral instead


# The text box


def test_short_text_fits_unchanged() -> None:
    assert fit_text_box("hello").shown == "hello" and not fit_text_box("hello").truncated
    exact = "e" * TEXT_INPUT_LIMIT
    assert fit_text_box(exact).shown == exact


def test_long_text_is_cut_in_utf16_units_and_marked() -> None:
    full = "😀" * 2000  # 4,000 UTF-16 units
    box = fit_text_box(full)
    assert box.truncated and box.shown.endswith("…")
    assert utf16_length(box.shown) <= TEXT_INPUT_LIMIT
    assert full.startswith(box.shown[:-1])


def test_text_key_tells_texts_apart() -> None:
    assert text_key("a") == text_key("a") != text_key("a ")


# The event time


def submission(picked: datetime | None) -> ComposeSubmission:
    return ComposeSubmission(event_type=EventType.NOTE, text="x", event_time=picked)


def test_untouched_picker_keeps_the_message_time_to_the_microsecond() -> None:
    exact = datetime(2025, 11, 26, 9, 40, 0, 123456, tzinfo=UTC)
    assert event_time_of(submission(datetime(2025, 11, 26, 9, 40, 0, tzinfo=UTC)), TS) == exact
    assert event_time_of(submission(None), TS) == exact


def test_a_picked_time_wins() -> None:
    picked = datetime(2025, 11, 26, 9, 35, tzinfo=UTC)
    assert event_time_of(submission(picked), TS) == picked


# Replies for a pin


PIN = FailureContext(action=Action.PIN, region="eu-west-1")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (EntryEmpty(EventType.NOTE), "That message has no text"),
        (NoteTooLong(12_100), "that message is 100 characters over"),
        (MessageNotFound(), "I couldn't find that message"),
        (MessageUnreadable("missing_scope"), "I couldn't read that message (missing_scope)"),
        (aws.ReadTimeoutError(endpoint_url="https://x"), "can't tell whether it was added"),
    ],
)
def test_pin_failures_speak_of_the_message(error: BaseException, expected: str) -> None:
    _, text, _ = classify(error, PIN)
    assert expected in text
    assert "Type the text after the command" not in text


def test_lost_draft_asks_for_the_shortcut_again() -> None:
    _, text, _ = classify(DraftMissing(), FailureContext(action=Action.ADD, text="typed"))
    assert "Use *Add to timeline* on the message again" in text


# Recent deliveries


def test_a_delivery_is_new_once_within_the_window() -> None:
    recent = RecentKeys(window=60)
    assert recent.first_time("Ev1") and not recent.first_time("Ev1") and recent.first_time("Ev2")


def test_old_and_surplus_keys_are_forgotten() -> None:
    assert RecentKeys(window=0).first_time("Ev1") and RecentKeys(window=0).first_time("Ev1")
    recent = RecentKeys(window=60, max_keys=2)
    for key in ("a", "b", "c"):
        assert recent.first_time(key)
    assert recent.first_time("a")  # the oldest made room
