"""Slack message objects -> author, thread and markup, as the bot puts them on a timeline."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.slack_message import SlackMessage, parse_message
from bot.domain.slack_text import readable, render_readable

TS = "1712345678.123456"


def rich(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text", "elements": list(elements)}


def section(*inline: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text_section", "elements": list(inline)}


def text(value: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **({"style": style} if style else {})}


def test_plain_user_message() -> None:
    message = {
        "type": "message",
        "ts": TS,
        "user": "U1",
        "text": "  database is down  ",
        "user_profile": {"display_name": "alice", "real_name": "Alice Smith", "name": "asmith"},
    }
    assert parse_message(message) == SlackMessage(
        ts=TS, author_id="U1", author_label="alice", markup="database is down"
    )


def test_text_markup_passes_through_unchanged_and_reads_end_to_end() -> None:
    markup = "<@U2> see <https://x.example.com/?a=1&amp;b=2|runbook> in <#C1|inc> &lt;now&gt;"
    parsed = parse_message({"ts": TS, "user": "U1", "text": markup})
    assert parsed.markup == markup
    assert readable(parsed.markup, {"U2": "bob"}) == (
        "@bob see runbook (https://x.example.com/?a=1&b=2) in #inc <now>"
    )


def test_author_label_falls_back_from_display_name_to_real_name_to_id() -> None:
    profile = {"display_name": "  ", "real_name": "Alice Smith"}
    assert parse_message({"ts": TS, "user": "U1", "user_profile": profile}).author_label == "Alice Smith"
    assert (
        parse_message({"ts": TS, "user": "U1", "user_profile": {"name": "asmith"}}).author_label == "asmith"
    )
    assert parse_message({"ts": TS, "user": "U1"}).author_label == "U1"
    assert parse_message({"ts": TS, "user": ""}).author_id is None


def test_a_thread_reply_reads_like_any_message() -> None:
    parsed = parse_message({"ts": TS, "thread_ts": "1712345600.000100", "user": "U1", "text": "on it"})
    assert (parsed.ts, parsed.markup) == (TS, "on it")


def test_bot_message_with_bot_profile_and_no_user() -> None:
    message = {
        "ts": TS,
        "subtype": "bot_message",
        "bot_id": "B1",
        "bot_profile": {"id": "B1", "name": "PagerDuty"},
        "text": "Incident triggered",
    }
    parsed = parse_message(message)
    assert (parsed.author_id, parsed.author_label, parsed.markup) == (None, "PagerDuty", "Incident triggered")


def test_bot_message_with_only_a_custom_username() -> None:
    parsed = parse_message({"ts": TS, "subtype": "bot_message", "bot_id": "B1", "username": "deploy-bot"})
    assert (parsed.author_id, parsed.author_label) == (None, "deploy-bot")


def test_message_with_only_a_bot_id_and_with_nothing() -> None:
    assert parse_message({"ts": TS, "bot_id": "B123"}).author_label == "an app (B123)"
    nothing = parse_message({"ts": TS})
    assert (nothing.author_label, nothing.markup, nothing.author_id) == ("someone", "", None)


def test_rich_text_blocks_render_when_text_is_empty() -> None:
    blocks = [
        rich(
            section(
                {"type": "emoji", "name": "pushpin", "unicode": "1f4cc"},
                text(" Status for "),
                {"type": "user", "user_id": "U2"},
                text(": a < b & c", bold=True),
                {"type": "broadcast", "range": "here"},
                {"type": "mystery", "text": "never shown"},
            ),
            {
                "type": "rich_text_list",
                "style": "bullet",
                "indent": 0,
                "elements": [section(text("db down")), section(text("api slow"))],
            },
            {
                "type": "rich_text_list",
                "style": "bullet",
                "indent": 1,
                "elements": [section(text("replica lag"))],
            },
            {
                "type": "rich_text_list",
                "style": "ordered",
                "elements": [
                    section(text("fail over")),
                    section(
                        text("see "), {"type": "link", "url": "https://rb.example.com", "text": "runbook"}
                    ),
                ],
            },
            {"type": "rich_text_quote", "elements": [text("customers say\nit's slow")]},
            {"type": "rich_text_preformatted", "elements": [text("  SELECT 1 < 2;")]},
        )
    ]
    parsed = parse_message({"ts": TS, "user": "U1", "text": "", "blocks": blocks})
    assert parsed.markup == (
        "📌 Status for <@U2>: a &lt; b &amp; c<!here>\n"
        "• db down\n"
        "• api slow\n"
        "  • replica lag\n"
        "1. fail over\n"
        "2. see <https://rb.example.com|runbook>\n"
        "&gt; customers say\n"
        "&gt; it's slow\n"
        "  SELECT 1 &lt; 2;"
    )
    assert readable(parsed.markup, {"U2": "bob"}) == (
        "📌 Status for @bob: a < b & c@here\n"
        "• db down\n"
        "• api slow\n"
        "  • replica lag\n"
        "1. fail over\n"
        "2. see runbook (https://rb.example.com)\n"
        "> customers say\n"
        "> it's slow\n"
        "  SELECT 1 < 2;"
    )


def test_rich_text_inline_elements_without_optional_parts() -> None:
    blocks = [
        rich(
            section(
                {"type": "emoji", "name": "partyparrot"},
                text(" "),
                {"type": "emoji", "name": "flag-gb", "unicode": "1f1ec-1f1e7"},
                text(" "),
                {"type": "emoji", "name": "weird", "unicode": "zzz"},
                text(" "),
                {"type": "link", "url": "https://a.example.com/?x=1&y=2"},
                text(" "),
                {"type": "channel", "channel_id": "C9"},
                text(" "),
                {"type": "usergroup", "usergroup_id": "S1"},
                text(" "),
                {"type": "date", "timestamp": 1700000000},
                text(" "),
                {"type": "date", "timestamp": 1700000000, "fallback": "Nov 14"},
                text(" "),
                {"type": "color", "value": "#FF0000"},
                {"type": "user", "user_id": "U1>|<oops"},
            ),
            {"type": "rich_text_list", "style": "ordered", "offset": 2, "elements": [section(text("third"))]},
        )
    ]
    assert parse_message({"ts": TS, "blocks": blocks}).markup == (
        ":partyparrot: 🇬🇧 :weird: <https://a.example.com/?x=1&amp;y=2> <#C9> <!subteam^S1> "
        "1700000000 Nov 14 #FF0000\n"
        "3. third"
    )


def test_text_wins_over_blocks() -> None:
    parsed = parse_message({"ts": TS, "text": "from text", "blocks": [rich(section(text("from blocks")))]})
    assert parsed.markup == "from text"


def test_section_header_and_context_blocks() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy <prod> & co"}},
        {"type": "divider"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Service* <https://svc.example.com|api> &amp; more"},
            "fields": [
                {"type": "mrkdwn", "text": "*Env:* prod"},
                {"type": "plain_text", "text": "Owner: <@U2>"},
            ],
        },
        {"type": "image", "image_url": "https://img.example.com/x.png", "alt_text": "graph"},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Ack"}}]},
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "https://img.example.com/i.png", "alt_text": "icon"},
                {"type": "mrkdwn", "text": "by <@U2>"},
                {"type": "plain_text", "text": "at 10:00"},
            ],
        },
    ]
    parsed = parse_message({"ts": TS, "bot_id": "B1", "text": " ", "blocks": blocks})
    assert parsed.markup == (
        "Deploy &lt;prod&gt; &amp; co\n"
        "*Service* <https://svc.example.com|api> &amp; more\n"
        "*Env:* prod\n"
        "Owner: &lt;@U2&gt;\n"
        "by <@U2> at 10:00"
    )
    # A plain_text "<@U2>" is literal text, not a mention; the mrkdwn one is.
    assert readable(parsed.markup, {"U2": "bob"}).splitlines()[-2:] == ["Owner: <@U2>", "by @bob at 10:00"]


def test_attachments_only() -> None:
    attachments = [
        {
            "fallback": "Alarm: CPU high",
            "pretext": "CloudWatch alarm",
            "title": "CPU high on db-1",
            "title_link": "https://console.example.com/alarm?id=1&region=eu",
            "text": "Threshold crossed &gt; 90%",
            "fields": [
                {"title": "Region", "value": "eu-west-1", "short": True},
                {"title": "", "value": "no title"},
                {"title": "State", "value": ""},
            ],
        },
        {"fallback": "Only a fallback"},
        {
            "title": "Plain title",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "in a block"}}],
        },
        "not an attachment",
        {},
    ]
    parsed = parse_message({"ts": TS, "bot_id": "B1", "attachments": attachments})
    assert parsed.markup == (
        "CloudWatch alarm\n"
        "<https://console.example.com/alarm?id=1&amp;region=eu|CPU high on db-1>\n"
        "Threshold crossed &gt; 90%\n"
        "Region: eu-west-1\n"
        "no title\n"
        "State\n"
        "\n"
        "Only a fallback\n"
        "\n"
        "Plain title\n"
        "in a block"
    )
    assert readable(parsed.markup).splitlines()[1:3] == [
        "CPU high on db-1 (https://console.example.com/alarm?id=1&region=eu)",
        "Threshold crossed > 90%",
    ]


def test_attachment_repeating_the_text_is_skipped_but_others_kept() -> None:
    message = {
        "ts": TS,
        "user": "U1",
        "text": "<https://status.example.com>",
        "attachments": [
            {"fallback": "<https://status.example.com>"},
            {"title": "Status page", "text": "All systems degraded"},
        ],
    }
    assert parse_message(message).markup == (
        "<https://status.example.com>\n\nStatus page\nAll systems degraded"
    )


def test_files_with_and_without_permalink_and_gone() -> None:
    files = [
        {"id": "F1", "name": "graph|cpu<1>.png", "permalink": "https://x.slack.com/files/U1/F1/graph.png"},
        {"id": "F2", "title": "notes & logs"},
        {"id": "F3", "mode": "tombstone"},
        {"id": "F4", "mode": "hidden_by_limit", "name": "old.txt"},
        {"id": "F5", "name": "", "title": None},
        42,
    ]
    parsed = parse_message({"ts": TS, "user": "U1", "text": "see attached", "files": files})
    assert parsed.markup == (
        "see attached\n\n"
        "Files:\n"
        "• <https://x.slack.com/files/U1/F1/graph.png|graph¦cpu&lt;1&gt;.png>\n"
        "• notes &amp; logs\n"
        "• (a file that is no longer available)\n"
        "• (a file that is no longer available)\n"
        "• F5"
    )
    assert readable(parsed.markup).splitlines()[3:5] == [
        "• graph¦cpu<1>.png (https://x.slack.com/files/U1/F1/graph.png)",
        "• notes & logs",
    ]


def test_empty_or_odd_files_add_nothing() -> None:
    assert parse_message({"ts": TS, "text": "hi", "files": []}).markup == "hi"
    assert parse_message({"ts": TS, "text": "hi", "files": [None, "F1"]}).markup == "hi"
    assert parse_message({"ts": TS, "text": "hi", "files": {"id": "F1"}}).markup == "hi"


def test_edited_message_has_the_current_text() -> None:
    message = {
        "ts": TS,
        "user": "U1",
        "text": "db is back",
        "edited": {"user": "U1", "ts": "1712345700.000000"},
    }
    assert parse_message(message).markup == "db is back"


@pytest.mark.parametrize("message", [{}, {"ts": ""}, {"ts": 1712345678.1}, {"ts": "abc"}, {"ts": "1.2.3"}])
def test_missing_or_malformed_ts_is_a_value_error(message: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="ts"):
        parse_message(message)


def test_integer_ts_string_is_accepted() -> None:
    assert parse_message({"ts": "1712345678"}).ts == "1712345678"


# Keys and values the parser looks at, so generated payloads reach deep paths instead of being ignored.
_KEYS = [
    "ts", "thread_ts", "user", "text", "blocks", "attachments", "files", "edited", "user_profile",
    "bot_profile", "username", "bot_id", "display_name", "real_name", "name", "type", "elements",
    "style", "indent", "offset", "url", "user_id", "channel_id", "usergroup_id", "range", "unicode",
    "timestamp", "fallback", "value", "fields", "title", "title_link", "pretext", "permalink", "mode", "id",
]  # fmt: skip
_WORDS = [
    "rich_text", "rich_text_section", "rich_text_list", "rich_text_quote", "rich_text_preformatted",
    "text", "link", "user", "channel", "usergroup", "broadcast", "emoji", "date", "color", "section",
    "header", "context", "mrkdwn", "plain_text", "bullet", "ordered", "here", "tombstone",
    "hidden_by_limit", "1f4cc", "d800", "110000", "1f1ec-1f1e7", "<@U2>", "&amp;", "|", "\n",
]  # fmt: skip
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(_WORDS)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=40,
)


@example(payload={"blocks": [{"type": []}]}, ts=TS)  # once crashed: a block type that is not a string
@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=5), _json, max_size=10),
    st.sampled_from([TS, "1"]),
)
def test_any_payload_with_a_valid_ts_parses(payload: dict[Any, Any], ts: str) -> None:
    parsed = parse_message({**payload, "ts": ts})
    assert parsed.ts == ts
    assert parsed.author_label and parsed.author_label == parsed.author_label.strip()
    assert parsed.markup == parsed.markup.strip()
    readable(parsed.markup, {"U2": "bob"})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_plain_rich_text_reads_back_exactly(value: str) -> None:
    """Escaping is right when `readable` gives back exactly what was typed, brackets and entities too."""
    parsed = parse_message({"ts": TS, "blocks": [rich(section(text(value)))]})
    assert render_readable(parsed.markup) == value.strip()


def test_an_apps_laid_out_blocks_win_over_its_notification_text() -> None:
    message = {
        "ts": TS,
        "bot_id": "B1",
        "text": "New alert",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "p99 latency > 2s"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*checkout* is degraded"}},
        ],
    }
    assert parse_message(message).markup == "p99 latency &gt; 2s\n*checkout* is degraded"


def test_a_persons_rich_text_blocks_do_not_repeat_the_text() -> None:
    rich = {
        "type": "rich_text",
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]}],
    }
    assert parse_message({"ts": TS, "user": "U1", "text": "hi", "blocks": [rich]}).markup == "hi"
