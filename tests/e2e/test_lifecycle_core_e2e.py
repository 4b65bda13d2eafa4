"""Entries following Slack, end to end: the real bot takes signed pins over HTTP and sends to the fake
Incident Manager through its real gateway; a second replica (the same app's runtime on the same
database, as another process would be) takes the changes through `deps.changes`: un-pin, re-pin, Undo,
edits and deletes, also while AWS fails, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from bot.app import build_runtime
from bot.domain.slack_message import MessageRef
from bot.listeners.deps import Deps
from bot.usecases.changes import ChangeResult, UndoNotAllowed, UndoRefusal
from tests.support.harness import Harness
from tests.support.postgres import scratch_database

CHANNEL = "C0001"
T = TypeVar("T")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def lifecycle_bot(request: pytest.FixtureRequest, make_bot: Callable[..., Harness]) -> Iterator[Harness]:
    if request.param == "sqlite":
        yield make_bot()
        return
    server: str = request.getfixturevalue("postgres_server")
    with scratch_database(server, prefix="incident_bot_lifecycle") as url:
        bot = make_bot(DATABASE_URL=url)
        yield bot
        bot.server.stop()


def on_replica(bot: Harness, work: Callable[[Deps], Coroutine[Any, Any, T]]) -> T:
    """Run `work` on a second replica of the bot: the app's own runtime, on the same database."""

    async def run() -> T:
        runtime = await build_runtime(bot.server.settings)
        try:
            return await work(runtime.deps)
        finally:
            await runtime.deps.outbox.stop(5.0)
            await runtime.close()

    return asyncio.run(run())


def marks(bot: Harness, ts: str) -> set[str]:
    message = next(m for m in bot.slack.messages(CHANNEL) if m["ts"] == ts)
    return {r["name"] for r in message.get("reactions", [])}


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def pinned(bot: Harness, user: str = "U0001", text: str = "db failover done") -> tuple[str, str]:
    arn = bot.bound_incident("Checkout DB down")
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": text})
    assert bot.react(ts, user_id=user).status == 200
    wait_for(lambda: marks(bot, ts) == {"white_check_mark"})
    return arn, ts


def test_pin_then_un_pin_deletes_the_event_and_a_re_pin_adds_it_once_again(lifecycle_bot: Harness) -> None:
    bot = lifecycle_bot
    arn, ts = pinned(bot)
    (first,) = bot.aws.events(arn)
    ref = MessageRef("T0001", CHANNEL, ts)

    changed = on_replica(bot, lambda deps: deps.changes.pin_removed(ref, "U0001", arn))
    assert changed.result is ChangeResult.DONE
    assert bot.aws.events(arn) == []
    (delete,) = bot.aws.calls_to("DeleteTimelineEvent")
    assert delete.params == {"incidentRecordArn": arn, "eventId": first["eventId"]}

    # The re-pin is not "already on the timeline": a fresh token, one event again.
    assert bot.react(ts, user_id="U0003").status == 200
    wait_for(lambda: len(bot.aws.events(arn)) == 1)
    (again,) = bot.aws.events(arn)
    assert again["eventId"] != first["eventId"]
    assert again["clientToken"] != first["clientToken"]
    assert len(bot.aws.calls_to("CreateTimelineEvent")) == 2


def test_two_pinners_one_un_pins_and_the_event_stays(lifecycle_bot: Harness) -> None:
    bot = lifecycle_bot
    arn, ts = pinned(bot, "U0001")
    assert bot.react(ts, user_id="U0003").status == 200
    ref = MessageRef("T0001", CHANNEL, ts)
    # The second pin is answered with the ✅ once its pinner is recorded.
    bot.slack.wait_for_calls("reactions.add", 2, timeout=10)
    changed = on_replica(bot, lambda deps: deps.changes.pin_removed(ref, "U0001", arn))
    assert changed.result is ChangeResult.NOTHING
    assert len(bot.aws.events(arn)) == 1
    assert bot.aws.calls_to("DeleteTimelineEvent") == []


