"""Property-based checks: any input a person can type is parsed, cleaned and encoded without an error,
and what is sent to AWS is always within its limits."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.commands import AddEntry, Bind, EmptyEntry, Malformed, parse_command
from bot.domain.slack_text import clean_text, render_readable
from bot.domain.timeline import (
    EVENT_DATA_LIMIT,
    Attribution,
    NoteTooLong,
    compose_event_text,
    encode_event_data,
    utf16_length,
)

# Any code point, surrogates included (they reach us through JSON payloads as \ud800 escapes).
any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=400)
markup = st.sampled_from(
    [
        "<@U123>",
        "<@U9|bob>",
        "<#C1|general>",
        "<!here>",
        "<!subteam^S1|@oncall>",
        "<https://x.io|x>",
        "&amp;",
        "&lt;",
        "&gt;",
        "<",
        ">",
        "|",
        "<mailto:a@b.c|a@b.c>",
        "<!date^1^{t}|t>",
        "\n",
        "\t",
        "\x00",
    ]
)
slack_soup = st.lists(st.one_of(markup, any_text), max_size=20).map("".join)


@given(slack_soup)
@settings(max_examples=300)
def test_parser_is_total_and_keeps_the_text(text: str) -> None:
    command = parse_command(text)
    if isinstance(command, AddEntry):
        assert command.text and command.text in text
    if isinstance(command, Malformed):
        assert command.original == text.strip()
    if isinstance(command, Bind):
        assert command.arn_text.strip() and " " not in command.arn_text


@given(slack_soup)
@settings(max_examples=300)
def test_readable_text_is_always_sendable(text: str) -> None:
    cleaned = clean_text(render_readable(text, {"U123": "alice"}))
    cleaned.encode("utf-8")  # never a lone surrogate
    assert not any(ord(c) < 32 and c not in "\n\t" for c in cleaned)


@given(slack_soup, st.text(max_size=100))
@settings(max_examples=300)
def test_encoded_event_data_is_within_limits_or_refused_precisely(text: str, author: str) -> None:
    event_text = compose_event_text(clean_text(text), Attribution(clean_text(author) or "someone"))
    try:
        encoded = encode_event_data(event_text)
    except NoteTooLong as too_long:
        assert too_long.over_by > 0
        assert utf16_length(json.dumps(event_text, ensure_ascii=False)) == EVENT_DATA_LIMIT + too_long.over_by
    else:
        assert utf16_length(encoded) <= EVENT_DATA_LIMIT
        assert json.loads(encoded) == event_text


@given(st.integers(min_value=1, max_value=20_000), st.sampled_from(["a", "é", "📌", '"', "\n", "\\"]))
def test_huge_inputs_are_measured_not_crashed(count: int, char: str) -> None:
    text = char * count
    try:
        encoded = encode_event_data(text)
    except NoteTooLong:
        assert utf16_length(json.dumps(text, ensure_ascii=False)) > EVENT_DATA_LIMIT
    else:
        assert utf16_length(encoded) <= EVENT_DATA_LIMIT


@given(st.sampled_from(["note", "event"]), st.text(alphabet=" \n\t", max_size=5))
def test_keyword_alone_is_an_empty_entry(keyword: str, blanks: str) -> None:
    assert isinstance(parse_command(keyword + blanks), EmptyEntry)
