"""The *Undo* button: on every confirmation of an added note, event or shortcut entry, and what a click
does, called as Bolt calls the listeners (the use case is a fake here; its own tests are core's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, SectionBlock

from bot.domain.timeline import client_token
from bot.listeners.actions.undo_entry import handle_undo_entry
from bot.listeners.commands.incident_note import handle_incident_note
from bot.listeners.views.capture_submission import handle_capture_submission
from bot.listeners.views.compose_submission import handle_compose_submission
from bot.presentation.ids import ActionId
from bot.presentation.views import ComposeContext
from bot.usecases.changes import Changed, ChangeResult, UndoNotAllowed, UndoRefusal
from bot.usecases.errors import IncidentManagerError
from bot.usecases.outbox import NoticeKind
from tests.handlers.fake_changes import stored_entry
from tests.handlers.support import ARN_A, CHANNEL, TEAM, FakeAck, SentReply, World, world
from tests.handlers.test_forms import shortcut, state

RESPONSE_URL = "https://hooks.slack.com/actions/T0001/9/undo"
THROTTLED = IncidentManagerError("Rate exceeded", code="ThrottlingException", retryable=True)
TS = "1764150000.123456"


@pytest.fixture
async def bot() -> AsyncIterator[World]:
    """The handler tier's world with a fake of the lifecycle use case (its own tests are core's)."""
    made = world(fake_changes=True)
    try:
        yield made
    finally:
        await made.deps.outbox.stop(0.5)
        await made.store.close()


def command(text: str) -> dict[str, Any]:
    return {
        "command": "/incident-note",
        "text": text,
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "user_id": "U0001",
        "user_name": "alice",
        "trigger_id": "1337.42.abcd",
        "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
    }


def click(token: str, user: str = "U0001") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": TEAM},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "is_ephemeral": True, "channel_id": CHANNEL},
        "response_url": RESPONSE_URL,
        "actions": [{"action_id": ActionId.UNDO_ENTRY, "type": "button", "value": token}],
    }


async def undo(bot: World, token: str, user: str = "U0001") -> FakeAck:
    ack = FakeAck()
    await handle_undo_entry(ack=ack, body=click(token, user), client=bot.web, context=bot.context())
    return ack


def undo_button(reply: SentReply) -> ButtonElement:
    """The reply's blocks, as Slack would read them (slack_sdk's models), and its Undo button."""
    assert reply.blocks is not None, reply
    blocks = [Block.parse(block) for block in reply.blocks]
    for block in blocks:
        assert block is not None
        block.validate_json()
    assert isinstance(blocks[0], SectionBlock) and isinstance(blocks[-2], ContextBlock)
    actions = blocks[-1]
    assert isinstance(actions, ActionsBlock)
    [button] = actions.elements
    assert isinstance(button, ButtonElement) and button.action_id == ActionId.UNDO_ENTRY
    return button


def shown_text(reply: SentReply) -> str:
    assert reply.blocks is not None
    return "\n".join(block["text"]["text"] for block in reply.blocks if block["type"] == "section")


# The button, on each confirmation


async def test_a_slash_notes_confirmation_carries_undo_with_its_token_until_the_window_ends(
    bot: World,
) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    before = datetime.now(UTC)
    await handle_incident_note(
        ack=FakeAck(), command=command("failover done"), client=bot.web, context=bot.context()
    )
    [entry] = bot.gateway.events_on(ARN_A)
    [reply] = bot.replies.sent
    assert undo_button(reply).value == entry.client_token
    assert reply.text.startswith("Added a note to <") and shown_text(reply) == reply.text
    hint = reply.blocks[-2]["elements"][0]["text"] if reply.blocks else ""
    until = int(hint.split("<!date^", 1)[1].split("^", 1)[0])
    # Ten minutes from the request, to the minute and never later than the window allows.
    assert (
        before + timedelta(minutes=9) <= datetime.fromtimestamp(until, UTC) <= before + timedelta(minutes=10)
    )
    assert "Added by mistake? *Undo* takes it off the timeline" in hint


async def test_the_window_is_configurable() -> None:
    bot = world(fake_changes=True)
    try:
        bot.deps = replace(bot.deps, settings=replace(bot.deps.settings, undo_window=timedelta(minutes=3)))
        await bot.bind(ARN_A, "Checkout DB down")
        before = datetime.now(UTC)
        await handle_incident_note(ack=FakeAck(), command=command("x"), client=bot.web, context=bot.context())
        [reply] = bot.replies.sent
        assert reply.blocks is not None
        hint = reply.blocks[-2]["elements"][0]["text"]
        until = datetime.fromtimestamp(int(hint.split("<!date^", 1)[1].split("^", 1)[0]), UTC)
        assert before + timedelta(minutes=2) <= until <= before + timedelta(minutes=3)
    finally:
        await bot.deps.outbox.stop(0.5)
        await bot.store.close()


async def test_a_queued_notes_saved_reply_carries_undo_too(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    bot.gateway.outage = THROTTLED
    await handle_incident_note(
        ack=FakeAck(), command=command("queued one"), client=bot.web, context=bot.context()
    )
    [queued] = bot.replies.sent
    assert "is saved but not on the timeline yet" in queued.text
    await bot.deps.outbox.stop(0.5)  # the retry is the outbox's; this test is about the button
    [entry] = [
        stored.entry for stored in [await bot.store.get_entry(undo_button(queued).value or "")] if stored
    ]
    assert entry.text.startswith("queued one")


async def test_a_repeat_of_the_same_command_carries_no_button(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    for _ in range(2):
        await handle_incident_note(
            ack=FakeAck(), command=command("once"), client=bot.web, context=bot.context()
        )
    first, repeat = bot.replies.sent
    assert first.blocks is not None and repeat.blocks is None
    assert repeat.text.startswith("Already on the timeline of")


async def test_a_compose_forms_confirmation_carries_undo(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    metadata = ComposeContext(TEAM, CHANNEL, ARN_A).to_metadata()
    view = {"id": "V77", "private_metadata": metadata, "state": state("typed in the form")}
    await handle_compose_submission(
        ack=FakeAck(), body={"user": {"id": "U0001"}}, view=view, context=bot.context()
    )
    [entry] = bot.gateway.events_on(ARN_A)
    [reply] = bot.replies.sent
    assert undo_button(reply).value == entry.client_token == client_token("view", TEAM, "V77")


async def test_a_shortcut_entrys_confirmation_carries_undo(bot: World) -> None:
    from bot.listeners.shortcuts.add_to_timeline import handle_add_to_timeline

    await bot.bind(ARN_A, "Checkout DB down")
    await handle_add_to_timeline(ack=FakeAck(), shortcut=shortcut(), client=bot.web, context=bot.context())
    opened = bot.client.called("views.open")[0]["view"]
    view = {"id": "V1", "private_metadata": opened["private_metadata"], "state": state("@alice failed over")}
    body = {"user": {"id": "U0001"}}
    await handle_capture_submission(
        ack=FakeAck(), body=body, view=view, client=bot.web, context=bot.context()
    )
    [entry] = bot.gateway.events_on(ARN_A)
    [reply] = bot.replies.sent
    assert undo_button(reply).value == entry.client_token
    assert bot.client.called("reactions.add")  # the ✅ as before


async def test_a_long_entry_is_shown_whole_across_sections(bot: World) -> None:
    await bot.bind(ARN_A, "Checkout DB down")
    long_text = "\n".join(f"line {n} " + "x" * 90 for n in range(100))
    await handle_incident_note(
        ack=FakeAck(), command=command(long_text), client=bot.web, context=bot.context()
    )
    [reply] = bot.replies.sent
    undo_button(reply)  # every section within Slack's 3,000 characters: validate_json passed
    assert reply.blocks is not None and len([b for b in reply.blocks if b["type"] == "section"]) >= 4
    assert shown_text(reply) == reply.text


# A click


async def test_a_click_is_acked_at_once_and_the_confirmation_becomes_what_happened(bot: World) -> None:
    stored = stored_entry(ARN_A, text="wrong channel, sorry")
    bot.changes.answers["undo"] = Changed(ChangeResult.DONE, stored)
    ack = await undo(bot, stored.entry.client_token)
    assert ack.only == {"text": None}
    [(token, user, now)] = bot.changes.called("undo")
    assert (token, user) == (stored.entry.client_token, "U0001") and now.tzinfo is not None
    [reply] = bot.replies.sent
    assert reply.replaced and reply.response_url == RESPONSE_URL
    assert reply.text.startswith("Undone: the note is no longer on the timeline of <")
    assert "Checkout DB down" in reply.text and reply.text.endswith(":\n> wrong channel, sorry")
    # The button is gone with the confirmation it was on.
    assert reply.blocks is not None and all(block["type"] == "section" for block in reply.blocks)
    assert bot.client.called("reactions.remove") == []  # a typed note has no message to unmark


async def test_undoing_a_shortcut_entry_takes_the_check_mark_off_its_message(bot: World) -> None:
    stored = stored_entry(ARN_A, kind=NoticeKind.CAPTURE, message_ts=TS)
    bot.changes.answers["undo"] = Changed(ChangeResult.DONE, stored)
    await undo(bot, stored.entry.client_token)
    [unmark] = bot.client.called("reactions.remove")
    assert unmark == {"channel": CHANNEL, "timestamp": TS, "name": "white_check_mark"}


async def test_undoing_an_entry_that_never_reached_aws_says_it_never_will(bot: World) -> None:
    stored = stored_entry(ARN_A, kind=NoticeKind.CAPTURE, message_ts=TS)
    bot.changes.answers["undo"] = Changed(ChangeResult.CANCELLED, stored)
    await undo(bot, stored.entry.client_token)
    [reply] = bot.replies.sent
    assert reply.replaced and "had not reached the timeline of" in reply.text and "never will" in reply.text
    assert len(bot.client.called("reactions.remove")) == 1


async def test_an_undo_queued_behind_aws_says_it_will_be_removed_when_aws_answers(bot: World) -> None:
    stored = stored_entry(ARN_A, kind=NoticeKind.CAPTURE, message_ts=TS)
    bot.changes.answers["undo"] = Changed(ChangeResult.QUEUED, stored, THROTTLED)
    await undo(bot, stored.entry.client_token)
    [reply] = bot.replies.sent
    assert reply.replaced
    assert "Taking the note off the timeline of" in reply.text
    assert "Incident Manager is throttling requests right now" in reply.text
    assert "removed as soon as Incident Manager answers" in reply.text
    assert bot.client.called("reactions.remove") == []  # it goes when the delete lands


async def test_an_entry_already_gone_says_there_is_nothing_to_undo(bot: World) -> None:
    bot.changes.answers["undo"] = Changed(ChangeResult.NOTHING, stored_entry(ARN_A))
    await undo(bot, "slack-abc")
    [reply] = bot.replies.sent
    assert reply.replaced and reply.text.startswith("Nothing to undo: the note is no longer on the timeline")


async def test_aws_refusing_the_delete_replaces_the_confirmation_with_why_and_a_reference(bot: World) -> None:
    denied = IncidentManagerError("not allowed", code="AccessDeniedException", status=403)
    bot.changes.answers["undo"] = Changed(ChangeResult.REFUSED, stored_entry(ARN_A), denied)
    await undo(bot, "slack-abc")
    [reply] = bot.replies.sent
    assert reply.replaced
    assert "isn't allowed to call `ssm-incidents:DeleteTimelineEvent`" in reply.text
    assert "It is still on the timeline." in reply.text and "_Reference: " in reply.text


async def test_a_stranger_is_told_who_can_undo_and_the_confirmation_stays(bot: World) -> None:
    stored = stored_entry(ARN_A, user_id="U0001")
    bot.changes.answers["undo"] = UndoNotAllowed(UndoRefusal.NOT_YOURS, stored)
    await undo(bot, stored.entry.client_token, user="U0002")
    [reply] = bot.replies.sent
    assert not reply.replaced and reply.user_id == "U0002"
    assert reply.text == "Only <@U0001>, who added it, can undo this entry. It stays on the timeline."


async def test_with_bind_allowed_set_the_stranger_hears_that_those_named_may_too() -> None:
    bot = world(fake_changes=True, BIND_ALLOWED_USERS="U0009")
    try:
        bot.changes.answers["undo"] = UndoNotAllowed(UndoRefusal.NOT_YOURS, stored_entry(ARN_A))
        await undo(bot, "slack-abc", user="U0002")
        [reply] = bot.replies.sent
        assert "(and the people allowed to bind this channel)" in reply.text and not reply.replaced
    finally:
        await bot.deps.outbox.stop(0.5)
        await bot.store.close()


async def test_a_late_click_is_told_the_window_has_passed_and_the_confirmation_stays(bot: World) -> None:
    recorded = datetime(2025, 11, 26, 9, 40, tzinfo=UTC)
    bot.changes.answers["undo"] = UndoNotAllowed(
        UndoRefusal.WINDOW_PASSED, stored_entry(ARN_A, created_at=recorded)
    )
    await undo(bot, "slack-abc")
    [reply] = bot.replies.sent
    assert not reply.replaced
    assert reply.text.startswith("*Undo* works for 10 minutes after an entry is added")
    assert "(it was added at 2025-11-26 09:40:00 UTC)" in reply.text


async def test_an_unknown_token_changes_nothing_and_says_so(bot: World) -> None:
    bot.changes.answers["undo"] = UndoNotAllowed(UndoRefusal.UNKNOWN, None)
    await undo(bot, "slack-never-seen")
    [reply] = bot.replies.sent
    assert not reply.replaced and reply.text.startswith("I don't know that entry")


async def test_a_failure_keeps_the_confirmation_and_its_button_for_another_try(bot: World) -> None:
    bot.changes.answers["undo"] = RuntimeError("store is down")
    await undo(bot, "slack-abc")
    [reply] = bot.replies.sent
    assert not reply.replaced and "_Reference: " in reply.text


async def test_a_shortcut_on_a_pinned_message_updates_its_event_and_offers_no_undo(bot: World) -> None:
    from bot.listeners.events.reaction_added import handle_reaction_added
    from bot.listeners.shortcuts.add_to_timeline import handle_add_to_timeline

    await bot.bind(ARN_A, "Checkout DB down")
    message = shortcut()["message"]
    bot.client.messages[message["ts"]] = message
    pin: dict[str, Any] = {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": "Ev1",
        "event": {
            "type": "reaction_added",
            "user": "U0002",
            "reaction": "pushpin",
            "item": {"type": "message", "channel": CHANNEL, "ts": message["ts"]},
        },
    }
    await handle_reaction_added(event=pin["event"], body=pin, client=bot.web, context=bot.context())
    await handle_add_to_timeline(ack=FakeAck(), shortcut=shortcut(), client=bot.web, context=bot.context())
    opened = bot.client.called("views.open")[0]["view"]
    view = {"id": "V9", "private_metadata": opened["private_metadata"], "state": state("shaped in the form")}
    body = {"user": {"id": "U0001"}}
    await handle_capture_submission(
        ack=FakeAck(), body=body, view=view, client=bot.web, context=bot.context()
    )
    assert len(bot.gateway.created) == 1  # one message, one event
    [reply] = bot.replies.sent
    assert reply.text.startswith("That message was already on the timeline of <")
    assert "shaped in the form" in reply.text and reply.blocks is None
