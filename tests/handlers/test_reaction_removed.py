"""📌 taken off a message, called as Bolt calls the event listener (the use case is a fake here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.domain.slack_message import MessageRef
from bot.listeners.events.reaction_removed import handle_reaction_removed
from bot.usecases.changes import Changed, ChangeResult
from bot.usecases.errors import IncidentManagerError
from tests.handlers.fake_changes import stored_entry
from tests.handlers.support import ARN_A, BOT_USER, CHANNEL, TEAM, World, world

TS = "1764150000.123456"
REF = MessageRef(TEAM, CHANNEL, TS)


@pytest.fixture
async def bot() -> AsyncIterator[World]:
    """The handler tier's world with a fake of the lifecycle use case (its own tests are core's)."""
    made = world(fake_changes=True)
    try:
        yield made
    finally:
        await made.deps.outbox.stop(0.5)
        await made.store.close()


def unpin(
    user: str = "U0001", reaction: str = "pushpin", event_id: str = "Ev1", **item: str
) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": event_id,
        "event": {
            "type": "reaction_removed",
            "user": user,
            "reaction": reaction,
            "item_user": "U0002",
            "item": {"type": "message", "channel": CHANNEL, "ts": TS, **item},
        },
    }


async def run(bot: World, body: dict[str, Any]) -> None:
    await handle_reaction_removed(event=body["event"], body=body, client=bot.web, context=bot.context())


def on_the_timeline(bot: World) -> None:
    """The message has a live entry on ARN_A (what the listener looks up before anything else)."""
    bot.changes.following[REF] = [stored_entry(ARN_A, message_ts=TS)]


async def test_the_last_unpin_deletes_the_pins_event_and_takes_the_check_mark_off(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    on_the_timeline(bot)
    bot.changes.answers["pin_removed"] = Changed(ChangeResult.DONE, stored_entry(ARN_A, message_ts=TS))
    await run(bot, unpin())
    assert bot.changes.called("pin_removed") == [(REF, "U0001", ARN_A)]
    [unmark] = bot.client.called("reactions.remove")
    assert unmark == {"channel": CHANNEL, "timestamp": TS, "name": "white_check_mark"}
    assert bot.replies.sent == []  # the ✅ going is what everyone sees


async def test_an_unpin_of_a_queued_pin_cancels_it_and_unmarks(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    on_the_timeline(bot)
    bot.changes.answers["pin_removed"] = Changed(ChangeResult.CANCELLED, None)
    await run(bot, unpin())
    assert len(bot.client.called("reactions.remove")) == 1 and bot.replies.sent == []


async def test_while_someone_else_pins_it_nothing_changes(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    on_the_timeline(bot)
    bot.changes.answers["pin_removed"] = Changed(ChangeResult.NOTHING, stored_entry(ARN_A, message_ts=TS))
    await run(bot, unpin())
    assert bot.client.calls == [] and bot.replies.sent == []


async def test_a_delete_waiting_for_aws_leaves_the_mark_to_the_outbox(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    on_the_timeline(bot)
    bot.changes.answers["pin_removed"] = Changed(ChangeResult.QUEUED, stored_entry(ARN_A, message_ts=TS))
    await run(bot, unpin())
    assert bot.client.calls == [] and bot.replies.sent == []


async def test_the_mark_stays_while_the_message_is_on_another_incidents_timeline(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.answers["pin_removed"] = Changed(ChangeResult.DONE, stored_entry(ARN_A, message_ts=TS))
    bot.changes.following[REF] = [
        stored_entry(ARN_A, message_ts=TS),
        stored_entry("arn:aws:ssm-incidents::1:incident-record/p/old", message_ts=TS),
    ]
    await run(bot, unpin())
    assert bot.client.called("reactions.remove") == []


async def test_aws_refusing_tells_the_unpinner_why_with_a_reference(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    on_the_timeline(bot)
    denied = IncidentManagerError("no", code="AccessDeniedException", status=403)
    bot.changes.answers["pin_removed"] = Changed(ChangeResult.REFUSED, stored_entry(ARN_A), denied)
    await run(bot, unpin())
    [reply] = bot.replies.sent
    assert reply.user_id == "U0001" and reply.channel_id == CHANNEL
    assert reply.text.startswith("Un-pinning didn't take the message off the timeline of <")
    assert (
        "`ssm-incidents:DeleteTimelineEvent`" in reply.text and "It is still on the timeline." in reply.text
    )
    assert "_Reference: " in reply.text and bot.client.calls == []


async def test_a_failure_is_explained_to_the_unpinner(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    on_the_timeline(bot)
    bot.changes.answers["pin_removed"] = RuntimeError("store unavailable")
    await run(bot, unpin())
    [reply] = bot.replies.sent
    assert "Something went wrong inside the bot" in reply.text and "_Reference: " in reply.text


async def test_other_emoji_other_items_the_bot_itself_and_unbound_channels_cost_nothing(bot: World) -> None:
    await run(bot, unpin())  # no binding
    await bot.bind(ARN_A, "Checkout DB down")
    await run(bot, unpin(reaction="eyes", event_id="Ev2"))
    await run(bot, unpin(user=BOT_USER, event_id="Ev3"))
    body = unpin(event_id="Ev4")
    body["event"]["item"] = {"type": "file", "file": "F1"}
    await run(bot, body)
    assert bot.changes.calls == [] and bot.client.calls == [] and bot.replies.sent == []


async def test_a_skin_tone_variant_is_the_same_emoji_and_a_redelivery_is_dropped(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    on_the_timeline(bot)
    await run(bot, unpin(reaction="pushpin::skin-tone-2"))
    await run(bot, unpin(reaction="pushpin::skin-tone-2"))  # Slack again, same event_id
    assert len(bot.changes.called("pin_removed")) == 1


async def test_an_unpin_of_a_message_on_no_timeline_is_one_read_and_no_write(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await run(bot, unpin())
    assert bot.changes.calls == [("entries_following", (REF,))]
    assert bot.client.calls == [] and bot.replies.sent == []
    # Not remembered as delivered either (that is a write): a later delivery is looked at afresh.
    assert await bot.deps.delivered_events.first_time(f"{TEAM}:Ev1")


async def test_a_store_failure_looking_the_message_up_is_explained_to_the_unpinner(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.answers["entries_following"] = RuntimeError("store unavailable")
    await run(bot, unpin())
    [reply] = bot.replies.sent
    assert reply.text.startswith("Un-pinning didn't take the message off the timeline of <")
    assert "_Reference: " in reply.text and bot.changes.called("pin_removed") == []
