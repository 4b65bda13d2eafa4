import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.timeline import (
    EVENT_DATA_LIMIT,
    Attribution,
    EventType,
    NoteTooLong,
    TimelineEntry,
    client_token,
    compose_event_text,
    decode_event_data,
    encode_event_data,
    from_slack_ts,
    utf16_length,
)

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"


def test_event_text_carries_text_author_adder_and_link() -> None:
    text = compose_event_text(
        "  DB failover finished  ",
        Attribution("Alice", added_by="Bob", permalink="https://acme.slack.com/archives/C1/p1"),
    )
    assert (
        text
        == "DB failover finished\n\n— Alice, via Slack (added by Bob)\nhttps://acme.slack.com/archives/C1/p1"
    )


def test_adder_is_left_out_when_same_as_author() -> None:
    assert compose_event_text("x", Attribution("Alice", added_by="Alice")) == "x\n\n— Alice, via Slack"


def test_event_data_is_the_json_encoding_of_one_string() -> None:
    encoded = encode_event_data('say "hi"\nnow ✓')
    assert encoded == '"say \\"hi\\"\\nnow ✓"'
    assert json.loads(encoded) == 'say "hi"\nnow ✓'
    assert decode_event_data(encoded) == 'say "hi"\nnow ✓'


def test_limit_counts_the_encoded_form() -> None:
    fits = "a" * (EVENT_DATA_LIMIT - 2)  # plus two quotes
    assert utf16_length(encode_event_data(fits)) == EVENT_DATA_LIMIT
    with pytest.raises(NoteTooLong) as raised:
        encode_event_data(fits + "a")
    assert raised.value.over_by == 1
    # Quotes grow when escaped: 6,000 quotes encode to 12,002 characters.
    with pytest.raises(NoteTooLong):
        encode_event_data('"' * 6000)


def test_limit_counts_emoji_as_two_utf16_units() -> None:
    emoji = "📌" * ((EVENT_DATA_LIMIT - 2) // 2)
    assert utf16_length(encode_event_data(emoji)) == EVENT_DATA_LIMIT
    with pytest.raises(NoteTooLong):
        encode_event_data(emoji + "a")


def test_client_token_is_deterministic_and_within_limit() -> None:
    first = client_token("slash", "T1", "trigger-1")
    assert first == client_token("slash", "T1", "trigger-1")
    assert first != client_token("slash", "T1", "trigger-2")
    assert first != client_token("slash", "T1trigger-1", "")  # parts cannot run together
    assert len(first) <= 128


def test_slack_ts_to_exact_utc_time() -> None:
    assert from_slack_ts("1712345678.123456") == datetime(2024, 4, 5, 19, 34, 38, 123456, tzinfo=UTC)
    assert from_slack_ts("1712345678") == datetime(2024, 4, 5, 19, 34, 38, tzinfo=UTC)


def test_entry_requires_aware_time_and_references_incident_for_notes() -> None:
    with pytest.raises(ValueError):
        TimelineEntry("t", ARN, EventType.NOTE, datetime(2024, 1, 1), '"x"')
    note = TimelineEntry(
        "t", ARN, EventType.NOTE, datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2))), '"x"'
    )
    assert note.event_references == [{"resource": ARN}]
    event = TimelineEntry("t", ARN, EventType.CUSTOM_EVENT, datetime(2024, 1, 1, tzinfo=UTC), '"x"')
    assert event.event_references == []
