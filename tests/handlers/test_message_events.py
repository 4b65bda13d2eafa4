"""`message` events, called as Bolt calls the listener: the many that don't concern the timeline cost no
store write and no AWS call (most cost no read at all); an edit or delete of a message on the timeline
reaches the use case once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.binding import Binding
from bot.domain.slack_message import MessageRef
from bot.listeners.events.message import handle_message
from bot.store import SqlStore
from bot.usecases.changes import Changed, ChangeResult
from bot.usecases.errors import IncidentManagerError
from tests.handlers.fake_changes import stored_entry
from tests.handlers.support import ARN_A, CHANNEL, TEAM, World, world

TS = "1764150000.123456"
EDITED_TS = "1764150300.000200"
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


def delivery(event: dict[str, Any], event_id: str = "Ev1") -> dict[str, Any]:
    return {"type": "event_callback", "team_id": TEAM, "event_id": event_id, "event": event}


def new_message(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel": CHANNEL, "user": "U0002", "text": text, "ts": TS, **extra}


def edit(
    text: str = "failed over to replica 2", before: str = "failed over to the replica", **message: Any
) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "ts": "1764150300.000300",
        "event_ts": "1764150300.000300",
        "message": {
            "type": "message",
            "user": "U0002",
            "text": text,
            "ts": TS,
            "edited": {"user": "U0002", "ts": EDITED_TS},
            **message,
        },
        "previous_message": {"type": "message", "user": "U0002", "text": before, "ts": TS},
    }


def delete(**previous: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": CHANNEL,
        "ts": "1764150400.000100",
        "event_ts": "1764150400.000100",
        "deleted_ts": TS,
        "previous_message": {
            "type": "message",
            "user": "U0002",
            "text": "the secret is hunter2",
            "ts": TS,
            **previous,
        },
    }


class CountingStore(SqlStore):
    """The store, counting the binding reads a listener makes."""

    def __init__(self) -> None:
        super().__init__("sqlite://")
        self.reads: list[str] = []

    async def get_binding(self, team_id: str, channel_id: str) -> Binding | None:
        self.reads.append("get_binding")
        return await super().get_binding(team_id, channel_id)


async def run(bot: World, event: dict[str, Any], event_id: str = "Ev1") -> None:
    await handle_message(event=event, body=delivery(event, event_id), context=bot.context())


def spent(bot: World) -> list[str]:
    """Every call to the use case beyond the one read that finds what a message is on."""
    return [name for name, _ in bot.changes.calls if name != "entries_following"]


# What is ignored, and what it costs


async def test_plain_messages_and_other_subtypes_cost_nothing_at_all() -> None:
    store = CountingStore()
    bot = world(store, fake_changes=True)
    try:
        await bot.bind(ARN_A, "Checkout DB down")
        for n, event in enumerate(
            [
                new_message(),
                new_message(subtype="channel_join"),
                new_message(subtype="thread_broadcast", thread_ts="1.0"),
                new_message(subtype="bot_message", bot_id="B1"),
                new_message(subtype="file_share"),
                {"type": "message", "subtype": "message_replied", "channel": CHANNEL, "message": {"ts": TS}},
            ]
        ):
            await run(bot, event, f"Ev{n}")
        assert store.reads == [] and bot.changes.calls == []
        assert bot.gateway.calls == [] and bot.client.calls == [] and bot.replies.sent == []
    finally:
        await bot.deps.outbox.stop(0.5)
        await store.close()


async def test_changes_that_are_not_edits_cost_nothing() -> None:
    store = CountingStore()
    bot = world(store, fake_changes=True)
    try:
        await bot.bind(ARN_A, "Checkout DB down")
        unfurl = edit()
        del unfurl["message"]["edited"]  # a link preview added: Slack reports a change, nobody edited
        unfurl["message"]["attachments"] = [{"title": "Runbook", "title_link": "https://wiki/x"}]
        same = edit(text="same words", before="same words")  # edited, but to the same content
        by_an_app = edit(bot_id="B0001")  # an app rewrote its own message
        no_ts = edit()
        del no_ts["message"]["ts"]
        for n, event in enumerate([unfurl, same, by_an_app, no_ts, delete(bot_id="B0001")]):
            await run(bot, event, f"Ev{n}")
        assert store.reads == [] and bot.changes.calls == [] and bot.gateway.calls == []
    finally:
        await bot.deps.outbox.stop(0.5)
        await store.close()


async def test_an_edit_in_an_unbound_channel_costs_one_binding_read() -> None:
    store = CountingStore()
    bot = world(store, fake_changes=True)
    try:
        await run(bot, edit())
        await run(bot, delete(), "Ev2")
        assert store.reads == ["get_binding", "get_binding"] and bot.changes.calls == []
    finally:
        await bot.deps.outbox.stop(0.5)
        await store.close()


async def test_an_edit_of_a_message_never_on_the_timeline_costs_two_reads_and_no_write(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await run(bot, edit())
    await run(bot, edit(), "Ev1")  # not even remembered as delivered: that would be a write
    assert bot.changes.calls == [("entries_following", (REF,)), ("entries_following", (REF,))]
    assert bot.gateway.calls == [] and bot.replies.sent == [] and spent(bot) == []


async def test_a_failing_lookup_is_logged_and_nobody_is_told(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.answers["entries_following"] = RuntimeError("store unavailable")
    await run(bot, edit())
    assert spent(bot) == [] and bot.replies.sent == []


# Followed


async def test_an_edit_of_a_message_on_the_timeline_is_followed_with_its_new_markup(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.following[REF] = [stored_entry(ARN_A, message_ts=TS)]
    await run(bot, edit(text="<@U0001> failed over to replica 2 &amp; done"))
    [(ref, text, author, edited_at)] = bot.changes.called("message_edited")
    assert ref == REF and author == "U0002"
    # Slack markup, as a pin's text is: the use case renders it with names.
    assert text == "<@U0001> failed over to replica 2 &amp; done"
    assert edited_at == datetime(2025, 11, 26, 9, 45, 0, 200, tzinfo=UTC)
    assert bot.replies.sent == [] and bot.client.calls == []  # nobody is told when it works


async def test_an_edit_redelivered_by_slack_is_followed_once(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.following[REF] = [stored_entry(ARN_A, message_ts=TS)]
    await run(bot, edit())
    await run(bot, edit())
    assert len(bot.changes.called("message_edited")) == 1


async def test_a_delete_is_followed_at_its_time(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.following[REF] = [stored_entry(ARN_A, message_ts=TS)]
    await run(bot, delete())
    [(ref, deleted_at)] = bot.changes.called("message_deleted")
    assert ref == REF and deleted_at == datetime(2025, 11, 26, 9, 46, 40, 100, tzinfo=UTC)
    # The message's reactions went with it: no ✅ to take off.
    assert bot.client.calls == [] and bot.replies.sent == []


async def test_a_thread_parent_deleted_with_replies_left_is_a_delete(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.following[REF] = [stored_entry(ARN_A, message_ts=TS)]
    tombstone = edit(text="This message was deleted.", subtype="tombstone", reply_count=3)
    del tombstone["message"]["edited"]
    tombstone["message"]["user"] = "USLACKBOT"
    await run(bot, tombstone)
    assert bot.changes.called("message_edited") == []
    [(ref, _)] = bot.changes.called("message_deleted")
    assert ref == REF


async def test_an_edit_aws_refuses_is_explained_to_its_author(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    stored = stored_entry(ARN_A, message_ts=TS)
    bot.changes.following[REF] = [stored]
    rejected = IncidentManagerError("no", code="AccessDeniedException", status=403)
    bot.changes.answers["message_edited"] = [Changed(ChangeResult.REFUSED, stored, rejected)]
    await run(bot, edit())
    [reply] = bot.replies.sent
    assert reply.user_id == "U0002" and reply.channel_id == CHANNEL
    assert reply.text.startswith("Your edit didn't reach the timeline of <")
    assert "`ssm-incidents:UpdateTimelineEvent`" in reply.text
    assert "The timeline still shows the message as it was." in reply.text and "_Reference: " in reply.text


async def test_a_delete_that_fails_tells_the_author_it_is_still_on_the_timeline(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.following[REF] = [stored_entry(ARN_A, message_ts=TS)]
    bot.changes.answers["message_deleted"] = RuntimeError("boom")
    await run(bot, delete())
    [reply] = bot.replies.sent
    assert reply.user_id == "U0002"
    assert reply.text.startswith("A deleted message of yours is still on the timeline of <")
    assert "It is still on the timeline." in reply.text


async def test_queued_done_and_nothing_are_quiet(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.changes.following[REF] = [stored_entry(ARN_A, message_ts=TS)]
    bot.changes.answers["message_edited"] = [
        Changed(ChangeResult.QUEUED, None),
        Changed(ChangeResult.DONE, None),
        Changed(ChangeResult.NOTHING, None),
    ]
    await run(bot, edit())
    assert bot.replies.sent == [] and bot.client.calls == []
