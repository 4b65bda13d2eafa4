"""Property-based checks: any input a person can type is parsed, cleaned and encoded without an error,
and what is sent to AWS is always within its limits."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, cast

import botocore.session
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.arn import InvalidIncidentArn, parse_incident_record_arn, parse_incident_reference
from bot.domain.commands import (
    AddEntry,
    Bind,
    Compose,
    EmptyEntry,
    Malformed,
    PickIncident,
    Status,
    Timeline,
    Unbind,
    parse_command,
)
from bot.domain.slack_text import clean_text, readable, render_readable
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
    utf16_length,
)
from bot.listeners.commands.incident_note import immediate_reply
from bot.presentation.failures import FailureContext, classify, explain
from bot.presentation.messages.problems import internal_error
from bot.usecases.errors import (
    BindingChanged,
    BindNotAllowed,
    ChannelNotBound,
    EntryEmpty,
    IncidentNotOpen,
    IncidentResolved,
    MalformedCommand,
)
from bot.usecases.timeline import CapturedEntry, TimelineService

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/checkout-db/6ec2b8f1-3f5f-4a8b-9c3d-2a1b0c9d8e7f"

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


# --- Hostile and odd input: anything a person (or an app) can put in a message or a command ------------

# Characters that break naive code: lone surrogates (JSON payloads carry them as \ud800 escapes), C0/C1
# controls, line and paragraph separators, BOM, bidi overrides, zero-width joiners and astral emoji.
weird_char = st.one_of(
    st.characters(blacklist_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.characters(max_codepoint=0x1F),
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),
    st.sampled_from(["\u2028", "\u2029", "\ufeff", "\u202e", "\u200d", "\r", "📌", "👩", "\U0010ffff"]),
)
hostile_text = st.text(alphabet=weird_char, max_size=200)
slack_id = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=11)
label = st.one_of(hostile_text, st.sampled_from(["", "|", "||x|", "@x", "#c", "a|b|c", "&amp;", "&lt;&gt;"]))
markup_token = st.one_of(
    st.builds("<@U{}>".format, slack_id),
    st.builds("<@W{}|{}>".format, slack_id, label),
    st.builds("<#C{}|{}>".format, slack_id, label),
    st.builds("<#C{}>".format, slack_id),
    st.builds("<!subteam^S{}|{}>".format, slack_id, label),
    st.builds("<!subteam^S{}>".format, slack_id),
    st.builds("<http://{}|{}>".format, hostile_text, label),
    st.builds("<https://x.io/{}>".format, hostile_text),
    st.builds("<mailto:{}|{}>".format, hostile_text, label),
    st.builds("<!date^{}^{{date}}|{}>".format, st.integers(), label),
    st.builds(
        "<{}:{}|{}>".format, st.from_regex(r"[a-z][a-z0-9+.-]{0,5}", fullmatch=True), hostile_text, label
    ),
    st.sampled_from(
        ["<!here>", "<!channel>", "<!everyone>", "<!>", "<@>", "<#>", "<", ">", "<<", ">>", "|", "||", "<|>"]
    ),
    st.sampled_from(["&amp;", "&lt;", "&gt;", "&amp;lt;", "&", "&;", "&#60;", "\n", "\t", "\r\n", " "]),
)
hostile_soup = st.lists(st.one_of(markup_token, hostile_text), max_size=25).map("".join)
command_text = st.builds(
    str.__add__,
    st.sampled_from(
        [
            *["", "note ", "event ", "bind ", "unbind ", "status ", "help ", "note", "help\n", "\u3000help "],
            *["bind <", f"bind {ARN}", f"bind <{ARN}|x>", "bind arn:aws:ssm-incidents::1:incident-record/"],
        ]
    ),
    hostile_soup,
)
# Tens of thousands of characters: one markup unit repeated, so the cost of any quadratic step shows.
huge_soup = st.builds(
    lambda head, unit, count: head + unit * (count // len(unit)),
    st.one_of(st.sampled_from(["", "<", "<a:", "<http://x|", "<@U1|", "<#C1|", "<!"]), markup_token),
    st.one_of(markup_token, hostile_text).filter(bool),
    st.integers(min_value=10_000, max_value=40_000),
)

_MODEL = botocore.session.get_session().get_service_model("ssm-incidents")
_CREATE = _MODEL.operation_model("CreateTimelineEvent")
_REQUEST_TIME = datetime(2024, 4, 5, 12, 0, tzinfo=UTC)


def assert_aws_accepts(event_text: str, event_data: str, event_type: EventType = EventType.NOTE) -> None:
    """What the gateway would send: within the model's limits, valid for botocore, serializable as its
    HTTP body, storable (UTF-8) and decoding back to the text that was composed."""
    assert utf16_length(event_data) <= EVENT_DATA_LIMIT
    assert len(event_data) <= _CREATE.input_shape.members["eventData"].metadata["max"]
    assert decode_event_data(event_data) == event_text
    event_data.encode("utf-8")  # strict: SQLite and the HTTP body need valid UTF-8 (no lone surrogate)
    entry = TimelineEntry(client_token("slash", "T1", event_text), ARN, event_type, _REQUEST_TIME, event_data)
    params: dict[str, Any] = {
        "clientToken": entry.client_token,
        "incidentRecordArn": entry.incident_arn,
        "eventTime": entry.event_time,
        "eventType": entry.event_type.value,
        "eventData": entry.event_data,
    }
    if entry.event_references:
        params["eventReferences"] = entry.event_references
    report = ParamValidator().validate(params, _CREATE.input_shape)
    assert not report.has_errors(), report.generate_report()
    request = create_serializer("rest-json").serialize_to_request(params, _CREATE)
    body = request["body"]
    sent = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    assert sent["eventData"] == event_data


def assert_too_long_is_exact(event_text: str, too_long: NoteTooLong) -> None:
    encoded_length = utf16_length(json.dumps(event_text, ensure_ascii=False))
    assert too_long.over_by > 0
    assert too_long.over_by == encoded_length - EVENT_DATA_LIMIT == too_long.encoded_length - EVENT_DATA_LIMIT


def _captured(text: str, author: str, **fields: Any) -> CapturedEntry:
    return CapturedEntry(
        team_id="T1",
        channel_id="C1",
        event_type=EventType.NOTE,
        slack_text=text,
        event_time=_REQUEST_TIME,
        author_id="U1",
        author_fallback=author,
        token_source=("slash", "T1", "trigger"),
        **fields,
    )


@given(
    command_text,
    st.dictionaries(st.sampled_from(["U1", "U2", "W9"]), hostile_text, max_size=3),
    hostile_text,
    st.one_of(st.none(), st.sampled_from(["U1", "U2"])),
    st.one_of(st.none(), st.builds("https://acme.slack.com/archives/C1/p1{}".format, hostile_text)),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_any_typed_text_becomes_a_request_aws_accepts_or_a_precise_refusal(
    text: str,
    names: dict[str, str],
    author: str,
    added_by: str | None,
    permalink: str | None,
    is_markup: bool,
) -> None:
    # The shared path of TimelineService.add, without the store and AWS: parse, render, compose, encode.
    command = parse_command(text)
    if not isinstance(command, AddEntry):
        return
    captured = _captured(command.text, author, added_by_id=added_by, permalink=permalink, is_markup=is_markup)
    rendered, attribution = TimelineService.render(captured, names)
    event_text = compose_event_text(rendered, attribution)
    try:
        event_data = encode_event_data(event_text)
    except NoteTooLong as too_long:
        assert_too_long_is_exact(event_text, too_long)
    else:
        assert_aws_accepts(event_text, event_data, command.event_type)


@given(hostile_text, hostile_text, st.one_of(st.none(), hostile_text), st.one_of(st.none(), hostile_text))
@settings(max_examples=300, deadline=None)
def test_composing_any_parts_gives_event_data_aws_accepts(
    text: str, author: str, added_by: str | None, permalink: str | None
) -> None:
    # compose_event_text is the last step before encoding: whatever its parts carry (a permalink or a
    # name straight from a Slack JSON payload), the result must be sendable and storable.
    event_text = compose_event_text(text, Attribution(author, added_by, permalink))
    assert_aws_accepts(event_text, encode_event_data(event_text))


@given(huge_soup, st.booleans())
@example("<a:" + "|" * 20_000, True)
@settings(max_examples=15, deadline=None)
def test_huge_messages_are_rendered_and_measured_quickly(text: str, is_markup: bool) -> None:
    started = time.monotonic()
    rendered, attribution = TimelineService.render(_captured(text, "alice", is_markup=is_markup), {})
    event_text = compose_event_text(rendered, attribution)
    try:
        event_data = encode_event_data(event_text)
    except NoteTooLong as too_long:
        assert_too_long_is_exact(event_text, too_long)
    else:
        assert_aws_accepts(event_text, event_data)
    # Rendering runs on the event loop (and on the ack path for `help`): linear work, well under Slack's 3 s.
    assert time.monotonic() - started < 1.0


def test_a_link_target_full_of_pipes_is_rendered_in_linear_time() -> None:
    # Was catastrophic backtracking in slack_text._TOKEN: 20,000 pipes took 5 s, blocking the event loop.
    started = time.monotonic()
    assert readable("<a:" + "|" * 40_000) == "<a:" + "|" * 40_000
    assert readable("<http://x|" + "|x" * 20_000 + ">") == f"{'|x' * 20_000} (http://x)"
    assert time.monotonic() - started < 1.0


def test_deeply_decorated_arn_is_checked_in_linear_time() -> None:
    # Stripping one layer at a time by slicing copied the rest each time: 60,000 layers took 3 s.
    started = time.monotonic()
    assert parse_incident_record_arn("< " * 60_000 + ARN + " >" * 60_000) == parse_incident_record_arn(ARN)
    command = parse_command("bind " + "<" * 30_000 + ARN + ">" * 30_000)
    assert command == Bind("<" * 30_000 + ARN + ">" * 30_000)
    assert parse_incident_record_arn(command.arn_text) == parse_incident_record_arn(ARN)
    assert time.monotonic() - started < 1.0


_PAIRS = [("`", "`"), ('"', '"'), ("'", "'"), ("<", ">")]
_QUOTES = _PAIRS[:3]
_BLANKS = st.sampled_from(["", " ", "\n", "\t "])


@given(
    st.lists(st.tuples(st.sampled_from(_PAIRS), _BLANKS), max_size=8),
    st.sampled_from(["", "|label", "|a|b", "|", "|<x>"]),
    st.lists(st.tuples(st.sampled_from(_QUOTES), _BLANKS), max_size=4),
)
def test_an_arn_in_any_nesting_of_quotes_and_link_brackets_is_found(
    inner: list[Any], link_label: str, outer: list[Any]
) -> None:
    pasted = ARN
    for (opening, closing), blank in inner:
        pasted = f"{blank}{opening}{blank}{pasted}{blank}{closing}{blank}"
    if link_label:
        # Slack's own <target|label> link, as a paste into the message box becomes.
        pasted = f"<{pasted}{link_label}>"
    for (opening, closing), blank in outer:
        pasted = f"{blank}{opening}{pasted}{closing}{blank}"
    assert str(parse_incident_record_arn(pasted)) == ARN


_INTERNAL_ERROR = internal_error().what


@given(st.one_of(command_text, huge_soup.map("help ".__add__), hostile_text))
@settings(max_examples=400, deadline=None)
def test_any_slash_command_gets_an_immediate_reply_that_is_never_an_internal_error(text: str) -> None:
    command = parse_command(text)
    reply = immediate_reply(command)
    # Replies on the ack are exactly the forms that need no store, Slack or AWS call.
    needs_work = isinstance(command, AddEntry | Unbind | Status | Compose | PickIncident | Timeline)
    if isinstance(command, Bind):
        try:
            parse_incident_reference(command.arn_text)
        except InvalidIncidentArn:
            needs_work = False
        else:
            needs_work = True
    assert (reply is None) == needs_work
    if reply is not None:
        assert _INTERNAL_ERROR not in reply
        # Nothing typed can ping the channel or become a link in the reply.
        assert "<!here>" not in reply and "<!channel>" not in reply and "<http" not in reply


user_input_errors = st.one_of(
    # The problem is the parser's own finding; what the person typed is the original.
    st.builds(
        lambda malformed, typed: MalformedCommand(malformed.reason, malformed.keyword, typed),
        st.sampled_from(["timeline x", "bind a b", "status now", "unbind x"]).map(
            lambda typed: cast(Malformed, parse_command(typed))
        ),
        hostile_soup,
    ),
    st.builds(EntryEmpty, st.sampled_from(EventType)),
    st.builds(NoteTooLong, st.integers(min_value=EVENT_DATA_LIMIT + 1, max_value=10**9)),
    st.builds(InvalidIncidentArn, hostile_soup),
    st.builds(ChannelNotBound),
    st.builds(BindingChanged, hostile_soup),
    st.builds(IncidentResolved, hostile_soup, hostile_soup),
    st.builds(IncidentNotOpen, hostile_soup),
    st.builds(BindNotAllowed, st.frozensets(slack_id), st.frozensets(slack_id)),
)
failure_contexts = st.builds(
    FailureContext,
    action=st.sampled_from(
        [
            "add",
            "bind",
            "unbind",
            "status",
            "announce",
            "compose",
            "capture",
            "pin",
            "pick",
            "timeline",
            "relate",
        ]
    ),
    operation=st.sampled_from(["CreateTimelineEvent", "GetIncidentRecord", "views.open"]),
    incident_title=st.one_of(st.none(), hostile_soup),
    region=st.one_of(st.none(), st.sampled_from(["eu-west-1", "us-gov-west-1"])),
    text=hostile_soup,
)


@given(user_input_errors, failure_contexts)
@settings(max_examples=300, deadline=None)
def test_failures_a_person_can_cause_are_explained_never_an_internal_error(
    error: Exception, context: FailureContext
) -> None:
    kind, text, expected = classify(error, context)
    assert expected and kind != "internal"
    assert _INTERNAL_ERROR not in text
    if isinstance(error, NoteTooLong):
        assert f"{error.over_by:,}" in text
    explanation = explain(error, context)
    assert explanation.kind == kind and f"_Reference: {explanation.reference}_" in explanation.text
    assert "<!here>" not in explanation.text and "<!channel>" not in explanation.text
