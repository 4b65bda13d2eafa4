"""`bind` alone: the picker form, its search and its submit, called as Bolt calls them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.listeners.commands import incident_note
from bot.listeners.commands.incident_note import handle_incident_note
from bot.listeners.options.incident_search import handle_incident_search
from bot.listeners.views.bind_picker_submission import handle_bind_picker_submission
from bot.presentation.ids import ActionId, BlockId
from bot.usecases.errors import IncidentManagerError
from tests.handlers.support import ARN_A, ARN_B, CHANNEL, TEAM, FakeAck, World

ARN_C = "arn:aws:ssm-incidents::111122223333:incident-record/plan/cccc"


def command(text: str, trigger_id: str = "1337.42.abcd") -> dict[str, Any]:
    return {
        "command": "/incident-note",
        "text": text,
        "team_id": TEAM,
        "team_domain": "acme",
        "channel_id": CHANNEL,
        "channel_name": "checkout-db-down",
        "user_id": "U0001",
        "user_name": "alice",
        "trigger_id": trigger_id,
        "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
    }


async def run(bot: World, text: str, trigger_id: str = "1337.42.abcd") -> FakeAck:
    ack = FakeAck()
    await handle_incident_note(
        ack=ack, command=command(text, trigger_id), client=bot.web, context=bot.context()
    )
    return ack


def three_open_incidents(bot: World) -> None:
    now = datetime.now(UTC)
    bot.gateway.add_incident(ARN_A, "Checkout DB down", impact=1, created=now - timedelta(hours=2, minutes=5))
    bot.gateway.add_incident(ARN_B, "Payments degraded", impact=3, created=now - timedelta(minutes=7))
    bot.gateway.add_incident(ARN_C, "Old and done", status="RESOLVED", created=now - timedelta(days=3))


def menu(view: dict[str, Any]) -> dict[str, Any]:
    block = next(block for block in view["blocks"] if block.get("block_id") == BlockId.INCIDENT)
    element: dict[str, Any] = block["element"]
    return element


def chosen(value: str, action_id: str = ActionId.INCIDENT) -> dict[str, Any]:
    return {"values": {BlockId.INCIDENT: {action_id: {"selected_option": {"value": value}}}}}


async def submit(
    bot: World, view: dict[str, Any], value: str, view_id: str = "V1", user: str = "U0001"
) -> FakeAck:
    ack = FakeAck()
    submitted = {"id": view_id, "private_metadata": view["private_metadata"], "state": chosen(value)}
    await handle_bind_picker_submission(
        ack=ack, body={"user": {"id": user}}, view=submitted, client=bot.web, context=bot.context()
    )
    return ack


async def test_bind_alone_opens_a_form_with_the_open_incidents_newest_first(bot: World) -> None:
    three_open_incidents(bot)
    ack = await run(bot, "bind")
    assert ack.only == {"text": None}
    [opened] = bot.client.called("views.open")
    assert opened["trigger_id"] == "1337.42.abcd"
    view = opened["view"]
    assert view["callback_id"] == "bind_incident_picker" and view["submit"]["text"] == "Bind"
    element = menu(view)
    assert element["type"] == "static_select" and element["action_id"] == ActionId.INCIDENT
    texts = [option["text"]["text"] for option in element["options"]]
    assert texts == [
        "Payments degraded · Medium · started 7 min ago",
        "Checkout DB down · Critical · started 2 h 5 min ago",
    ]
    assert [option["value"] for option in element["options"]] == [ARN_B, ARN_A]
    assert json.loads(view["private_metadata"]) == {
        "team": TEAM,
        "channel": CHANNEL,
        "name": "checkout-db-down",
        "url": "https://acme.slack.com/",
    }
    assert bot.replies.sent == []


async def test_no_open_incident_is_a_reply_saying_how_to_bind_by_arn(bot: World) -> None:
    bot.gateway.add_incident(ARN_C, "Old and done", status="RESOLVED")
    await run(bot, "bind")
    assert bot.client.called("views.open") == []
    [reply] = bot.replies.texts
    assert reply.startswith("There are no open incidents in Incident Manager in eu-west-1")
    assert "/incident-note bind &lt;incident-record-arn&gt;" in reply


async def test_someone_not_allowed_to_bind_is_told_before_any_form(bot: World) -> None:
    three_open_incidents(bot)
    bot.permission.refuse.add("U0001")
    await run(bot, "bind")
    assert bot.client.called("views.open") == [] and bot.gateway.called("ListIncidentRecords") == []
    [reply] = bot.replies.texts
    assert "You aren't allowed to bind or unbind this channel" in reply


async def test_a_listing_aws_refuses_is_explained_by_the_mapping_layer(bot: World) -> None:
    bot.gateway.fail_next(
        "ListIncidentRecords", IncidentManagerError("denied", code="AccessDeniedException", status=403)
    )
    await run(bot, "bind")
    [reply] = bot.replies.texts
    assert "isn't allowed to call `ssm-incidents:ListIncidentRecords`." in reply and "_Reference: " in reply
    assert bot.client.called("views.open") == []


async def test_choosing_one_binds_as_bind_arn_does(bot: World) -> None:
    three_open_incidents(bot)
    await run(bot, "bind")
    view = bot.client.called("views.open")[0]["view"]
    ack = await submit(bot, view, ARN_B)
    assert ack.only == {"text": None}
    binding = await bot.store.get_binding(TEAM, CHANNEL)
    assert binding is not None and binding.incident_arn == ARN_B and binding.bound_by == "U0001"
    [announcement] = bot.client.called("chat.postMessage")
    assert announcement["channel"] == CHANNEL and "<@U0001> bound this channel" in announcement["text"]
    [reply] = bot.replies.sent
    assert reply.channel_id == CHANNEL and reply.user_id == "U0001"
    assert reply.text.startswith("This channel is now bound to <") and "Payments degraded" in reply.text
    assert "find this channel under the incident's *Related items*" in reply.text
    [item] = bot.gateway.related[ARN_B]
    assert (item.item_type, item.url, item.title) == (
        "OTHER",
        "https://acme.slack.com/archives/C0001",
        "Slack: #checkout-db-down",
    )


async def test_the_submit_checks_permission_again(bot: World) -> None:
    three_open_incidents(bot)
    await run(bot, "bind")
    view = bot.client.called("views.open")[0]["view"]
    bot.permission.refuse.add("U0001")
    await submit(bot, view, ARN_B)
    assert await bot.store.get_binding(TEAM, CHANNEL) is None
    assert "You aren't allowed to bind or unbind this channel" in bot.replies.texts[0]


async def test_an_incident_resolved_while_the_form_was_open_is_refused(bot: World) -> None:
    three_open_incidents(bot)
    await run(bot, "bind")
    view = bot.client.called("views.open")[0]["view"]
    bot.gateway.add_incident(ARN_B, "Payments degraded", status="RESOLVED")
    await submit(bot, view, ARN_B)
    assert await bot.store.get_binding(TEAM, CHANNEL) is None
    assert "*Payments degraded* is already resolved" in bot.replies.texts[0]
    assert bot.client.called("chat.postMessage") == []


async def test_a_replayed_submit_binds_and_announces_once(bot: World) -> None:
    three_open_incidents(bot)
    await run(bot, "bind")
    view = bot.client.called("views.open")[0]["view"]
    await submit(bot, view, ARN_B)
    await submit(bot, view, ARN_B)
    assert len(bot.client.called("chat.postMessage")) == 1
    assert "was already carried out" in bot.replies.texts[1]


async def test_nothing_chosen_is_answered_on_the_form(bot: World) -> None:
    three_open_incidents(bot)
    await run(bot, "bind")
    view = bot.client.called("views.open")[0]["view"]
    ack = FakeAck()
    submitted = {"id": "V1", "private_metadata": view["private_metadata"], "state": {"values": {}}}
    await handle_bind_picker_submission(
        ack=ack, body={"user": {"id": "U0001"}}, view=submitted, client=bot.web, context=bot.context()
    )
    assert ack.only["response_action"] == "errors"
    assert ack.only["errors"] == {BlockId.INCIDENT: "Pick the incident to bind this channel to."}
    assert await bot.store.get_binding(TEAM, CHANNEL) is None


async def test_more_than_one_menu_holds_is_searched_by_title(bot: World) -> None:
    now = datetime.now(UTC)
    for i in range(120):
        arn = f"arn:aws:ssm-incidents::111122223333:incident-record/plan/i{i:04d}"
        bot.gateway.add_incident(arn, f"Service {i} down", created=now - timedelta(minutes=200 - i))
    bot.gateway.page_size = 50
    await run(bot, "bind")
    view = bot.client.called("views.open")[0]["view"]
    element = menu(view)
    assert element["type"] == "external_select" and element["action_id"] == ActionId.INCIDENT_SEARCH
    assert element["min_query_length"] == 0
    assert "There are 120 open incidents" in view["blocks"][0]["elements"][0]["text"]
    assert len(bot.gateway.called("ListIncidentRecords")) == 3  # every page was read

    ack = FakeAck()
    await handle_incident_search(ack=ack, payload={"value": "service 11"}, context=bot.context())
    texts = [option["text"]["text"] for option in ack.only["options"]]
    assert [text.split(" · ")[0] for text in texts] == [
        f"Service {i} down" for i in (119, 118, 117, 116, 115, 114, 113, 112, 111, 110, 11)
    ]
    ack = FakeAck()
    await handle_incident_search(ack=ack, payload={"value": ""}, context=bot.context())
    assert len(ack.only["options"]) == 100 and ack.only["options"][0]["text"]["text"].startswith(
        "Service 119 "
    )
    # Typing reuses the listing of a moment ago.
    assert len(bot.gateway.called("ListIncidentRecords")) == 3

    await submit(bot, view, "arn:aws:ssm-incidents::111122223333:incident-record/plan/i0011")
    binding = await bot.store.get_binding(TEAM, CHANNEL)
    assert binding is not None and binding.incident_title == "Service 11 down"


async def test_a_search_that_cannot_list_says_so_in_the_menu(bot: World) -> None:
    bot.gateway.fail_next(
        "ListIncidentRecords", IncidentManagerError("slow down", code="ThrottlingException", status=429)
    )
    ack = FakeAck()
    await handle_incident_search(ack=ack, payload={"value": "db"}, context=bot.context())
    [option] = ack.only["options"]
    assert option["value"] == "search-failed"
    assert option["text"]["text"].startswith("Couldn't list incidents, try again (ref ")
    three_open_incidents(bot)
    await run(bot, "bind")
    view = bot.client.called("views.open")[0]["view"]
    ack = await submit(bot, view, "search-failed")
    assert ack.only["response_action"] == "errors" and "type again" in ack.only["errors"][BlockId.INCIDENT]


async def test_a_slow_listing_opens_a_placeholder_then_fills_it_in(
    bot: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_open_incidents(bot)
    monkeypatch.setattr(incident_note, "PICKER_QUICK_SECONDS", 0.01)
    gate = asyncio.Event()
    listing = bot.gateway.list_open_incidents

    async def slow(next_token: str | None = None) -> Any:
        await gate.wait()
        return await listing(next_token)

    monkeypatch.setattr(bot.gateway, "list_open_incidents", slow)
    task = asyncio.create_task(run(bot, "bind"))
    for _ in range(500):  # bounded wait for the placeholder
        if bot.client.called("views.open"):
            break
        await asyncio.sleep(0.01)
    [opened] = bot.client.called("views.open")
    assert (
        opened["view"]["blocks"][0]["text"]["text"] == "Looking for the open incidents in Incident Manager…"
    )
    assert "submit" not in opened["view"]
    gate.set()
    await task
    [updated] = bot.client.called("views.update")
    assert updated["view_id"] == "V1" and menu(updated["view"])["type"] == "static_select"
    assert bot.replies.sent == []
