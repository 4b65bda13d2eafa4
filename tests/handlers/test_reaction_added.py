"""📌 on a message, called as Bolt calls the event listener."""

from __future__ import annotations

from typing import Any

from bot.domain.binding import Binding
from bot.domain.timeline import client_token, decode_event_data, from_slack_ts
from bot.listeners.events.reaction_added import handle_reaction_added
from bot.store import SqlStore
from bot.usecases.errors import IncidentManagerError
from bot.usecases.outbox import Notice, NoticeKind
from bot.usecases.sources import pin_token_source
from tests.handlers.support import ARN_A, ARN_B, CHANNEL, TEAM, World, world
from tests.support.aws_errors import QUEUED

TS = "1764150000.123456"


def pin(user: str = "U0001", reaction: str = "pushpin", event_id: str = "Ev1") -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": event_id,
        "event": {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item": {"type": "message", "channel": CHANNEL, "ts": TS},
        },
    }


async def run(bot: World, body: dict[str, Any]) -> None:
    await handle_reaction_added(event=body["event"], body=body, client=bot.web, context=bot.context())


def bobs_message(bot: World) -> None:
    bot.client.messages[TS] = {
        "type": "message",
        "user": "U0002",
        "text": "failed over to the replica",
        "ts": TS,
    }


async def test_a_pin_adds_the_message_at_its_own_time_by_its_author_and_marks_it(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bobs_message(bot)
    await run(bot, pin())
    [entry] = bot.gateway.events_on(ARN_A)
    assert entry.event_time == from_slack_ts(TS)
    assert decode_event_data(entry.event_data) == (
        "failed over to the replica\n\n— bob, via Slack (added by alice)\n"
        "https://acme.slack.com/archives/C0001/p1764150000123456"
    )
    assert entry.client_token == client_token(*pin_token_source(TEAM, CHANNEL, TS, ARN_A))
    [mark] = bot.client.called("reactions.add")
    assert mark == {"channel": CHANNEL, "timestamp": TS, "name": "white_check_mark"}
    assert bot.replies.sent == []  # the ✅ is the confirmation


async def test_other_emoji_and_unbound_channels_cost_nothing(bot: World) -> None:
    bobs_message(bot)
    await run(bot, pin(reaction="eyes"))
    await run(bot, pin(event_id="Ev2"))  # no binding
    assert bot.gateway.created == [] and bot.client.calls == [] and bot.replies.sent == []


async def test_a_redelivered_event_is_dropped(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bobs_message(bot)
    await run(bot, pin())
    await run(bot, pin())
    assert len(bot.gateway.created) == 1 and len(bot.client.called("conversations.history")) == 1


class RebindsAfterFirstRead(SqlStore):
    """Someone re-binds the channel to another incident right after a request first reads its binding."""

    def __init__(self, rebind_to: Binding) -> None:
        super().__init__("sqlite://")
        self.rebind_to: Binding | None = rebind_to
        self.reads = 0

    async def get_binding(self, team_id: str, channel_id: str) -> Binding | None:
        self.reads += 1
        found = await super().get_binding(team_id, channel_id)
        if self.rebind_to is not None:
            await self.put_binding(self.rebind_to)
            self.rebind_to = None
        return found


async def test_a_rebind_between_reads_cannot_split_a_pins_token_from_its_incident() -> None:
    first = Binding(TEAM, CHANNEL, ARN_A, "Checkout DB down", "U0001", from_slack_ts(TS))
    store = RebindsAfterFirstRead(
        rebind_to=Binding(TEAM, CHANNEL, ARN_B, "Payments", "U0009", first.bound_at)
    )
    bot = world(store)
    try:
        await store.put_binding(first)
        bot.gateway.add_incident(ARN_A, first.incident_title)
        bot.gateway.add_incident(ARN_B, "Payments")
        bobs_message(bot)
        await run(bot, pin())
        # One read for the request, and the entry went exactly where its token says.
        assert store.reads == 1
        [entry] = bot.gateway.created
        assert entry.incident_arn == ARN_A
        assert entry.client_token == client_token(*pin_token_source(TEAM, CHANNEL, TS, ARN_A))
        # Pinned again after the re-bind: the message goes to the new incident, once.
        await run(bot, pin(user="U0002", event_id="Ev2"))
        [moved] = bot.gateway.events_on(ARN_B)
        assert moved.client_token == client_token(*pin_token_source(TEAM, CHANNEL, TS, ARN_B))
        assert len(bot.gateway.created) == 2
    finally:
        await bot.deps.outbox.stop(0.5)
        await store.close()


async def test_a_second_pin_of_a_queued_message_is_owed_its_outcome_too(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bobs_message(bot)
    bot.gateway.outage = IncidentManagerError("Rate exceeded", code="ThrottlingException", retryable=True)
    await run(bot, pin(user="U0001", event_id="Ev1"))
    await run(bot, pin(user="U0002", event_id="Ev2"))
    await run(bot, pin(user="U0001", event_id="Ev3"))  # the first pinner again: already owed it
    assert [reply.user_id for reply in bot.replies.sent] == ["U0001", "U0002", "U0001"]
    assert all(QUEUED in text for text in bot.replies.texts)
    token = client_token(*pin_token_source(TEAM, CHANNEL, TS, ARN_A))
    awaiting = [Notice.from_json(a.notice) for a in await bot.store.awaiting(token)]
    assert [(n.kind, n.user_id, n.message_ts, n.incident_title) for n in awaiting if n] == [
        (NoticeKind.PIN, "U0002", TS, "Checkout DB down")
    ]
    assert len(bot.client.called("conversations.history")) == 1  # the later pins are answered from the store
