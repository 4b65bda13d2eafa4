"""The timeline follows Slack, end to end with real signed requests and the fakes: Undo, un-pin, edits and
deletes, and the `message` events that concern no timeline costing nothing.

Each test runs on one bot over SQLite, and on two replicas (two apps, one PostgreSQL database, as behind a
load balancer) where the requests alternate between the replicas: the second request of a story reaches
the other one, so only what is in the shared store can make it come out right."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.store.schema import timeline_entries as entries
from bot.store.urls import engine_url
from tests.e2e.test_capture_e2e import Opened, open_capture, stored
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support.aws_errors import QUEUED
from tests.support.harness import CommandResult, Harness, values_from_view
from tests.support.postgres import scratch_database
from tests.support.slack_requests import interactivity, view_submission_payload

CHANNEL = "C0001"
UNDO = "undo_entry"


@dataclass
class Deployment:
    """The bot as Slack sees it: one app, or two replicas sharing a database; `next` alternates."""

    bots: list[Harness]
    database_url: str
    turn: int = 0

    @property
    def slack(self) -> FakeSlack:
        return self.bots[0].slack

    @property
    def aws(self) -> FakeIncidentManager:
        return self.bots[0].aws

    @property
    def next(self) -> Harness:
        bot = self.bots[self.turn % len(self.bots)]
        self.turn += 1
        return bot


Deploy = Callable[..., Deployment]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def deploy(
    request: pytest.FixtureRequest, make_bot: Callable[..., Harness], tmp_path: Path
) -> Iterator[Deploy]:
    """`deploy(**env)`: one bot on SQLite, or two replicas on one new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/lifecycle.db"
        yield lambda **env: Deployment([make_bot(DATABASE_URL=url, **env)], url)
        return
    server = request.getfixturevalue("postgres_server")
    with scratch_database(server, prefix="incident_bot_lifecycle") as url:
        yield lambda **env: Deployment([make_bot(DATABASE_URL=url, **env) for _ in range(2)], url)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def settle() -> None:
    """Long enough for an ignored event's handler to have done anything it was going to do."""
    time.sleep(0.5)


def marks(bot: Harness, ts: str) -> set[str]:
    message = next(m for m in bot.slack.messages(CHANNEL) if m["ts"] == ts)
    return {r["name"] for r in message.get("reactions", []) if "UBOT" in r.get("users", [])}


def undo_button(payload: dict[str, Any]) -> dict[str, Any]:
    for block in payload.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == UNDO:
                assert isinstance(element, dict)
                return element
    raise AssertionError(f"no Undo button in {payload}")


def first_reply(bot: Harness, result: CommandResult) -> dict[str, Any]:
    payload = bot.slack.wait_for_responses(result.response_url, 1, timeout=15)[0]
    assert isinstance(payload, dict)
    return payload


def click_reply(bot: Harness, click: CommandResult) -> dict[str, Any]:
    assert click.ack.status == 200
    payload = bot.slack.wait_for_responses(click.response_url, 1, timeout=15)[0]
    assert isinstance(payload, dict)
    return payload


def texts(aws: FakeIncidentManager, arn: str) -> list[str]:
    return [Harness.event_text(event) for event in aws.events(arn)]


