import pytest

from bot.domain.commands import (
    TIMELINE_DEFAULT,
    AddEntry,
    Bind,
    Compose,
    EmptyEntry,
    Help,
    Malformed,
    MalformedReason,
    PickIncident,
    Status,
    Timeline,
    Unbind,
    parse_command,
)
from bot.domain.timeline import EventType


def test_plain_text_is_a_note() -> None:
    assert parse_command("the DB failover finished") == AddEntry(EventType.NOTE, "the DB failover finished")


def test_explicit_note_lets_text_start_with_a_keyword() -> None:
    assert parse_command("note bind happened at 10:02") == AddEntry(EventType.NOTE, "bind happened at 10:02")


def test_event_is_a_custom_event() -> None:
    assert parse_command("event  rollback started") == AddEntry(EventType.CUSTOM_EVENT, "rollback started")


def test_keywords_only_count_when_exact() -> None:
    assert parse_command("Bind the replica") == AddEntry(EventType.NOTE, "Bind the replica")
    assert parse_command("notes are here") == AddEntry(EventType.NOTE, "notes are here")
    assert parse_command("helpful tip") == AddEntry(EventType.NOTE, "helpful tip")


def test_multiline_text_keeps_its_lines() -> None:
    assert parse_command("note line one\nline two") == AddEntry(EventType.NOTE, "line one\nline two")
    assert parse_command("note\nline one") == AddEntry(EventType.NOTE, "line one")


def test_bind_forms() -> None:
    arn = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
    assert parse_command(f"bind {arn}") == Bind(arn)
    assert isinstance(parse_command(f"bind {arn} extra"), Malformed)


def test_bind_alone_asks_for_the_picker() -> None:
    assert parse_command("bind") == PickIncident()
    assert parse_command("  bind  ") == PickIncident()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("timeline", Timeline(TIMELINE_DEFAULT)),
        ("timeline 1", Timeline(1)),
        ("timeline 50", Timeline(50)),
        ("timeline   7 ", Timeline(7)),
    ],
)
def test_timeline_takes_an_optional_count_up_to_fifty(text: str, expected: Timeline) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text", ["timeline 0", "timeline 51", "timeline ٣", "timeline -2", "timeline of events"]
)
def test_timeline_with_anything_else_after_it_is_malformed(text: str) -> None:
    parsed = parse_command(text)
    assert isinstance(parsed, Malformed) and parsed.reason is MalformedReason.TIMELINE_COUNT
    assert parsed.original == text.strip()


def test_a_note_starting_with_timeline_is_written_with_note() -> None:
    assert parse_command("note timeline looks wrong") == AddEntry(EventType.NOTE, "timeline looks wrong")
    assert parse_command("timelines are hard") == AddEntry(EventType.NOTE, "timelines are hard")


def test_other_keywords() -> None:
    assert parse_command("unbind") == Unbind()
    assert parse_command("status") == Status()
    assert parse_command("help") == Help()
    assert parse_command("help me") == Help("me")
    malformed = parse_command("status now")
    assert isinstance(malformed, Malformed)
    assert malformed.original == "status now"


def test_empty_forms() -> None:
    assert parse_command("") == Compose()
    assert parse_command("   \n ") == Compose()
    assert parse_command("note") == EmptyEntry(EventType.NOTE)
    assert parse_command("event   ") == EmptyEntry(EventType.CUSTOM_EVENT)
