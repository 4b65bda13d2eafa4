"""`/incident-note timeline [n]` and its "More" button, called as Bolt calls them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.timeline import Attribution, compose_event_text, encode_event_data
from bot.listeners.actions.timeline_more import handle_timeline_more
from bot.listeners.commands.incident_note import handle_incident_note
from bot.presentation.ids import ActionId
from bot.usecases.errors import IncidentManagerError
from tests.handlers.support import ARN_A, ARN_B, CHANNEL, TEAM, FakeAck, SentReply, World

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PERMALINK = "https://acme.slack.com/archives/C0001/p1764150000123456"


def command(text: str) -> dict[str, Any]:
    return {
        "command": "/incident-note",
        "text": text,
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "user_id": "U0002",
        "user_name": "bob",
        "trigger_id": "1337.42.abcd",
        "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
    }


async def run(bot: World, text: str) -> FakeAck:
    ack = FakeAck()
    await handle_incident_note(ack=ack, command=command(text), client=bot.web, context=bot.context())
    return ack


def texts_of(reply: SentReply) -> str:
    assert reply.blocks is not None
    return "\n".join(
        block.get("text", {}).get("text", "") if block["type"] == "section" else json.dumps(block)
        for block in reply.blocks
    )


async def a_busy_timeline(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.gateway.add_event(ARN_A, "SSM Incident Trigger", json.dumps({"title": "Checkout DB down"}), START)
    pinned = compose_event_text("failed over to the replica", Attribution("bob", "alice", PERMALINK))
    bot.gateway.add_event(ARN_A, "Note", encode_event_data(pinned), START + timedelta(minutes=1))
    for i in range(2, 14):
        bot.gateway.add_event(ARN_A, "Custom Event", json.dumps(f"step {i}"), START + timedelta(minutes=i))


async def test_timeline_shows_the_latest_ten_newest_first_in_the_readers_timezone(bot: World) -> None:
    await a_busy_timeline(bot)
    ack = await run(bot, "timeline")
    assert ack.only == {"text": None}
    [reply] = bot.replies.sent
    assert reply.response_url == "https://hooks.slack.com/commands/T0001/1/abc"
    assert reply.text == "The latest 10 timeline events on Checkout DB down"
    shown = texts_of(reply)
    assert "*The latest 10 events on <https://eu-west-1.console.aws.amazon.com/" in shown
    steps = [f"step {i}" for i in range(13, 3, -1)]
    assert [line[2:] for line in shown.splitlines() if line.startswith("> ")] == steps
    at = int((START + timedelta(minutes=13)).timestamp())
    assert (
        f"*<!date^{at}^{{date_short_pretty}} {{time_secs}}|2026-11-26 09:13:00 UTC>* · Custom Event" in shown
    )
    assert reply.blocks is not None
    [button] = reply.blocks[-1]["elements"]
    assert button["action_id"] == ActionId.TIMELINE_MORE and button["text"]["text"] == "More"
    [listed] = bot.gateway.called("ListTimelineEvents")
    assert listed["limit"] == 10


async def test_more_gives_the_next_page_with_incident_managers_own_events_and_the_link_back(
    bot: World,
) -> None:
    await a_busy_timeline(bot)
    await run(bot, "timeline 10")
    first = bot.replies.sent[0]
    assert first.blocks is not None
    value = first.blocks[-1]["elements"][0]["value"]
    body = {
        "type": "block_actions",
        "user": {"id": "U0002"},
        "channel": {"id": CHANNEL},
        "response_url": "https://hooks.slack.com/actions/T0001/2/def",
        "actions": [{"action_id": ActionId.TIMELINE_MORE, "value": value}],
    }
    ack = FakeAck()
    await handle_timeline_more(ack=ack, body=body, context=bot.context())
    assert ack.only == {"text": None}
    second = bot.replies.sent[1]
    assert second.response_url == "https://hooks.slack.com/actions/T0001/2/def"
    shown = texts_of(second)
    assert "*4 earlier events on <" in shown
    assert "> step 3\n" in shown and "> step 2\n" in shown
    assert "> failed over to the replica\n> \n> — bob, via Slack (added by alice)" in shown
    assert f"<{PERMALINK}|the message in Slack>" in shown
    assert "> title: Checkout DB down" in shown and "· SSM Incident Trigger" in shown
    assert "That is the beginning of the timeline." in shown


async def test_timeline_n_asks_for_n_and_an_empty_timeline_says_so(bot: World) -> None:
    await bot.bind(ARN_A, "Quiet incident")
    await run(bot, "timeline 3")
    assert bot.gateway.called("ListTimelineEvents")[0]["limit"] == 3
    assert "has no events yet" in texts_of(bot.replies.sent[0])


async def test_timeline_in_an_unbound_channel_says_how_to_bind(bot: World) -> None:
    await run(bot, "timeline")
    [text] = bot.replies.texts
    assert "isn't bound to an incident, so there is no timeline to show" in text
    assert bot.gateway.calls == []


async def test_a_bad_count_is_answered_on_the_ack_with_the_note_form(bot: World) -> None:
    ack = await run(bot, "timeline of the outage")
    text = str(ack.only["text"])
    assert "`timeline` takes how many events to show, from 1 to 50" in text
    assert "`/incident-note note timeline …`" in text and "```timeline of the outage```" in text
    assert bot.replies.sent == []


async def test_a_refusal_goes_through_the_mapping_layer(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.gateway.fail_next(
        "ListTimelineEvents", IncidentManagerError("denied", code="AccessDeniedException", status=403)
    )
    await run(bot, "timeline")
    [text] = bot.replies.texts
    assert "isn't allowed to call `ssm-incidents:ListTimelineEvents` on this incident" in text
    assert "_Reference: " in text


async def test_more_after_a_rebind_does_not_show_another_incidents_timeline(bot: World) -> None:
    await a_busy_timeline(bot)
    await run(bot, "timeline")
    first = bot.replies.sent[0]
    assert first.blocks is not None
    value = first.blocks[-1]["elements"][0]["value"]
    await bot.bind(ARN_B, "Another one")
    body = {"user": {"id": "U0002"}, "channel": {"id": CHANNEL}, "actions": [{"value": value}]}
    await handle_timeline_more(ack=FakeAck(), body=body, context=bot.context())
    assert "has been bound to another incident (or unbound) since that list" in bot.replies.texts[1]
    assert len(bot.gateway.called("ListTimelineEvents")) == 1


async def test_fifty_long_events_fit_one_message(bot: World) -> None:
    await bot.bind(ARN_A, "Long")
    for i in range(60):
        bot.gateway.add_event(
            ARN_A, "Note", json.dumps(f"{i} " + "& <@U1> " * 400), START + timedelta(seconds=i)
        )
    await run(bot, "timeline 50")
    [reply] = bot.replies.sent
    assert reply.blocks is not None and len(reply.blocks) <= 50
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in reply.blocks)
    assert "<@U1>" not in texts_of(reply) and "&amp; &lt;@U1&gt;" in texts_of(reply)
