from bot.domain.slack_text import clean_text, referenced_user_ids, render_readable


def test_mentions_channels_groups_and_links_become_readable() -> None:
    text = (
        "<@U123> and <@U999|bob> in <#C1|inc-db>, paged <!subteam^S1|@oncall> <!here> "
        "see <https://status.example.com|status page> and <https://x.example.com> "
        "mail <mailto:ops@example.com|ops@example.com> at <!date^1700000000^{time}|10:00>"
    )
    assert referenced_user_ids(text) == {"U123", "U999"}
    assert render_readable(text, {"U123": "Alice"}) == (
        "@Alice and @bob in #inc-db, paged @oncall @here "
        "see status page (https://status.example.com) and https://x.example.com "
        "mail ops@example.com at 10:00"
    )


def test_unknown_user_falls_back_to_id_and_entities_decode() -> None:
    assert render_readable("<@U123> said a &lt; b &amp;&amp; c &gt; d") == "@U123 said a < b && c > d"


def test_entity_inside_link_url_is_decoded() -> None:
    assert (
        render_readable("<https://x.example.com/?a=1&amp;b=2|q&amp;a>")
        == "q&a (https://x.example.com/?a=1&b=2)"
    )


def test_unmatched_brackets_are_left_alone() -> None:
    assert render_readable("a < b and c >") == "a < b and c >"


def test_clean_text_drops_controls_and_lone_surrogates_but_keeps_rtl_and_emoji() -> None:
    rtl = "\u05e9\u05dc\u05d5\u05dd \u200f"  # Hebrew and a right-to-left mark
    dirty = "a\x00b\x07c\r\nd\te\ud800f 👩‍💻 " + rtl
    cleaned = clean_text(dirty)
    assert cleaned == "abc\nd\te\ufffdf 👩‍💻 " + rtl
    cleaned.encode("utf-8")  # always encodable


def test_display_name_wins_over_the_mention_label() -> None:
    # Slack labels a mention with the legacy handle; the timeline shows people as the channel does.
    assert render_readable("<@U999|bob>", {"U999": "Bob Builder"}) == "@Bob Builder"
