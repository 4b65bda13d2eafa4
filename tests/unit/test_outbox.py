"""The outbox on a real SQLite file, with a scripted gateway: one send per token in flight, what the
waiting person is told, background retries, giving up, resuming after a restart, and the follow-ups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore import exceptions as aws

from bot.aws.incidents import translate
from bot.domain.timeline import EventType, TimelineEntry, client_token, encode_event_data
from bot.store import SqlStore
from bot.usecases.errors import GaveUp, NotSent, OutcomeUnknown
from bot.usecases.outbox import Landed, Notice, NoticeKind, Outbox, Queued, Refused, RetryPolicy
from bot.usecases.ports import EntryState, StoredEntry
from tests.store.support import Clock

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
FAST = RetryPolicy(first_delay_seconds=0.01, max_delay_seconds=0.05)


def throttled() -> aws.ClientError:
    return aws.ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 429},
        },
        "CreateTimelineEvent",
    )


def denied() -> aws.ClientError:
    return aws.ClientError(
        {
            "Error": {"Code": "AccessDeniedException", "Message": "no"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "CreateTimelineEvent",
    )


class ScriptedGateway:
    """Answers each call with the next scripted outcome (an exception or an event id; afterwards
    "event-<token>"), optionally holding every answer until the test opens the gate."""

    region = "eu-west-1"

    def __init__(self, *script: BaseException | str, gated: bool = False, slow_aws: bool = False) -> None:
        self.script = list(script)
        self.tokens: list[str] = []
        self.gate = asyncio.Event()
        # Gated before its turn under the rate limit comes (a queue), or, slow_aws, after (AWS is slow).
        self.slow_aws = slow_aws
        if not gated:
            self.gate.set()

    async def create_timeline_event(
        self, entry: TimelineEntry, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        if not self.slow_aws:
            await self.gate.wait()
        if before_send is not None and not await before_send():
            raise NotSent()
        self.tokens.append(entry.client_token)
        await self.gate.wait()
        outcome = self.script.pop(0) if self.script else f"event-{entry.client_token}"
        if isinstance(outcome, Exception):
            # As the real gateway does: botocore's exception becomes the typed one, the original its cause.
            typed = translate(outcome, write=True)
            if typed is outcome:
                raise outcome
            raise typed from outcome
        assert isinstance(outcome, str)
        return outcome


class RecordedFollowUps:
    """Writes each reply as "landed <event id>" / "failed" (keeping the error), and records what it told."""

    def __init__(self, *, gated: bool = False) -> None:
        self.landed_entries: list[tuple[str, str]] = []
        self.failures: list[tuple[str, BaseException]] = []
        self.errors: dict[str, BaseException] = {}
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()

    def landed_reply(self, stored: StoredEntry, event_id: str) -> str:
        return f"landed {event_id}"

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str:
        self.errors[stored.entry.client_token] = error
        return "failed"

    async def tell(self, stored: StoredEntry, reply: str, landed: bool) -> None:
        await self.gate.wait()
        token = stored.entry.client_token
        if landed:
            self.landed_entries.append((token, reply.removeprefix("landed ")))
        else:
            self.failures.append((token, self.errors.get(token, RuntimeError(reply))))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}")
    yield opened
    await opened.close()


def outbox_for(
    store: SqlStore,
    gateway: ScriptedGateway,
    follow_ups: RecordedFollowUps,
    policy: RetryPolicy = FAST,
    max_in_flight: int = 10,
    lease: timedelta = timedelta(seconds=30),
) -> Outbox:
    return Outbox(
        store,
        gateway,  # type: ignore[arg-type]
        follow_ups,
        lease=lease,
        max_in_flight=max_in_flight,
        policy=policy,
    )


def entry(name: str = "1") -> TimelineEntry:
    return TimelineEntry(
        client_token("t", name),
        ARN,
        EventType.NOTE,
        datetime(2026, 11, 26, tzinfo=UTC),
        encode_event_data("hi"),
    )


async def saved(store: SqlStore, outbox: Outbox, name: str = "1") -> StoredEntry:
    notice = Notice(kind=NoticeKind.REPLY, team_id="T1", channel_id="C1", user_id="U1")
    return await store.save_entry_once(entry(name), notice.to_json(), outbox.lease_until())


async def state_of(store: SqlStore, name: str = "1") -> StoredEntry:
    found = await store.get_entry(entry(name).client_token)
    assert found is not None
    return found


async def settle(outbox: Outbox, rounds: int = 300) -> None:
    """Sweep as the outbox's own loop would, until nothing is pending, in flight or being told."""
    for _ in range(rounds):
        await outbox.sweep()
        await asyncio.sleep(0.01)
        if not outbox._deliveries and not outbox._tasks and await outbox._store.pending_count() == 0:
            return
    pytest.fail("the outbox did not settle")


