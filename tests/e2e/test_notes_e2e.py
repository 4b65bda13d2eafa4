"""`/incident-note` text forms landing on the timeline, end to end through the fakes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from tests.support import slack_requests
from tests.support.harness import Harness


def test_plain_text_lands_as_a_note_referencing_the_incident(bot: Harness) -> None:
    arn = bot.bound_incident()
    before = datetime.now(UTC)
    reply = bot.run("the DB failover finished")
    after = datetime.now(UTC)
    (event,) = bot.aws.events(arn)
    assert event["eventType"] == "Note"
    assert event["eventReferences"] == [{"resource": arn}]
    assert bot.event_text(event) == "the DB failover finished\n\n— alice, via Slack"
    assert before - timedelta(seconds=1) <= event["eventTime"] <= after
    assert event["eventTime"].tzinfo is not None
    assert event["clientToken"].startswith("slack-")
    assert reply.startswith("Added a note to <https://eu-west-1.console.aws.amazon.com/")
    assert "Checkout DB down" in reply and "> the DB failover finished" in reply


def test_explicit_note_and_custom_event(bot: Harness) -> None:
    arn = bot.bound_incident()
    assert "Added a note" in bot.run("note bind step finished")
    assert "Added a custom event" in bot.run("event rollback started")
    note, event = sorted(bot.aws.events(arn), key=lambda e: e["eventTime"])
    assert note["eventType"] == "Note" and bot.event_text(note).startswith("bind step finished\n")
    assert event["eventType"] == "Custom Event" and bot.event_text(event).startswith("rollback started\n")
    assert not event.get("eventReferences")


def test_slack_markup_becomes_readable_text(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.run(
        "<@U0002> restarted <#C0009|payments> per <https://runbook.example.com/db?a=1&amp;b=2|runbook> "
        "&amp; paged <!subteam^S0042|@dba> &lt;ok&gt;"
    )
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).split("\n\n— ")[0] == (
        "@bob restarted #payments per runbook (https://runbook.example.com/db?a=1&b=2) & paged @dba <ok>"
    )


def test_author_is_the_slack_display_name_with_fallbacks(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.run("from carol", user_id="U0003", user_name="carol")
    bot.slack.fail_next("users.info", "user_not_found")
    bot.run("from someone unknown", user_id="U0404", user_name="mallory")
    texts = sorted(bot.event_text(e) for e in bot.aws.events(arn))
    assert texts == [
        "from carol\n\n— Carol Danvers, via Slack",
        "from someone unknown\n\n— mallory, via Slack",
    ]


def test_unbound_channel_says_how_to_bind_and_keeps_the_text(bot: Harness) -> None:
    reply = bot.run("note that nobody will see")
    assert "This channel isn't bound to an incident yet, so nothing was added." in reply
    assert "/incident-note bind &lt;incident-record-arn&gt;" in reply
    assert "```that nobody will see```" in reply
    assert bot.aws.calls_to("CreateTimelineEvent") == []


def test_help_lists_the_forms_in_the_ack(bot: Harness) -> None:
    result = bot.command("help")
    for form in (
        "note &lt;text&gt;",
        "event &lt;text&gt;",
        "bind &lt;incident-record-arn&gt;",
        "unbind",
        "status",
        "help",
    ):
        assert form in result.ack_text
    assert bot.slack.responses(result.response_url) == []


def test_help_with_trailing_text_gives_the_text_back(bot: Harness) -> None:
    result = bot.command("help the db is down")
    assert "note help" in result.ack_text
    assert "```help the db is down```" in result.ack_text


def test_text_given_back_reads_as_typed_not_double_escaped(bot: Harness) -> None:
    # What Slack sends for "a & b @bob <x>" typed in an unbound channel.
    reply = bot.run("a &amp; b <@U0002|bob> &lt;x&gt;")
    assert "```a &amp; b @bob &lt;x&gt;```" in reply  # renders in Slack as: a & b @bob <x>


def test_wrongly_used_keyword_shows_help_and_gives_text_back(bot: Harness) -> None:
    result = bot.command("status of the db")
    assert "`status` takes nothing after it." in result.ack_text
    assert "```status of the db```" in result.ack_text
    assert bot.aws.calls == []


def test_empty_note_and_event_are_refused_in_the_ack(bot: Harness) -> None:
    bot.bound_incident()
    for text, noun in (("note", "note"), ("event   ", "custom event")):
        result = bot.command(text)
        assert f"the {noun} is empty" in result.ack_text
    assert bot.aws.calls_to("CreateTimelineEvent") == []


def test_text_that_is_only_markup_noise_is_refused_as_empty(bot: Harness) -> None:
    bot.bound_incident()
    reply = bot.run("\x00\x01\x02")
    assert "the note is empty" in reply
    assert bot.aws.calls_to("CreateTimelineEvent") == []


def test_too_long_note_is_refused_with_the_limit_and_given_back(bot: Harness) -> None:
    arn = bot.bound_incident()
    text = "x" * 11_990
    reply = bot.run(text)
    assert "Nothing was added" in reply and "12,000 characters" in reply
    # Encoded: 11,990 + 2 quotes + "\\n\\n" (4) + "— alice, via Slack" (18) = 12,014.
    assert "this one is 14 over" in reply
    assert text in reply
    assert bot.aws.events(arn) == []
    assert bot.aws.calls_to("CreateTimelineEvent") == []


def test_longest_note_that_fits_lands_whole(bot: Harness) -> None:
    arn = bot.bound_incident()
    text = "y" * (12_000 - 2 - len("\\n\\n— alice, via Slack"))
    assert "Added a note" in bot.run(text)
    (event,) = bot.aws.events(arn)
    assert len(event["eventData"]) == 12_000


def test_emoji_rtl_and_control_characters(bot: Harness) -> None:
    arn = bot.bound_incident()
    text = "📌 DB ok 👩‍💻 \u05e9\u05dc\u05d5\u05dd \u200f done\x07\x1b[31m end"
    assert "Added a note" in bot.run(text)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("📌 DB ok 👩‍💻 \u05e9\u05dc\u05d5\u05dd \u200f done[31m end\n")


def test_invalid_utf8_and_surrogate_bytes_in_the_form_body(bot: Harness) -> None:
    # A form body can carry bytes that are not UTF-8 (here a UTF-8-encoded lone surrogate and a stray
    # continuation byte); they must become U+FFFD, not an error.
    arn = bot.bound_incident()
    fields = [
        ("team_id", "T0001"),
        ("channel_id", "C0001"),
        ("user_id", "U0001"),
        ("user_name", "alice"),
        ("command", "/incident-note"),
        ("text", b"bad \xed\xa0\x80 and \x80 end"),
        ("response_url", bot.slack.new_response_url()),
        ("trigger_id", bot.slack.issue_trigger_id()),
    ]
    body = urlencode(fields)
    headers = {"Content-Type": slack_requests.FORM, **slack_requests.sign(body, bot.secret)}
    assert bot.post(body, headers).status == 200
    (reply,) = bot.slack.wait_for_responses(dict(fields)["response_url"], 1)  # type: ignore[arg-type]
    assert "Added a note" in reply["text"]
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("bad \ufffd")
    assert "end\n" in bot.event_text(event)


def test_same_request_twice_creates_one_event_and_asks_aws_once(bot: Harness) -> None:
    arn = bot.bound_incident()
    first = bot.command("only once please")
    assert "Added a note" in bot.reply(first)
    repeat = bot.command("only once please", trigger_id=first.trigger_id, retry_num=1)
    assert "Already on the timeline of" in bot.reply(repeat)
    assert len(bot.aws.events(arn)) == 1
    # Already on the timeline: the repeat is answered from the store.
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 1


def test_repeat_of_an_unfinished_request_resends_exactly_the_first_parameters(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=3)
    first = bot.command("only once please")
    assert "throttling" in bot.reply(first)
    time.sleep(0.05)  # a later arrival: a rebuilt entry would carry a later eventTime
    repeat = bot.command("only once please", trigger_id=first.trigger_id, retry_num=1)
    assert "Added a note" in bot.reply(repeat)
    (event,) = bot.aws.events(arn)
    creates = bot.aws.calls_to("CreateTimelineEvent")
    assert len(creates) == 4
    assert all(call.params == creates[0].params for call in creates)  # eventTime included
    assert event["eventTime"] == creates[0].params["eventTime"]


def test_two_commands_make_two_events(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.run("same words")
    bot.run("same words")
    assert len(bot.aws.events(arn)) == 2


def test_ack_comes_before_aws_answers(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.aws.set_latency(2.0, operation="CreateTimelineEvent")
    result = bot.command("slow AWS")
    # The ack is back while Incident Manager is still holding the request.
    assert result.ack.status == 200 and result.ack.body == ""
    assert bot.aws.events(arn) == []
    assert bot.slack.responses(result.response_url) == []
    assert "Added a note" in bot.reply(result)
    assert len(bot.aws.events(arn)) == 1


def test_reply_falls_back_to_post_ephemeral_when_response_url_is_used_up(bot: Harness) -> None:
    arn = bot.bound_incident()
    response_url = bot.slack.new_response_url()
    bot.slack.expire_response_url(response_url)
    result = bot.command("reply another way", response_url=response_url)
    (ephemeral,) = bot.slack.wait_for_calls("chat.postEphemeral", 1, timeout=10)
    assert ephemeral.params["channel"] == "C0001" and ephemeral.params["user"] == "U0001"
    assert "Added a note" in ephemeral.params["text"]
    assert len(bot.aws.events(arn)) == 1
    assert result.ack.status == 200