def age_entries(database_url: str, by: timedelta) -> None:
    """As if every entry had been recorded `by` earlier (the Undo window is counted from then): what the
    clock would do in ten minutes, done to the shared store."""

    async def run() -> None:
        engine = create_async_engine(engine_url(database_url), poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                rows = (await connection.execute(select(entries.c.client_token, entries.c.created_at))).all()
                for token, created_at in rows:
                    aged = entries.update().where(entries.c.client_token == token)
                    await connection.execute(aged.values(created_at=created_at - by))
        finally:
            await engine.dispose()

    asyncio.run(run())


# Undo


def test_undo_by_the_adder_deletes_the_event_and_replaces_the_confirmation(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    bot = deployment.next
    note = bot.command("failover finished, wrong incident")
    confirmation = first_reply(bot, note)
    assert confirmation["text"].startswith("Added a note to")
    assert len(deployment.aws.events(arn)) == 1
    button = undo_button(confirmation)
    [create] = deployment.aws.calls_to("CreateTimelineEvent")
    assert button["value"] == create.params["clientToken"]
    click = deployment.next.click(button, user_id="U0001")
    reply = click_reply(bot, click)
    assert reply["replace_original"] is True
    assert reply["text"].startswith("Undone: the note is no longer on the timeline of")
    assert deployment.aws.events(arn) == []
    assert len(deployment.aws.calls_to("DeleteTimelineEvent")) == 1


def test_undo_refused_to_a_stranger_keeps_the_event_and_the_confirmation(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    bot = deployment.next
    confirmation = first_reply(bot, bot.command("only alice may take this back"))
    click = deployment.next.click(undo_button(confirmation), user_id="U0002")
    reply = click_reply(bot, click)
    assert reply.get("replace_original") is not True
    assert reply["text"] == "Only <@U0001>, who added it, can undo this entry. It stays on the timeline."
    assert len(deployment.aws.events(arn)) == 1
    assert deployment.aws.calls_to("DeleteTimelineEvent") == []


def test_undo_after_the_window_is_refused_and_says_why(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    bot = deployment.next
    confirmation = first_reply(bot, bot.command("kept for the review"))
    age_entries(deployment.database_url, timedelta(minutes=11))
    reply = click_reply(bot, deployment.next.click(undo_button(confirmation), user_id="U0001"))
    assert reply.get("replace_original") is not True
    assert reply["text"].startswith(
        "*Undo* works for 10 minutes after an entry is added, and that time has passed"
    )
    assert len(deployment.aws.events(arn)) == 1 and deployment.aws.calls_to("DeleteTimelineEvent") == []


def test_undo_of_a_shortcut_entry_takes_its_check_mark_off(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    bot = deployment.next
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica promoted"})
    opened = open_capture(bot, stored(bot, ts))
    assert deployment.next.post(*_submission(bot, opened)).status == 200
    confirmation = bot.slack.wait_for_responses(opened.response_url, 1, timeout=15)[0]
    wait_until(lambda: marks(bot, ts) == {"white_check_mark"}, 10, "the ✅")
    click_reply(bot, deployment.next.click(undo_button(confirmation), user_id="U0001"))
    wait_until(lambda: marks(bot, ts) == set(), 10, "the ✅ taken off")
    assert deployment.aws.events(arn) == []


def _submission(bot: Harness, opened: Opened) -> tuple[str, dict[str, str]]:
    payload = view_submission_payload(opened.view, values=values_from_view(opened.view), user_id="U0001")
    return interactivity(bot.secret, payload)


# Un-pin


def test_pin_then_unpin_deletes_the_event_and_takes_the_check_mark_off(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0003", "text": "db primary failed over"})
    assert deployment.next.react(ts, user_id="U0002").status == 200
    wait_until(lambda: marks(deployment.bots[0], ts) == {"white_check_mark"}, 10, "the ✅")
    assert deployment.next.unreact(ts, user_id="U0002").status == 200
    wait_until(lambda: deployment.aws.events(arn) == [], 10, "the event deleted")
    wait_until(lambda: marks(deployment.bots[0], ts) == set(), 10, "the ✅ taken off")
    assert len(deployment.aws.calls_to("DeleteTimelineEvent")) == 1


def test_two_pinners_one_unpins_and_the_event_stays(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0003", "text": "rollback started"})
    deployment.next.react(ts, user_id="U0001")
    wait_until(lambda: marks(deployment.bots[0], ts) == {"white_check_mark"}, 10, "the ✅")
    deployment.next.react(ts, user_id="U0002")
    deployment.next.unreact(ts, user_id="U0001")
    settle()
    assert len(deployment.aws.events(arn)) == 1 and marks(deployment.bots[0], ts) == {"white_check_mark"}
    assert deployment.aws.calls_to("DeleteTimelineEvent") == []
    deployment.next.unreact(ts, user_id="U0002")  # the last one
    wait_until(lambda: deployment.aws.events(arn) == [], 10, "the event deleted")


def test_pin_unpin_repin_puts_it_on_the_timeline_again_once(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0003", "text": "cache flushed"})
    deployment.next.react(ts, user_id="U0002")
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the event")
    deployment.next.unreact(ts, user_id="U0002")
    wait_until(lambda: deployment.aws.events(arn) == [], 10, "the event deleted")
    deployment.next.react(ts, user_id="U0002")
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the event again")
    wait_until(lambda: marks(deployment.bots[0], ts) == {"white_check_mark"}, 10, "the ✅ again")
    settle()
    [event] = deployment.aws.events(arn)
    assert Harness.event_text(event).startswith("cache flushed")
    tokens = {call.params["clientToken"] for call in deployment.aws.calls_to("CreateTimelineEvent")}
    assert len(tokens) == 2  # a fresh token: not answered "already on the timeline"


# One message, one event per incident, whichever way it came in


def test_a_message_added_with_the_shortcut_and_then_pinned_is_one_event(deploy: Deploy) -> None:
    """Before the lifecycle, this landed as two identical Notes. The shortcut made the event; the pin
    joins it, and taking the pin off leaves it (it is not the pin's)."""
    deployment = deploy()
    arn = deployment.next.bound_incident()
    bot = deployment.next
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica promoted"})
    opened = open_capture(bot, stored(bot, ts))
    assert deployment.next.post(*_submission(bot, opened)).status == 200
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the shortcut's event")
    assert deployment.next.react(ts, user_id="U0003").status == 200
    settle()
    assert deployment.next.unreact(ts, user_id="U0003").status == 200
    settle()
    assert len(deployment.aws.events(arn)) == 1
    assert len(deployment.aws.calls_to("CreateTimelineEvent")) == 1
    assert deployment.aws.calls_to("DeleteTimelineEvent") == []
    assert marks(deployment.bots[0], ts) == {"white_check_mark"}


def test_the_shortcut_on_a_pinned_message_updates_its_event(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "traffic shifted"})
    deployment.next.react(ts, user_id="U0001")
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the pin's event")
    [before] = deployment.aws.events(arn)
    bot = deployment.next
    opened = open_capture(bot, stored(bot, ts))
    payload = view_submission_payload(
        opened.view, values=values_from_view(opened.view, entry_type_choice="Custom Event"), user_id="U0001"
    )
    assert deployment.next.post(*interactivity(bot.secret, payload)).status == 200
    wait_until(
        lambda: [e["eventType"] for e in deployment.aws.events(arn)] == ["Custom Event"], 10, "the update"
    )
    [after] = deployment.aws.events(arn)
    assert after["eventId"] == before["eventId"] and after["eventTime"] == before["eventTime"]
    assert len(deployment.aws.calls_to("CreateTimelineEvent")) == 1
    assert len(deployment.aws.calls_to("UpdateTimelineEvent")) == 1


def test_an_un_pin_leaves_what_a_thread_put_on_the_timeline(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    parent = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "checkout errors rising"})
    reply = deployment.slack.add_message(
        CHANNEL, {"user": "U0003", "text": "rolling back 4.2", "thread_ts": parent}
    )
    bot = deployment.next
    result = bot.shortcut(stored(bot, reply), callback_id="add_thread_to_timeline")
    assert result.ack.status == 200
    wait_until(lambda: len(deployment.aws.events(arn)) == 2, 15, "the thread's two events")
    # Someone pins the reply (it joins the thread's event) and takes the pin off again.
    deployment.next.react(reply, user_id="U0001")
    settle()
    deployment.next.unreact(reply, user_id="U0001")
    settle()
    assert len(deployment.aws.events(arn)) == 2
    assert deployment.aws.calls_to("DeleteTimelineEvent") == []
    assert len(deployment.aws.calls_to("CreateTimelineEvent")) == 2


# Edits and deletes


def test_an_edit_updates_the_events_text_keeping_its_time_and_type(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "failed over to the replica"})
    deployment.next.react(ts, user_id="U0001")
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the event")
    [before] = deployment.aws.events(arn)
    assert deployment.next.edit(ts, "failed over to replica 2").status == 200
    wait_until(lambda: texts(deployment.aws, arn)[0].startswith("failed over to replica 2"), 10, "the edit")
    [after] = deployment.aws.events(arn)
    assert (after["eventTime"], after["eventType"], after["eventReferences"]) == (
        before["eventTime"],
        before["eventType"],
        before["eventReferences"],
    )
    assert "(edited in Slack at " in Harness.event_text(after)
    assert deployment.slack.calls_to("chat.postEphemeral") == []  # nobody is told when it works


def test_an_edit_incident_manager_refuses_is_explained_to_its_author_and_changes_nothing(
    deploy: Deploy,
) -> None:
    """AWS's guide says the console edits only custom events; the model says Notes too. Should AWS refuse
    a Note's update, its author hears why (the operation, the reason, a reference), and the event stays."""
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "ETA 20 minutes"})
    deployment.next.react(ts, user_id="U0001")
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the event")
    [before] = deployment.aws.events(arn)
    deployment.aws.fail_next(
        "UpdateTimelineEvent", "ValidationException", message="Only custom events can be updated"
    )
    assert deployment.next.edit(ts, "ETA 5 minutes").status == 200
    [told] = deployment.slack.wait_for_calls("chat.postEphemeral", 1, timeout=15)
    assert told.params["user"] == "U0002"
    text = str(told.params["text"])
    assert text.startswith("Your edit didn't reach the timeline of <")
    assert "Only custom events can be updated" in text and "Reference: " in text
    assert "The timeline still shows the message as it was." in text
    assert deployment.aws.events(arn) == [before]
    settle()
    assert len(deployment.aws.calls_to("UpdateTimelineEvent")) == 1  # refused for good: not retried


def test_a_deleted_message_deletes_its_event(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "the password is hunter2"})
    deployment.next.react(ts, user_id="U0001")
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the event")
    assert deployment.next.delete(ts).status == 200
    wait_until(lambda: deployment.aws.events(arn) == [], 10, "the event deleted")


def test_in_mark_mode_a_deleted_message_leaves_its_event_saying_so(deploy: Deploy) -> None:
    deployment = deploy(DELETED_MESSAGE_ACTION="mark")
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "wrong channel"})
    deployment.next.react(ts, user_id="U0001")
    wait_until(lambda: len(deployment.aws.events(arn)) == 1, 10, "the event")
    deployment.next.delete(ts)
    wait_until(lambda: "(deleted in Slack)" in texts(deployment.aws, arn)[0], 10, "the mark")
    assert "wrong channel" not in texts(deployment.aws, arn)[0]