# One attempt per token in flight


async def test_callers_with_one_token_share_one_send(store: SqlStore) -> None:
    gateway, follow_ups = ScriptedGateway(gated=True), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    first = asyncio.ensure_future(outbox.deliver(stored))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(outbox.deliver(stored))
    await asyncio.sleep(0.01)
    gateway.gate.set()
    event_id = f"event-{stored.entry.client_token}"
    assert await first == Landed(event_id)
    assert await second == Landed(event_id, joined=True)
    assert gateway.tokens == [stored.entry.client_token]
    assert (await state_of(store)).state is EntryState.SENT
    await settle(outbox)
    assert follow_ups.landed_entries == []  # the person waiting was answered directly


async def test_a_final_refusal_reaches_every_waiting_caller_and_is_not_retried(store: SqlStore) -> None:
    gateway, follow_ups = ScriptedGateway(denied(), gated=True), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    callers = [asyncio.ensure_future(outbox.deliver(stored)) for _ in range(2)]
    await asyncio.sleep(0.01)
    gateway.gate.set()
    for caller in callers:
        outcome = await caller
        assert isinstance(outcome, Refused) and isinstance(outcome.error.__cause__, aws.ClientError)
    await settle(outbox)
    assert len(gateway.tokens) == 1
    assert (await state_of(store)).state is EntryState.FAILED
    assert follow_ups.failures == []


async def test_a_send_outlives_its_cancelled_caller_and_its_person_is_told(store: SqlStore) -> None:
    """Once asked, AWS's answer is recorded even if the person's request goes away (the bot stopping)."""
    gateway, follow_ups = ScriptedGateway(gated=True), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    caller = asyncio.ensure_future(outbox.deliver(stored))
    await asyncio.sleep(0.01)
    caller.cancel()
    gateway.gate.set()
    await settle(outbox)
    assert (await state_of(store)).state is EntryState.SENT
    assert follow_ups.landed_entries == [(stored.entry.client_token, f"event-{stored.entry.client_token}")]


# Queued, then retried in the background


async def test_a_throttled_entry_is_queued_then_lands_once_and_the_person_is_told(store: SqlStore) -> None:
    gateway, follow_ups = ScriptedGateway(throttled(), throttled()), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    outcome = await outbox.deliver(stored)
    assert isinstance(outcome, Queued) and outcome.error is not None
    assert isinstance(outcome.error.__cause__, aws.ClientError)
    pending = await state_of(store)
    assert (pending.state, pending.attempts) == (EntryState.PENDING, 1)
    await settle(outbox)
    token = stored.entry.client_token
    assert gateway.tokens == [token, token, token]  # the same token every time
    assert follow_ups.landed_entries == [(token, f"event-{token}")]
    assert (await state_of(store)).state is EntryState.SENT


@pytest.mark.parametrize(("slow_aws", "waiting_for_turn"), [(True, False), (False, True)])
async def test_past_the_patience_the_person_hears_queued_and_then_landed(
    store: SqlStore, slow_aws: bool, waiting_for_turn: bool
) -> None:
    gateway, follow_ups = ScriptedGateway(gated=True, slow_aws=slow_aws), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    assert await outbox.deliver(stored, wait=0.05) == Queued(None, waiting_for_turn=waiting_for_turn)
    gateway.gate.set()
    await settle(outbox)
    assert follow_ups.landed_entries == [(stored.entry.client_token, f"event-{stored.entry.client_token}")]
    assert len(gateway.tokens) == 1


async def test_a_refusal_after_queueing_is_told_and_never_retried(store: SqlStore) -> None:
    gateway, follow_ups = ScriptedGateway(throttled(), denied()), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    assert isinstance(await outbox.deliver(stored), Queued)
    await settle(outbox)
    ((token, error),) = follow_ups.failures
    assert token == stored.entry.client_token and isinstance(error.__cause__, aws.ClientError)
    assert (await state_of(store)).state is EntryState.FAILED
    assert len(gateway.tokens) == 2


