"""The "Add to timeline" shortcut and the two forms' submits, called as Bolt calls them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.timeline import EventType, decode_event_data, from_slack_ts
from bot.listeners.shortcuts.add_to_timeline import handle_add_to_timeline
from bot.listeners.views.capture_submission import handle_capture_submission
from bot.listeners.views.compose_submission import handle_compose_submission
from bot.presentation.ids import ActionId, BlockId
from tests.handlers.support import ARN_A, ARN_B, CHANNEL, TEAM, FakeAck, World

TS = "1764150000.123456"


def shortcut() -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "add_to_timeline",
        "trigger_id": "trig-1",
        "team": {"id": TEAM},
        "channel": {"id": CHANNEL},
        "user": {"id": "U0001"},
        "response_url": "https://hooks.slack.com/app/T0001/2/xyz",
        "message": {"type": "message", "user": "U0002", "text": "<@U0001> failed over", "ts": TS},
    }


def state(text: str, event_type: EventType = EventType.NOTE, picked: int | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {
        BlockId.TYPE: {ActionId.TYPE: {"selected_option": {"value": event_type.value}}},
        BlockId.TEXT: {ActionId.TEXT: {"value": text}},
    }
    if picked is not None:
        values[BlockId.TIME] = {ActionId.TIME: {"selected_date_time": picked}}
    return {"values": values}


async def test_the_shortcut_opens_a_form_prefilled_from_the_message(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    ack = FakeAck()
    await handle_add_to_timeline(ack=ack, shortcut=shortcut(), client=bot.web, context=bot.context())
    assert ack.only == {"text": None}
    [opened] = bot.client.called("views.open")
    view = opened["view"]
    assert opened["trigger_id"] == "trig-1" and view["callback_id"] == "capture_timeline_entry"
    text_input = next(block for block in view["blocks"] if block.get("block_id") == BlockId.TEXT)
    assert text_input["element"]["initial_value"] == "@alice failed over"
    metadata = json.loads(view["private_metadata"])
    assert metadata["incident"] == ARN_A and metadata["ts"] == TS and metadata["author"] == "U0002"


async def test_the_shortcut_in_an_unbound_channel_opens_nothing_and_says_how_to_bind(bot: World) -> None:
    await handle_add_to_timeline(ack=FakeAck(), shortcut=shortcut(), client=bot.web, context=bot.context())
    assert bot.client.called("views.open") == []
    [reply] = bot.replies.sent
    assert reply.response_url == "https://hooks.slack.com/app/T0001/2/xyz"
    assert "isn't bound to an incident, so there is no timeline" in reply.text


async def test_submitting_the_capture_form_lands_at_the_messages_time_and_marks_it(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await handle_add_to_timeline(ack=FakeAck(), shortcut=shortcut(), client=bot.web, context=bot.context())
    opened = bot.client.called("views.open")[0]["view"]
    view = {"id": "V1", "private_metadata": opened["private_metadata"], "state": state("@alice failed over")}
    ack = FakeAck()
    body = {"user": {"id": "U0001"}}
    await handle_capture_submission(ack=ack, body=body, view=view, client=bot.web, context=bot.context())
    assert ack.only == {"text": None}
    [entry] = bot.gateway.events_on(ARN_A)
    assert entry.event_time == from_slack_ts(TS)
    assert decode_event_data(entry.event_data).startswith(
        "@alice failed over\n\n— bob, via Slack (added by alice)"
    )
    assert bot.replies.texts[0].startswith("Added a note to <")
    assert [mark["name"] for mark in bot.client.called("reactions.add")] == ["white_check_mark"]


async def test_a_capture_form_submitted_after_a_rebind_is_refused_with_the_text(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await handle_add_to_timeline(ack=FakeAck(), shortcut=shortcut(), client=bot.web, context=bot.context())
    opened = bot.client.called("views.open")[0]["view"]
    await bot.bind(ARN_B, "Payments degraded")
    view = {"id": "V1", "private_metadata": opened["private_metadata"], "state": state("edited words")}
    body = {"user": {"id": "U0001"}}
    await handle_capture_submission(
        ack=FakeAck(), body=body, view=view, client=bot.web, context=bot.context()
    )
    assert bot.gateway.created == []
    [text] = bot.replies.texts
    assert "this channel was bound to *Payments degraded*" in text and "```edited words```" in text


async def test_the_compose_form_refuses_empty_text_and_future_times_in_the_ack(bot: World) -> None:
    future = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    view = {"id": "V9", "private_metadata": "{}", "state": state("  ", picked=future)}
    ack = FakeAck()
    await handle_compose_submission(ack=ack, body={"user": {"id": "U0001"}}, view=view, context=bot.context())
    assert ack.only["response_action"] == "errors"
    assert set(ack.only["errors"]) == {BlockId.TEXT, BlockId.TIME}
    assert bot.gateway.created == [] and bot.replies.sent == []


async def test_the_compose_form_adds_at_the_picked_time(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    picked = int((datetime.now(UTC) - timedelta(minutes=20)).timestamp())
    metadata = json.dumps({"team": TEAM, "channel": CHANNEL, "incident": ARN_A})
    view = {
        "id": "V9",
        "private_metadata": metadata,
        "state": state("rolled back", EventType.CUSTOM_EVENT, picked),
    }
    body = {"user": {"id": "U0001", "username": "alice.l"}}
    await handle_compose_submission(ack=FakeAck(), body=body, view=view, context=bot.context())
    [entry] = bot.gateway.events_on(ARN_A)
    assert entry.event_type is EventType.CUSTOM_EVENT
    assert entry.event_time == datetime.fromtimestamp(picked, UTC)
    assert bot.replies.texts[0].startswith("Added a custom event to <")


async def test_a_form_whose_metadata_is_not_ours_is_answered_by_direct_message(bot: World) -> None:
    view = {"id": "V9", "private_metadata": "not json", "state": state("my words")}
    await handle_compose_submission(
        ack=FakeAck(), body={"user": {"id": "U0001"}}, view=view, context=bot.context()
    )
    [reply] = bot.replies.sent
    assert reply.channel_id == "" and reply.user_id == "U0001" and "```my words```" in reply.text