def test_an_edit_while_the_create_is_queued_lands_as_one_event_with_the_new_text(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "draft wording"})
    deployment.aws.set_down(True)
    deployment.next.react(ts, user_id="U0001")
    saved = deployment.slack.wait_for_calls("chat.postEphemeral", 1, timeout=20)
    assert QUEUED in str(saved[0].params["text"])
    deployment.next.edit(ts, "final wording")
    settle()
    deployment.aws.set_down(False)
    wait_until(
        lambda: [t.split("\n")[0] for t in texts(deployment.aws, arn)] == ["final wording"],
        30,
        "one final event",
    )
    settle()
    assert len(deployment.aws.events(arn)) == 1


def test_a_delete_while_the_create_is_queued_sends_nothing_once_aws_is_back(deploy: Deploy) -> None:
    deployment = deploy()
    arn = deployment.next.bound_incident()
    ts = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "never mind"})
    deployment.aws.set_down(True)
    deployment.next.react(ts, user_id="U0001")
    deployment.slack.wait_for_calls("chat.postEphemeral", 1, timeout=20)
    deployment.next.delete(ts)
    settle()
    deployment.aws.set_down(False)
    time.sleep(4)  # past the outbox's next retries: nothing is left to send
    assert deployment.aws.events(arn) == []
    assert all(call.status != 200 for call in deployment.aws.calls_to("CreateTimelineEvent"))


# What concerns no timeline


def test_messages_that_concern_no_timeline_cost_no_aws_or_slack_call(deploy: Deploy) -> None:
    deployment = deploy()
    deployment.next.bound_incident()
    deployment.slack.add_channel("C0002", "random")
    calls_before = len(deployment.slack.calls)
    aws_before = len(deployment.aws.calls)
    plain = {
        "type": "message",
        "channel": CHANNEL,
        "user": "U0002",
        "text": "hello",
        "ts": "1764150000.000100",
    }
    elsewhere = {**plain, "channel": "C0002"}
    never_pinned = deployment.slack.add_message(CHANNEL, {"user": "U0002", "text": "just chatting"})
    for event in (plain, elsewhere):
        assert deployment.next.deliver(event).status == 200
    assert deployment.next.edit(never_pinned, "just chatting, edited").status == 200
    assert deployment.next.delete(never_pinned).status == 200
    settle()
    assert len(deployment.aws.calls) == aws_before
    assert len(deployment.slack.calls) == calls_before
