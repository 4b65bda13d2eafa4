"""Which `message` events are an edit or a delete the bot follows, from the payload alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.message_events import MessageDeleted, MessageEdited, message_change

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TS = "1764150000.123456"


def changed(message: dict[str, Any], previous: dict[str, Any] | None = None, **event: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C1",
        "event_ts": "1764150300.000001",
        "message": {"type": "message", "ts": TS, **message},
        **event,
    }
    if previous is not None:
        body["previous_message"] = {"type": "message", "ts": TS, **previous}
    return body


def test_an_edit_carries_the_new_message_and_when_it_was_edited() -> None:
    event = changed(
        {"user": "U2", "text": "new <@U1>", "edited": {"user": "U2", "ts": "1764150200.5"}},
        {"user": "U2", "text": "old"},
    )
    found = message_change(event, NOW)
    assert isinstance(found, MessageEdited)
    assert found.ts == TS and found.message.markup == "new <@U1>" and found.message.author_id == "U2"
    assert found.edited_at == datetime(2025, 11, 26, 9, 43, 20, 500000, tzinfo=UTC)


def test_an_edit_without_its_own_time_takes_the_events() -> None:
    found = message_change(changed({"text": "new", "edited": {"user": "U2"}}), NOW)
    assert isinstance(found, MessageEdited) and found.edited_at.timestamp() == 1764150300.000001


def test_an_edit_of_blocks_or_files_counts_by_what_the_message_shows() -> None:
    blocks = [
        {
            "type": "rich_text",
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "v2"}]}],
        }
    ]
    found = message_change(
        changed({"text": "", "blocks": blocks, "edited": {"ts": "1.0"}}, {"text": "v1"}), NOW
    )
    assert isinstance(found, MessageEdited) and found.message.markup == "v2"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "channel": "C1", "user": "U1", "text": "a new message", "ts": TS},
        {"type": "message", "subtype": "channel_join", "user": "U1", "ts": TS},
        {"type": "message", "subtype": "bot_message", "bot_id": "B1", "text": "x", "ts": TS},
        {"type": "message", "subtype": "thread_broadcast", "user": "U1", "text": "x", "ts": TS},
        {"type": "message", "subtype": "message_replied", "message": {"ts": TS, "reply_count": 2}},
        # An unfurl: a change Slack reports without anyone editing.
        changed({"text": "see https://x", "attachments": [{"title": "x"}]}, {"text": "see https://x"}),
        # "Edited" to the same content.
        changed({"text": "same", "edited": {"ts": "1.0"}}, {"text": "same"}),
        # An app rewriting its own message, as its status moves on.
        changed({"text": "RESOLVED", "bot_id": "B1", "edited": {"ts": "1.0"}}, {"text": "TRIGGERED"}),
        changed({"text": "x", "subtype": "bot_message", "edited": {"ts": "1.0"}}),
        {
            "type": "message",
            "subtype": "message_deleted",
            "deleted_ts": TS,
            "previous_message": {"bot_id": "B1"},
        },
        # Malformed: no ts to point at.
        changed({"text": "x", "ts": "not-a-ts", "edited": {"ts": "1.0"}}),
        {"type": "message", "subtype": "message_deleted"},
        {"type": "message", "subtype": "message_changed", "message": "not an object"},
        {"type": "reaction_added"},
    ],
)
def test_what_is_not_followed(event: dict[str, Any]) -> None:
    assert message_change(event, NOW) is None


def test_a_delete_names_the_message_its_time_and_its_author() -> None:
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "deleted_ts": TS,
        "event_ts": "1764150400.000100",
        "previous_message": {"type": "message", "user": "U2", "text": "secret", "ts": TS},
    }
    assert message_change(event, NOW) == MessageDeleted(
        TS, datetime(2025, 11, 26, 9, 46, 40, 100, tzinfo=UTC), "U2"
    )


def test_a_delete_without_times_or_previous_message_still_counts() -> None:
    event = {"type": "message", "subtype": "message_deleted", "deleted_ts": TS}
    assert message_change(event, NOW) == MessageDeleted(TS, NOW, None)


def test_a_thread_parent_deleted_with_replies_left_becomes_a_tombstone_change_which_is_a_delete() -> None:
    event = changed(
        {"subtype": "tombstone", "user": "USLACKBOT", "text": "This message was deleted.", "reply_count": 2},
        {"user": "U2", "text": "parent"},
    )
    found = message_change(event, NOW)
    assert isinstance(found, MessageDeleted) and found.ts == TS and found.author_id == "U2"
