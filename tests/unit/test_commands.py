from bot.domain.commands import (
    AddEntry,
    Bind,
    Compose,
    EmptyEntry,
    Help,
    Malformed,
    Status,
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
    assert isinstance(parse_command("bind"), Malformed)
    assert isinstance(parse_command(f"bind {arn} extra"), Malformed)


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
