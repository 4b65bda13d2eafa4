"""A pin spends nothing before its duplicate check: one person toggling 📌 costs no Slack read, a message
mentioning hundreds of people costs a bounded round of name look-ups, and a text too long whatever the
names costs none."""

from __future__ import annotations

from tests.support.harness import Harness

CHANNEL = "C0001"


def test_a_second_pin_of_a_message_on_the_timeline_reads_nothing_from_slack(bot: Harness) -> None:
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica promoted"})
    bot.react(ts, user_id="U0001")
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    reads = len(bot.slack.calls_to("conversations.history")), len(bot.slack.calls_to("chat.getPermalink"))
    assert reads == (1, 1)
    for pinner in ("U0003", "U0001", "U0002"):
        assert bot.react(ts, user_id=pinner).status == 200
    bot.slack.wait_for_calls("reactions.add", 4, timeout=10)  # each answered with the ✅ (already there)
    assert len(bot.slack.calls_to("conversations.history")) == 1
    assert len(bot.slack.calls_to("chat.getPermalink")) == 1
    assert len(bot.aws.events(arn)) == 1


def test_a_message_mentioning_hundreds_of_people_looks_up_a_bounded_number(bot: Harness) -> None:
    arn = bot.bound_incident()
    crowd = " ".join(f"<@U9{n:05d}>" for n in range(300))
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": f"paging {crowd}"})
    bot.react(ts, user_id="U0001")
    bot.slack.wait_for_calls("reactions.add", 1, timeout=15)
    assert len(bot.aws.events(arn)) == 1
    assert len(bot.slack.calls_to("users.info")) <= 50


def test_a_note_too_long_whatever_the_names_looks_up_no_mention(bot: Harness) -> None:
    bot.bound_incident()
    mentions = " ".join(f"<@U9{n:05d}>" for n in range(40))
    reply = bot.run(f"{mentions} " + "x" * 12_500)
    assert "Nothing was added: Incident Manager takes at most 12,000 characters" in reply
    # Only the author's name, for the byline (so the count to cut is exact); no mention's.
    assert [call.params["user"] for call in bot.slack.calls_to("users.info")] == ["U0001"]
