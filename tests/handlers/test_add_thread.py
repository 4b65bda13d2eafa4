""" "Add thread to timeline", called as Bolt calls the message shortcut listener."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from slack_sdk.models.views import View

from bot.domain.threads import THREAD_CAP
from bot.domain.timeline import TimelineEntry, client_token, decode_event_data, from_slack_ts
from bot.listeners.events.reaction_added import handle_reaction_added
from bot.listeners.shortcuts.add_thread_to_timeline import handle_add_thread_to_timeline
from bot.presentation.ids import CallbackId
from bot.presentation.messages.threads import thread_not_bound
from bot.usecases.errors import IncidentManagerError
from bot.usecases.outbox import Notice, NoticeKind, Outbox, Told
from bot.usecases.ports import EntryState, OwedChange, StoredEntry
from bot.usecases.sources import pin_token_source
from bot.usecases.threads import SENDS_AT_ONCE
from bot.usecases.timeline import TimelineService
from tests.handlers.support import (
    ARN_A,
    BOT_USER,
    CHANNEL,
    TEAM,
    FakeAck,
    MemoryGateway,
    NoFollowUps,
    World,
    world,
)

PARENT = "1764150000.000100"
USERS = ("U0001", "U0002", "U0003")


def reply_ts(i: int) -> str:
    return f"{1764150000 + i * 60}.{i:06d}"


def seed_thread(bot: World, replies: int, **extra: dict[str, Any]) -> list[dict[str, Any]]:
    """A thread in the fake Slack: the parent by alice, then `replies` replies a minute apart, by turns."""
    parent = {
        "type": "message",
        "user": "U0001",
        "text": "primary DB down",
        "ts": PARENT,
        "thread_ts": PARENT,
    }
    thread = [parent] + [
        {
            "type": "message",
            "user": USERS[i % 3],
            "text": f"update {i}",
            "ts": reply_ts(i),
            "thread_ts": PARENT,
            "parent_user_id": "U0001",
        }
        for i in range(1, replies + 1)
    ]
    for ts, changes in extra.items():
        next(m for m in thread if m["ts"] == ts).update(changes)
    bot.client.threads[PARENT] = thread
    for message in thread:
        bot.client.messages[message["ts"]] = message
    return thread


def shortcut(message: dict[str, Any], user: str = "U0002") -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": CallbackId.ADD_THREAD_TO_TIMELINE,
        "trigger_id": "1337.42.abcd",
        "response_url": "https://hooks.slack.com/actions/T0001/1/xyz",
        "team": {"id": TEAM},
        "channel": {"id": CHANNEL},
        "user": {"id": user},
        "message": message,
    }


async def run(bot: World, message: dict[str, Any], user: str = "U0002") -> FakeAck:
    ack = FakeAck()
    context = bot.context()
    context["bot_id"] = "BBOT"
    await handle_add_thread_to_timeline(
        ack=ack, shortcut=shortcut(message, user), client=bot.web, context=context
    )
    return ack


def view_text(view: dict[str, Any]) -> str:
    # Every view the handler sends is one Slack takes.
    View(**view).validate_json()
    assert view["callback_id"] == CallbackId.THREAD_PROGRESS and "submit" not in view
    return "\n".join(block["text"]["text"] for block in view["blocks"])


def final_text(bot: World) -> str:
    return view_text(bot.client.called("views.update")[-1]["view"])


async def test_a_thread_of_30_replies_is_31_notes_at_their_times_by_their_authors(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, 30)
    ack = await run(bot, thread[7])  # picked on a reply: the whole thread goes
    assert ack.only == {"text": None}
    entries = sorted(bot.gateway.events_on(ARN_A), key=lambda entry: entry.event_time)
    assert [entry.event_time for entry in entries] == [from_slack_ts(m["ts"]) for m in thread]
    names = {"U0001": "alice", "U0002": "bob", "U0003": "U0003"}
    for entry, message in zip(entries, thread, strict=True):
        # Exactly a pin of that message by the person who ran the shortcut: its token, its text.
        assert entry.client_token == client_token(*pin_token_source(TEAM, CHANNEL, message["ts"], ARN_A))
        ts_digits = message["ts"].replace(".", "")
        by = "" if message["user"] == "U0002" else " (added by bob)"  # bob's own: no "added by"
        assert decode_event_data(entry.event_data) == (
            f"{message['text']}\n\n— {names[message['user']]}, via Slack{by}\n"
            f"https://acme.slack.com/archives/C0001/p{ts_digits}"
        )
    # The thread read once, from its parent; each message gets the ✅.
    [read] = bot.client.called("conversations.replies")
    assert read["ts"] == PARENT and read["limit"] == 1000
    assert sorted(call["timestamp"] for call in bot.client.called("reactions.add")) == [
        m["ts"] for m in thread
    ]
    # One modal, opened at once with how many go, ends with the one confirmation.
    [opened] = bot.client.called("views.open")
    assert opened["trigger_id"] == "1337.42.abcd"
    assert "Adding 31 messages of this thread to" in view_text(opened["view"])
    final = final_text(bot)
    assert "*31 added*, 0 skipped (already on the timeline), 0 failed, 0 queued" in final
    assert "Checkout DB down" in final
    assert bot.replies.sent == []  # the modal said it all


async def test_run_twice_adds_nothing_the_second_time_and_says_31_skipped(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, 30)
    await run(bot, thread[0])
    await run(bot, thread[30], user="U0001")
    assert len(bot.gateway.events_on(ARN_A)) == 31
    assert len(bot.gateway.calls) == len(bot.gateway.called("GetIncidentRecord"))  # no second create
    final = final_text(bot)
    assert "already on the timeline" in final and "*0 added*, 31 skipped" in final
    # Already there: no link looked up, nothing marked again.
    assert len(bot.client.called("chat.getPermalink")) == 31
    assert len(bot.client.called("reactions.add")) == 31


async def test_a_pinned_message_in_the_thread_is_skipped(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, 30)
    pinned = thread[12]["ts"]
    body: dict[str, Any] = {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": "Ev1",
        "event": {
            "type": "reaction_added",
            "user": "U0003",
            "reaction": "pushpin",
            "item": {"type": "message", "channel": CHANNEL, "ts": pinned},
        },
    }
    await handle_reaction_added(event=body["event"], body=body, client=bot.web, context=bot.context())
    await run(bot, thread[0])
    assert len(bot.gateway.events_on(ARN_A)) == 31
    assert "*30 added*, 1 skipped" in final_text(bot)
    # The pin's entry stands as the pin made it (added by carol).
    stored = await bot.store.get_entry(client_token(*pin_token_source(TEAM, CHANNEL, pinned, ARN_A)))
    assert stored is not None and "(added by U0003)" in decode_event_data(stored.entry.event_data)


async def test_bot_messages_notices_and_empty_ones_are_left_out_other_apps_go(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    changes: dict[str, dict[str, Any]] = {
        reply_ts(1): {"user": BOT_USER, "bot_id": "BBOT", "text": "Added a note to Checkout DB down"},
        reply_ts(2): {
            "user": None,
            "bot_id": "BALERT",
            "username": "CloudWatch",
            "text": "ALARM: db-cpu",
        },
        reply_ts(3): {"text": ""},
        reply_ts(4): {"subtype": "channel_join", "text": "<@U0003> has joined the channel"},
    }
    thread = seed_thread(bot, 5, **changes)
    await run(bot, thread[0])
    texts = sorted(
        decode_event_data(entry.event_data).split("\n")[0] for entry in bot.gateway.events_on(ARN_A)
    )
    assert texts == ["ALARM: db-cpu", "primary DB down", "update 5"]
    final = final_text(bot)
    assert "*3 added*" in final
    assert "Left out: 1 of this bot's own; 1 of Slack's notices" in final and "1 with nothing to add" in final


async def test_a_message_with_no_thread_is_just_that_message(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    alone = {"type": "message", "user": "U0002", "text": "rollback done", "ts": PARENT}
    bot.client.threads[PARENT] = [alone]
    await run(bot, alone)
    [entry] = bot.gateway.events_on(ARN_A)
    assert entry.event_time == from_slack_ts(PARENT)
    assert "*1 added*" in final_text(bot)


async def test_an_unbound_channel_is_refused_as_add_to_timeline_refuses(bot: World) -> None:
    thread = seed_thread(bot, 3)
    await run(bot, thread[0])
    assert bot.replies.texts == [thread_not_bound()]
    assert "isn't bound to an incident" in bot.replies.texts[0]
    assert bot.replies.sent[0].response_url == "https://hooks.slack.com/actions/T0001/1/xyz"
    assert bot.client.calls == [] and bot.gateway.calls == []
    assert await bot.store.pending_count() == 0


async def test_over_the_cap_exactly_200_go_and_the_reply_says_what_to_do(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, THREAD_CAP + 9)
    await run(bot, thread[0])
    assert len(bot.gateway.events_on(ARN_A)) == THREAD_CAP
    landed = {entry.event_time for entry in bot.gateway.events_on(ARN_A)}
    assert landed == {from_slack_ts(m["ts"]) for m in thread[:THREAD_CAP]}  # the earliest ones
    final = final_text(bot)
    assert f"*{THREAD_CAP} added*" in final
    assert "10 messages of this thread" in final and "were *not* added" in final
    assert "one run adds at most 200 messages" in final and "again to add the next ones" in final
    # Again: the next ones go, the first 200 are skipped.
    await run(bot, thread[0])
    assert len(bot.gateway.events_on(ARN_A)) == THREAD_CAP + 10
    assert f"*10 added*, {THREAD_CAP} skipped" in final_text(bot)


async def test_incident_manager_throttling_queues_the_thread_in_the_outbox(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, 30)
    bot.gateway.outage = IncidentManagerError("Rate exceeded", code="ThrottlingException", retryable=True)
    await run(bot, thread[0])
    assert bot.gateway.events_on(ARN_A) == []
    final = final_text(bot)
    assert "*0 added*, 0 skipped (already on the timeline), 0 failed, 31 queued" in final
    # (Why, in words, is the end-to-end tests' business: here the gateway's error has no botocore cause.)
    assert (
        "31 messages saved but not on the timeline yet: " in final and "don't need to run it again" in final
    )
    # Every one is in the outbox, to be told with the ✅ on its message (as a pin's is).
    tried = 0
    for message in thread:
        token = client_token(*pin_token_source(TEAM, CHANNEL, message["ts"], ARN_A))
        stored = await bot.store.get_entry(token)
        assert stored is not None and stored.state is EntryState.PENDING
        notice = Notice.from_json(stored.notice)
        assert notice is not None and (notice.kind, notice.message_ts) == (NoticeKind.PIN, message["ts"])
        tried += stored.attempts
    # Incident Manager was asked only for the messages already on their way when it first throttled; the
    # rest were handed to the outbox (its backoff) instead of being asked again one by one.
    assert 1 <= tried <= SENDS_AT_ONCE


async def test_a_message_too_long_fails_alone_with_its_reason_text_and_reference(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, 3, **{reply_ts(2): {"text": "x" * 13000}})
    await run(bot, thread[0])
    assert len(bot.gateway.events_on(ARN_A)) == 3
    final = final_text(bot)
    assert "*3 added*, 0 skipped (already on the timeline), 1 failed, 0 queued" in final
    assert "1 message not added. Nothing was added: that message is" in final
    assert "_Reference: " in final
    assert "• U0003, 2025-11-26 09:42:00 UTC (<https://acme.slack.com/archives/C0001/p" in final
    assert "“" + "x" * 20 in final  # its text given back, in part


async def test_the_modal_not_opening_falls_back_to_ephemeral_replies(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, 4)
    bot.client.errors["views.open"] = ["expired_trigger_id"]
    await run(bot, thread[0])
    assert bot.client.called("views.update") == []
    start, done = bot.replies.texts
    assert "Adding 5 messages of this thread to" in start
    assert "*5 added*" in done
    assert len(bot.gateway.events_on(ARN_A)) == 5


async def test_a_thread_that_cannot_be_read_is_explained_with_a_reference(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    thread = seed_thread(bot, 2)
    bot.client.errors["conversations.replies"] = ["not_in_channel"]
    await run(bot, thread[0])
    final = final_text(bot)
    assert "Nothing from the thread was added to the timeline." in final and "_Reference: " in final
    assert bot.gateway.events_on(ARN_A) == []
    assert json.dumps(bot.client.called("views.open")[0]["view"]).count("Reading the thread") == 1


@dataclass
class HeldGateway(MemoryGateway):
    """Incident Manager that never answers a create: the thread is stopped while it waits."""

    asked: asyncio.Event = field(default_factory=asyncio.Event)

    async def create_timeline_event(
        self, entry: TimelineEntry, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        self.asked.set()
        if before_send is not None:
            await before_send()
        await asyncio.Event().wait()
        raise AssertionError("never answered")


async def test_a_bot_stopping_half_way_loses_nothing_every_message_is_in_the_outbox() -> None:
    bot = world()
    held = HeldGateway()
    outbox = Outbox(bot.store, held, NoFollowUps(), lease=timedelta(seconds=30), max_in_flight=4)
    bot.deps = replace(
        bot.deps, gateway=held, outbox=outbox, timeline=TimelineService(bot.store, outbox, bot.deps.directory)
    )
    bot.gateway = held
    try:
        await bot.bind(ARN_A, "Checkout DB down")
        thread = seed_thread(bot, 30)
        work = asyncio.ensure_future(run(bot, thread[0]))
        await asyncio.wait_for(held.asked.wait(), 10)
        # By the first call to Incident Manager, every message is in the outbox.
        assert await bot.store.pending_count() == 31
        # Stopped (the grace ran out) while the first messages are with Incident Manager.
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        assert await bot.store.pending_count() == 31
        for message in thread:
            token = client_token(*pin_token_source(TEAM, CHANNEL, message["ts"], ARN_A))
            stored = await bot.store.get_entry(token)
            assert stored is not None and stored.state is EntryState.PENDING
            assert stored.entry.event_time == from_slack_ts(message["ts"])
    finally:
        await outbox.stop(0.1)
        await bot.store.close()


@dataclass
class SlowGateway(MemoryGateway):
    """Incident Manager taking a moment per create: a long thread outlasts the hold on its entries."""

    async def create_timeline_event(
        self, entry: TimelineEntry, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        await asyncio.sleep(0.15)
        return await super().create_timeline_event(entry, before_send)


class MarkingFollowUps:
    """The outbox's second replies as the Slack side gives them: a pin's is the ✅."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def landed_reply(self, stored: StoredEntry, event_id: str) -> str:
        return "landed"

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str:
        return "failed"

    def change_reply(self, stored: StoredEntry, change: OwedChange, error: BaseException | None) -> str:
        return "changed"

    async def tell(self, notice: str, reply: str, landed: bool) -> Told:
        recorded = Notice.from_json(notice)
        assert recorded is not None and recorded.message_ts
        await self.client.reactions_add(channel=recorded.channel_id, timestamp=recorded.message_ts, name="x")
        return Told(reached=True)


async def test_entries_the_outbox_takes_while_the_thread_goes_in_count_as_added() -> None:
    bot = world()
    slow = SlowGateway()
    # A hold that runs out long before the thread is in: the outbox's sweep sends some of them itself.
    outbox = Outbox(
        bot.store, slow, MarkingFollowUps(bot.client), lease=timedelta(seconds=0.05), max_in_flight=4
    )
    bot.deps = replace(
        bot.deps, gateway=slow, outbox=outbox, timeline=TimelineService(bot.store, outbox, bot.deps.directory)
    )
    bot.gateway = slow
    outbox.start()
    try:
        await bot.bind(ARN_A, "Checkout DB down")
        thread = seed_thread(bot, 30)
        await run(bot, thread[0])
        assert len(slow.events_on(ARN_A)) == 31
        final = final_text(bot)
        assert "*31 added*, 0 skipped (already on the timeline), 0 failed, 0 queued" in final
        assert await bot.store.pending_count() == 0
    finally:
        await outbox.stop(0.5)
        await bot.store.close()