async def test_it_gives_up_after_the_policy_and_says_whether_it_may_have_landed(store: SqlStore) -> None:
    patient_for_nothing = RetryPolicy(first_delay_seconds=0.01, give_up_after=timedelta(0))
    gateway, follow_ups = ScriptedGateway(OutcomeUnknown("timed out")), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups, policy=patient_for_nothing)
    outcome = await outbox.deliver(await saved(store, outbox))
    assert isinstance(outcome, Refused) and isinstance(outcome.error, GaveUp)
    assert outcome.error.uncertain is True
    assert (await state_of(store)).state is EntryState.FAILED


async def test_backoff_grows_within_bounds() -> None:
    policy = RetryPolicy(first_delay_seconds=1, max_delay_seconds=60)
    for attempts, ceiling in ((1, 1), (2, 2), (3, 4), (7, 60), (30, 60)):
        delays = [policy.delay(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)


# Restarts, and more than one process


async def test_a_new_run_resumes_what_the_last_one_left_pending(tmp_path: Path) -> None:
    path = f"sqlite:///{tmp_path / 'bot.db'}"
    first_store = SqlStore(path)
    killed = outbox_for(first_store, ScriptedGateway(), RecordedFollowUps())
    # Saved and held by a request that never finished (the process died): held for no time at all.
    notice = Notice(kind=NoticeKind.REPLY, team_id="T1", channel_id="C1", user_id="U1").to_json()
    for name in ("a", "b", "c"):
        await first_store.save_entry_once(entry(name), notice, datetime.now(UTC))
    await first_store.close()
    del killed

    store = SqlStore(path)
    try:
        gateway, follow_ups = ScriptedGateway(), RecordedFollowUps()
        outbox = outbox_for(store, gateway, follow_ups)
        await settle(outbox)
        tokens = sorted(entry(name).client_token for name in ("a", "b", "c"))
        assert sorted(gateway.tokens) == tokens
        assert sorted(token for token, _ in follow_ups.landed_entries) == tokens
        assert await store.pending_count() == 0
        await settle(outbox)
        assert len(gateway.tokens) == 3  # nothing is sent twice
    finally:
        await store.close()


async def test_two_outboxes_on_one_database_send_each_entry_once(tmp_path: Path) -> None:
    path = f"sqlite:///{tmp_path / 'bot.db'}"
    stores = [SqlStore(path), SqlStore(path)]
    gateways = [ScriptedGateway(), ScriptedGateway()]
    outboxes = [
        outbox_for(s, g, RecordedFollowUps(), max_in_flight=4) for s, g in zip(stores, gateways, strict=True)
    ]
    try:
        for i in range(20):
            await stores[0].save_entry_once(entry(str(i)), "{}", datetime.now(UTC))
        await asyncio.gather(*(settle(o) for o in outboxes))
        sent = gateways[0].tokens + gateways[1].tokens
        assert sorted(sent) == sorted(entry(str(i)).client_token for i in range(20))
    finally:
        for opened in stores:
            await opened.close()


async def test_a_sweep_claims_no_more_than_there_is_room_for(store: SqlStore) -> None:
    gateway = ScriptedGateway(gated=True)
    outbox = outbox_for(store, gateway, RecordedFollowUps(), max_in_flight=3)
    for i in range(5):
        await store.save_entry_once(entry(str(i)), "{}", datetime.now(UTC))
    assert await outbox.sweep() == 3
    assert await outbox.sweep() == 0
    gateway.gate.set()
    await settle(outbox)
    assert len(gateway.tokens) == 5


async def test_stop_leaves_unfinished_attempts_pending_for_the_next_run(store: SqlStore) -> None:
    gateway = ScriptedGateway(gated=True)
    outbox = outbox_for(store, gateway, RecordedFollowUps())
    await store.save_entry_once(entry(), "{}", datetime.now(UTC))
    outbox.start()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if gateway.tokens:
            break
    assert await outbox.stop(grace_seconds=0.05) == 1
    assert (await state_of(store)).state is EntryState.PENDING


def test_a_notice_round_trips_and_garbage_is_none() -> None:
    notice = Notice(NoticeKind.PIN, "T1", "C1", "U1", message_ts="1.2", incident_title="DB ✨", text="a\nb")
    assert Notice.from_json(notice.to_json()) == notice
    assert Notice.from_json("") is None and Notice.from_json('{"kind": 1, "bogus": 2}') is None


async def test_an_entry_another_worker_took_meanwhile_is_not_sent_here(store: SqlStore) -> None:
    gateway, follow_ups = ScriptedGateway(), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    # Another process claimed it while this one waited for its turn under the rate limit.
    assert await store.renew_lease(stored.entry.client_token, stored.next_attempt_at, outbox.lease_until())
    assert await outbox.deliver(stored) == Queued(None)
    await asyncio.sleep(0.05)
    assert gateway.tokens == []  # nothing sent from here: the holder sends it and tells the person
    assert follow_ups.landed_entries == [] and follow_ups.failures == []
    assert (await state_of(store)).state is EntryState.PENDING


async def test_a_sweep_never_takes_an_entry_from_this_processs_own_waiting_attempt(
    store: SqlStore,
) -> None:
    """A request whose hold ran out while it waited its turn under the rate limit keeps its entry."""
    gateway, follow_ups = ScriptedGateway(gated=True), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    notice = Notice(kind=NoticeKind.REPLY, team_id="T1", channel_id="C1", user_id="U1").to_json()
    stored = await store.save_entry_once(entry(), notice, datetime.now(UTC))  # a hold that has run out
    assert await outbox.deliver(stored, wait=0.05) == Queued(None, waiting_for_turn=True)
    assert await outbox.sweep() == 0
    gateway.gate.set()
    await settle(outbox)
    assert gateway.tokens == [stored.entry.client_token]
    assert follow_ups.landed_entries == [(stored.entry.client_token, f"event-{stored.entry.client_token}")]


async def test_a_reply_owed_when_the_bot_stops_is_given_by_the_next_run(tmp_path: Path) -> None:
    path = f"sqlite:///{tmp_path / 'bot.db'}"
    first_store = SqlStore(path)
    # Slack is unreachable for the first run's follow-up, and then it stops.
    unreachable = RecordedFollowUps(gated=True)
    first = outbox_for(first_store, ScriptedGateway(throttled()), unreachable, lease=timedelta(0))
    stored = await saved(first_store, first)
    assert isinstance(await first.deliver(stored), Queued)
    for _ in range(200):
        await first.sweep()
        await asyncio.sleep(0.01)
        landed = await first_store.get_entry(stored.entry.client_token)
        if landed is not None and landed.state is EntryState.SENT:
            break
    assert landed is not None and landed.reply_pending == f"landed event-{stored.entry.client_token}"
    assert await first.stop(grace_seconds=0.05) == 1  # the follow-up never got through
    await first_store.close()

    store = SqlStore(path)
    try:
        follow_ups = RecordedFollowUps()
        outbox = outbox_for(store, ScriptedGateway(), follow_ups)
        await outbox.sweep()
        await settle(outbox)
        assert follow_ups.landed_entries == [
            (stored.entry.client_token, f"event-{stored.entry.client_token}")
        ]
        told = await store.get_entry(stored.entry.client_token)
        assert told is not None and told.reply_pending is None
        await outbox.sweep()
        await settle(outbox)
        assert len(follow_ups.landed_entries) == 1  # told once
    finally:
        await store.close()


class CountingPrunes(SqlStore):
    prunes = 0

    async def prune(self, now: datetime) -> int:
        self.prunes += 1
        return await super().prune(now)


async def test_the_sweep_prunes_settled_history_every_few_minutes(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    clock = Clock(now - timedelta(days=31))
    store = CountingPrunes(f"sqlite:///{tmp_path / 'bot.db'}", clock=clock)
    try:
        for name in ("old", "recent"):
            await store.save_entry_once(entry(name), "{}", now + timedelta(hours=1))
            await store.mark_sent(entry(name).client_token, f"event-{name}")
            clock.now = now  # "recent" settles today
        outbox = outbox_for(store, ScriptedGateway(), RecordedFollowUps())
        await outbox.sweep()
        assert await store.get_entry(entry("old").client_token) is None
        assert await store.get_entry(entry("recent").client_token) is not None
        await outbox.sweep()
        await outbox.sweep()
        assert store.prunes == 1  # not on every sweep: every few minutes
    finally:
        await store.close()
