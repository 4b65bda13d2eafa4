"""`/incident-note`, called as Bolt calls it: the ack first, then the reply with the real outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.domain.timeline import EventType, decode_event_data
from bot.listeners.commands.incident_note import handle_incident_note
from bot.usecases.errors import IncidentManagerError
from tests.handlers.support import ARN_A, ARN_B, CHANNEL, TEAM, FakeAck, World


def command(text: str, **overrides: str) -> dict[str, Any]:
    return {
        "command": "/incident-note",
        "text": text,
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "user_id": "U0001",
        "user_name": "alice.l",
        "trigger_id": "1337.42.abcd",
        "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
        **overrides,
    }


async def run(bot: World, body: dict[str, Any]) -> FakeAck:
    ack = FakeAck()
    await handle_incident_note(ack=ack, command=body, client=bot.web, context=bot.context())
    return ack


async def test_a_note_is_acked_empty_then_lands_with_its_author_and_the_reply_says_so(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    before = datetime.now(UTC)
    ack = await run(bot, command("the DB failover finished"))
    assert ack.only == {"text": None}
    [entry] = bot.gateway.events_on(ARN_A)
    assert entry.event_type is EventType.NOTE
    assert decode_event_data(entry.event_data) == "the DB failover finished\n\n— alice, via Slack"
    assert before <= entry.event_time <= datetime.now(UTC)
    [reply] = bot.replies.sent
    assert reply.response_url == "https://hooks.slack.com/commands/T0001/1/abc"
    assert reply.text.startswith("Added a note to <") and "Checkout DB down" in reply.text


async def test_the_same_trigger_twice_adds_one_event(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await run(bot, command("once"))
    await run(bot, command("once"))
    assert len(bot.gateway.events_on(ARN_A)) == 1
    assert bot.replies.texts[1].startswith("Already on the timeline of")


async def test_event_keyword_makes_a_custom_event(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await run(bot, command("event traffic shifted to eu-west-2"))
    [entry] = bot.gateway.events_on(ARN_A)
    assert entry.event_type is EventType.CUSTOM_EVENT and entry.event_references == []


async def test_help_and_malformed_forms_are_answered_on_the_ack_alone(bot: World) -> None:
    ack = await run(bot, command("help"))
    assert (
        "Add to this incident's timeline" in str(ack.only["text"])
        and ack.only["response_type"] == "ephemeral"
    )
    ack = await run(bot, command("status now"))
    assert "`status` takes nothing after it." in str(ack.only["text"])
    assert "Here is your text so you can send it again" in str(ack.only["text"])
    assert bot.replies.sent == [] and bot.client.calls == []


async def test_a_note_in_an_unbound_channel_says_how_to_bind_and_gives_the_text_back(bot: World) -> None:
    await run(bot, command("lost words"))
    assert bot.gateway.created == []
    [text] = bot.replies.texts
    assert "isn't bound to an incident yet, so nothing was added" in text and "```lost words```" in text


async def test_bind_binds_announces_and_replies(bot: World) -> None:
    bot.gateway.add_incident(ARN_B, "Payments degraded")
    await run(bot, command(f"bind {ARN_B}"))
    binding = await bot.store.get_binding(TEAM, CHANNEL)
    assert binding is not None and binding.incident_arn == ARN_B and binding.bound_by == "U0001"
    [announcement] = bot.client.called("chat.postMessage")
    assert announcement["channel"] == CHANNEL and "bound this channel to the incident" in announcement["text"]
    assert bot.replies.texts[0].startswith("This channel is now bound to <")


async def test_status_and_unbind(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await run(bot, command("status"))
    assert "This channel is bound to <" in bot.replies.texts[0] and "impact 2 (High)" in bot.replies.texts[0]
    await run(bot, command("unbind", trigger_id="1337.43.efgh"))
    assert await bot.store.get_binding(TEAM, CHANNEL) is None
    assert bot.replies.texts[1].startswith("This channel is no longer bound to *Checkout DB down*")


async def test_no_text_opens_the_compose_form_on_the_channels_incident(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    await run(bot, command(""))
    [opened] = bot.client.called("views.open")
    assert opened["trigger_id"] == "1337.42.abcd"
    assert json.loads(opened["view"]["private_metadata"]) == {
        "team": TEAM,
        "channel": CHANNEL,
        "incident": ARN_A,
    }
    assert bot.replies.sent == []


async def test_an_incident_gone_from_aws_is_explained_with_the_text(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    del bot.gateway.incidents[ARN_A]
    await run(bot, command("still here?"))
    [text] = bot.replies.texts
    assert "*Checkout DB down* no longer exists in Incident Manager in eu-west-1" in text
    assert "```still here?```" in text and "_Reference: " in text


async def test_bind_puts_the_channel_on_the_incident_and_rebind_and_unbind_take_it_off(bot: World) -> None:
    bot.gateway.add_incident(ARN_A, "Checkout DB down")
    bot.gateway.add_incident(ARN_B, "Payments degraded")
    named = {"channel_name": "inc-db", "team_domain": "acme"}
    await run(bot, command(f"bind {ARN_A}", **named))
    [item] = bot.gateway.related[ARN_A]
    assert (item.url, item.title) == ("https://acme.slack.com/archives/C0001", "Slack: #inc-db")
    assert "under the incident's *Related items*" in bot.replies.texts[0]
    await run(bot, command(f"bind {ARN_B}", trigger_id="t-2", **named))
    assert bot.gateway.related[ARN_A] == [] and len(bot.gateway.related[ARN_B]) == 1
    await run(bot, command("unbind", trigger_id="t-3"))
    assert bot.gateway.related[ARN_B] == []
    assert bot.replies.texts[2].endswith("It is off the incident's *Related items* in the console too.")


async def test_a_refused_related_item_leaves_the_binding_and_says_what_is_missing(bot: World) -> None:
    bot.gateway.add_incident(ARN_A, "Checkout DB down")
    denied = IncidentManagerError("denied", code="AccessDeniedException", status=403)
    bot.gateway.fail_next("UpdateRelatedItems", denied)
    await run(bot, command(f"bind {ARN_A}"))
    binding = await bot.store.get_binding(TEAM, CHANNEL)
    assert binding is not None and binding.incident_arn == ARN_A
    [reply] = bot.replies.texts
    assert reply.startswith("This channel is now bound to <")
    assert "The binding stands, but this channel isn't on the incident's *Related items*" in reply
    assert "isn't allowed to call `ssm-incidents:UpdateRelatedItems`" in reply
    assert "The channel was not bound" not in reply
    assert len(bot.client.called("chat.postMessage")) == 1  # announced all the same


async def test_bind_takes_the_console_address_or_plan_id_of_an_open_incident(bot: World) -> None:
    bot.gateway.add_incident(ARN_A, "Checkout DB down")
    console = "https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home#/incidents/plan/aaaa"
    ack = await run(bot, command(f"bind <{console}>"))
    assert ack.only == {"text": None}
    binding = await bot.store.get_binding(TEAM, CHANNEL)
    assert binding is not None and binding.incident_arn == ARN_A
    await run(bot, command("bind plan/zzzz", trigger_id="t-2"))
    assert "There is no open incident `plan/zzzz` in Incident Manager in eu-west-1" in bot.replies.texts[1]