def test_an_edit_updates_the_event_in_place(lifecycle_bot: Harness) -> None:
    bot = lifecycle_bot
    arn, ts = pinned(bot, text="ETA 20 minutes")
    (before,) = bot.aws.events(arn)
    ref = MessageRef("T0001", CHANNEL, ts)
    edited_at = datetime(2025, 11, 26, 9, 45, tzinfo=UTC)

    changed = on_replica(
        bot, lambda deps: deps.changes.message_edited(ref, "ETA 5 minutes", "U0002", edited_at)
    )
    assert [c.result for c in changed] == [ChangeResult.DONE]
    (after,) = bot.aws.events(arn)
    assert after["eventId"] == before["eventId"]
    text = bot.event_text(after)
    assert text.startswith("ETA 5 minutes\n\n— bob, via Slack (added by alice)\n")
    assert text.endswith("\n(edited in Slack at 09:45 UTC)")
    assert after["eventTime"] == before["eventTime"] and after["eventType"] == "Note"
    assert after["eventReferences"] == [{"resource": arn}]
    (update,) = bot.aws.calls_to("UpdateTimelineEvent")
    assert update.status == 204 and len(update.params["clientToken"]) <= 128


def test_undo_by_the_adder_deletes_and_a_stranger_is_refused(lifecycle_bot: Harness) -> None:
    bot = lifecycle_bot
    arn, ts = pinned(bot)
    ref = MessageRef("T0001", CHANNEL, ts)

    async def token(deps: Deps) -> str:
        (live,) = await deps.changes.entries_following(ref)
        return live.entry.client_token

    entry_token = on_replica(bot, token)

    async def stranger(deps: Deps) -> UndoRefusal:
        try:
            await deps.changes.undo(entry_token, "U0003", datetime.now(UTC))
        except UndoNotAllowed as refused:
            return refused.reason
        raise AssertionError("a stranger's undo went through")

    assert on_replica(bot, stranger) is UndoRefusal.NOT_YOURS
    assert len(bot.aws.events(arn)) == 1
    changed = on_replica(bot, lambda deps: deps.changes.undo(entry_token, "U0001", datetime.now(UTC)))
    assert changed.result is ChangeResult.DONE
    assert bot.aws.events(arn) == []


def test_a_delete_while_aws_fails_lands_once_it_is_back_and_takes_the_mark_off(
    lifecycle_bot: Harness,
) -> None:
    bot = lifecycle_bot
    arn, ts = pinned(bot)
    ref = MessageRef("T0001", CHANNEL, ts)
    bot.aws.fail_next("DeleteTimelineEvent", "InternalServerException", times=6)

    (changed,) = on_replica(bot, lambda deps: deps.changes.message_deleted(ref, datetime.now(UTC)))
    assert changed.result is ChangeResult.QUEUED
    assert len(bot.aws.events(arn)) == 1
    # The bot's own outbox (the replica that stayed up) sends it once AWS answers.
    wait_for(lambda: bot.aws.events(arn) == [], timeout=30)
    deletes = bot.aws.calls_to("DeleteTimelineEvent")
    assert deletes[-1].status == 204


def test_an_edit_while_the_create_is_queued_lands_as_one_event_with_the_new_text(
    lifecycle_bot: Harness,
) -> None:
    bot = lifecycle_bot
    arn = bot.bound_incident("Checkout DB down")
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica lagging"})
    bot.aws.fail_next("CreateTimelineEvent", "ThrottlingException", times=4)
    bot.react(ts, user_id="U0001")
    wait_for(lambda: bool(bot.slack.calls_to("chat.postEphemeral")))  # "saved, queued"
    ref = MessageRef("T0001", CHANNEL, ts)
    edited_at = datetime(2025, 11, 26, 9, 50, tzinfo=UTC)
    changed = on_replica(
        bot, lambda deps: deps.changes.message_edited(ref, "replica caught up", "U0002", edited_at)
    )
    assert [c.result for c in changed] == [ChangeResult.QUEUED]
    wait_for(lambda: bool(bot.aws.events(arn)) and "caught up" in bot.event_text(bot.aws.events(arn)[0]), 30)
    (event,) = bot.aws.events(arn)
    assert bot.event_text(event).startswith("replica caught up\n")
    wait_for(lambda: marks(bot, ts) == {"white_check_mark"})
