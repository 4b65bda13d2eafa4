"""Two replicas (two apps' listeners) on one store: a Slack retry or a replayed command that reaches the
other replica is known there as a repeat; a store that cannot say is taken as the first delivery."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from bot.store import SqlStore
from tests.handlers.support import ARN_A, ARN_B, CHANNEL, TEAM, World, world
from tests.handlers.test_incident_note import command
from tests.handlers.test_incident_note import run as run_command
from tests.handlers.test_reaction_added import bobs_message, pin
from tests.handlers.test_reaction_added import run as run_pin


@pytest.fixture
async def replicas() -> tuple[World, World]:
    store = SqlStore("sqlite://")
    one, two = world(store), world(store)
    await one.bind(ARN_A, "Checkout DB down")
    two.gateway.add_incident(ARN_A, "Checkout DB down")
    for bot in (one, two):
        bobs_message(bot)
    return one, two


async def test_a_pin_slack_retries_to_the_other_replica_is_dropped_there(
    replicas: tuple[World, World],
) -> None:
    one, two = replicas
    await run_pin(one, pin(event_id="Ev1"))
    await run_pin(two, pin(event_id="Ev1"))  # Slack's retry, through the load balancer
    assert len(one.gateway.created) == 1
    assert two.gateway.created == [] and two.client.calls == [] and two.replies.sent == []
    await run_pin(two, pin(user="U0002", event_id="Ev2"))  # another person's pin is a delivery of its own
    assert two.client.called("reactions.add")  # answered from the store: already on the timeline


async def test_a_replayed_bind_reaching_the_other_replica_is_not_carried_out_again(
    replicas: tuple[World, World],
) -> None:
    one, two = replicas
    two.gateway.add_incident(ARN_B, "Payments down")
    one.gateway.add_incident(ARN_B, "Payments down")
    await run_command(one, command(f"bind {ARN_B}", trigger_id="t-bind"))
    await run_command(one, command(f"bind {ARN_A}", trigger_id="t-newer"))
    await run_command(two, command(f"bind {ARN_B}", trigger_id="t-bind"))  # the first one, replayed
    binding = await two.store.get_binding(TEAM, CHANNEL)
    assert binding is not None and binding.incident_arn == ARN_A  # the newer bind stands
    assert two.client.called("chat.postMessage") == []  # no second announcement
    assert "was already carried out" in two.replies.texts[0]


class DeliveriesUnreachable(SqlStore):
    async def first_delivery(self, key: str, now: datetime) -> bool:
        raise OSError("the database is unreachable")


async def test_a_store_that_cannot_say_is_taken_as_the_first_delivery_and_the_pin_lands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = world(DeliveriesUnreachable("sqlite://"))
    await bot.bind(ARN_A, "Checkout DB down")
    bobs_message(bot)
    caplog.set_level(logging.WARNING, logger="bot.recent")
    await run_pin(bot, pin(event_id="Ev1"))
    [entry] = bot.gateway.events_on(ARN_A)
    assert entry.event_time is not None
    assert any("handling it as the first" in r.getMessage() for r in caplog.records)
    await run_pin(bot, pin(event_id="Ev1"))  # this replica's own memory still knows the repeat
    assert len(bot.gateway.created) == 1


async def test_a_slash_command_retry_elsewhere_still_lands_one_event_by_its_token(
    replicas: tuple[World, World],
) -> None:
    """A note's trigger is not a delivery key: the retry is answered from the store by its clientToken."""
    one, two = replicas
    await run_command(one, command("one note"))
    await run_command(two, command("one note"))
    assert len(one.gateway.created) == 1 and two.gateway.created == []
    assert two.replies.texts[0].startswith("Already on the timeline of")
