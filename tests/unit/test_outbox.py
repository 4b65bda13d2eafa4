"""The outbox on a real SQLite file, with a scripted gateway: one send per token in flight, what the
waiting person is told, background retries, giving up, resuming after a restart, and the follow-ups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore import exceptions as aws

from bot.aws.incidents import translate
from bot.domain.timeline import EventType, TimelineEntry, client_token, encode_event_data
from bot.store import SqlStore
from bot.usecases.errors import GaveUp, NotSent, OutcomeUnknown
from bot.usecases.outbox import Landed, Notice, NoticeKind, Outbox, Queued, Refused, RetryPolicy, Told
from bot.usecases.ports import EntryState, OwedChange, OwedReply, StoredEntry
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
    """Writes each reply as "landed <event id>" / "failed <token>" (keeping the error), and records what it
    told, and to whom; while not `reachable` nothing reaches anyone (Slack down), with `retry_after`."""

    def __init__(self, *, gated: bool = False) -> None:
        self.landed_entries: list[tuple[str, str]] = []
        self.failures: list[tuple[str, BaseException]] = []
        self.errors: dict[str, BaseException] = {}
        # Every reply that reached its person: (notice, reply); and every try that did not.
        self.told: list[tuple[str, str]] = []
        self.untold: list[tuple[str, str]] = []
        self.reachable = True
        self.retry_after: float | None = None
        self._tokens: dict[str, str] = {}
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()

    def landed_reply(self, stored: StoredEntry, event_id: str) -> str:
        reply = f"landed {event_id}"
        self._tokens[reply] = stored.entry.client_token
        return reply

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str:
        self.errors[stored.entry.client_token] = error
        reply = f"failed {stored.entry.client_token}"
        self._tokens[reply] = stored.entry.client_token
        return reply

    def change_reply(self, stored: StoredEntry, change: OwedChange, error: BaseException | None) -> str:
        reply = f"{change.kind} {'done' if error is None else 'failed'} {stored.entry.client_token}"
        self._tokens[reply] = stored.entry.client_token
        if error is not None:
            self.errors[stored.entry.client_token] = error
        return reply

    async def tell(self, notice: str, reply: str, landed: bool) -> Told:
        await self.gate.wait()
        if not self.reachable:
            self.untold.append((notice, reply))
            return Told(reached=False, retry_after=self.retry_after)
        self.told.append((notice, reply))
        # Written by another run's follow-ups (a restart): the default event id names its token.
        token = self._tokens.get(reply) or reply.removeprefix("landed event-").removeprefix("failed ")
        if landed:
            self.landed_entries.append((token, reply.removeprefix("landed ")))
        else:
            self.failures.append((token, self.errors.get(token, RuntimeError(reply))))
        return Told(reached=True)


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
    assert landed is not None
    owed = await first_store.owed_replies(stored.entry.client_token)
    assert [o.reply for o in owed] == [f"landed event-{stored.entry.client_token}"]
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
        assert await store.owed_replies(stored.entry.client_token) == []
        await outbox.sweep()
        await settle(outbox)
        assert len(follow_ups.landed_entries) == 1  # told once
    finally:
        await store.close()


# Owed replies: kept until they reach the person


async def wait_for(condition: Callable[[], Awaitable[bool]], outbox: Outbox, what: str) -> None:
    """Sweep as the outbox's own loop would, until `condition` holds."""
    for _ in range(500):
        await outbox.sweep()
        if await condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def person(user_id: str, kind: NoticeKind = NoticeKind.PIN) -> str:
    return Notice(kind=kind, team_id="T1", channel_id="C1", user_id=user_id, message_ts="1.2").to_json()


async def test_a_reply_slack_does_not_take_stays_owed_and_is_given_once_slack_is_back(
    store: SqlStore,
) -> None:
    gateway, follow_ups = ScriptedGateway(throttled()), RecordedFollowUps()
    follow_ups.reachable = False  # Slack down when the note lands
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    token = stored.entry.client_token
    assert isinstance(await outbox.deliver(stored), Queued)

    async def tried_twice() -> bool:
        return len(follow_ups.untold) >= 2

    await wait_for(tried_twice, outbox, "two tries at the owed reply")
    assert (await state_of(store)).state is EntryState.SENT
    (still_owed,) = await store.owed_replies(token)
    assert still_owed.reply == f"landed event-{token}" and still_owed.attempts >= 1
    follow_ups.reachable = True

    async def told() -> bool:
        return not await store.owed_replies(token)

    await wait_for(told, outbox, "the reply to be given")
    assert follow_ups.landed_entries == [(token, f"event-{token}")]
    await outbox.sweep()
    await asyncio.sleep(0.05)
    assert len(follow_ups.told) == 1  # given once


async def test_an_undelivered_reply_waits_as_long_as_slack_asked(store: SqlStore) -> None:
    gateway, follow_ups = ScriptedGateway(throttled()), RecordedFollowUps()
    follow_ups.reachable, follow_ups.retry_after = False, 30.0
    outbox = outbox_for(store, gateway, follow_ups)
    stored = await saved(store, outbox)
    await outbox.deliver(stored)

    async def rescheduled() -> bool:
        owed = await store.owed_replies(stored.entry.client_token)
        return bool(owed) and owed[0].attempts == 1 and not outbox._telling

    await wait_for(rescheduled, outbox, "the failed try to be counted")
    (owed,) = await store.owed_replies(stored.entry.client_token)
    assert owed.due_at >= datetime.now(UTC) + timedelta(seconds=29)  # not the 10 ms backoff: Retry-After
    for _ in range(5):
        await outbox.sweep()
    assert len(follow_ups.untold) == 1  # not tried again before then


async def test_a_reply_owed_for_a_day_is_dropped_with_an_error_line_naming_only_the_token(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    a_day_gone = RetryPolicy(first_delay_seconds=0.01, max_delay_seconds=0.05, reply_owed_for=timedelta(0))
    gateway, follow_ups = ScriptedGateway(throttled()), RecordedFollowUps()
    follow_ups.reachable = False
    outbox = outbox_for(store, gateway, follow_ups, policy=a_day_gone)
    secret_url = "https://hooks.slack.com/actions/T1/1/SECRETSECRET"
    notice = Notice(NoticeKind.REPLY, "T1", "C1", "U1", response_url=secret_url).to_json()
    stored = await store.save_entry_once(entry(), notice, outbox.lease_until())
    await outbox.deliver(stored)

    async def dropped() -> bool:
        return (
            bool(follow_ups.untold)
            and not outbox._telling
            and not await store.owed_replies(entry().client_token)
        )

    await wait_for(dropped, outbox, "the reply to be dropped")
    (line,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert line.__dict__["token"] == stored.entry.client_token
    logged = line.getMessage() + repr(line.__dict__)
    assert "SECRETSECRET" not in logged and "landed event-" not in logged


async def test_everyone_awaiting_an_entry_hears_its_final_failure(store: SqlStore) -> None:
    gateway, follow_ups = ScriptedGateway(throttled(), denied()), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups)
    token = entry().client_token
    stored = await store.save_entry_once(entry(), person("U1"), outbox.lease_until())
    assert isinstance(await outbox.deliver(stored), Queued)
    assert await store.add_awaiting(token, person("U2"))  # a second pin, told "saved" too
    await settle(outbox)
    assert sorted(notice for notice, _ in follow_ups.told) == sorted([person("U1"), person("U2")])
    assert [reply for _, reply in follow_ups.told] == [f"failed {token}"] * 2
    assert await store.owed_replies(token) == [] and await store.awaiting(token) == []


class AwaitedJustAsItSettles(SqlStore):
    """Someone is recorded as awaiting the entry after the outbox read who awaits it, before it settles."""

    latecomer = person("U3")

    async def mark_sent(
        self,
        client_token: str,
        event_id: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
    ) -> bool:
        if self.latecomer:
            assert await self.add_awaiting(client_token, self.latecomer)
            self.latecomer = ""
        return await super().mark_sent(client_token, event_id, owed, awaiting)


async def test_someone_who_starts_awaiting_as_the_entry_settles_is_told_too(tmp_path: Path) -> None:
    store = AwaitedJustAsItSettles(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        gateway, follow_ups = ScriptedGateway(throttled()), RecordedFollowUps()
        outbox = outbox_for(store, gateway, follow_ups)
        stored = await store.save_entry_once(entry(), person("U1"), outbox.lease_until())
        await outbox.deliver(stored)
        await settle(outbox)
        assert sorted(notice for notice, _ in follow_ups.told) == sorted([person("U1"), person("U3")])
    finally:
        await store.close()


async def test_asking_again_for_a_failed_entry_does_not_cost_the_first_person_their_reply(
    store: SqlStore,
) -> None:
    gateway, follow_ups = ScriptedGateway(throttled(), denied()), RecordedFollowUps()
    follow_ups.reachable = False
    outbox = outbox_for(store, gateway, follow_ups)
    token = entry().client_token
    await outbox.deliver(await store.save_entry_once(entry(), person("U1"), outbox.lease_until()))

    async def failed_and_owed() -> bool:
        return (await state_of(store)).state is EntryState.FAILED and bool(follow_ups.untold)

    await wait_for(failed_and_owed, outbox, "the entry to fail while Slack is down")
    # Asked for again (access granted since): pending again, this time with U2's notice; it lands.
    again = await store.save_entry_once(entry(), person("U2"), outbox.lease_until())
    follow_ups.reachable = True
    assert await outbox.deliver(again) == Landed(f"event-{token}")

    async def told() -> bool:
        return not await store.owed_replies(token)

    await wait_for(told, outbox, "the first person's reply")
    assert follow_ups.told == [(person("U1"), f"failed {token}")]


async def test_a_burst_of_requests_leaves_room_for_owed_replies_and_background_retries(
    store: SqlStore,
) -> None:
    gateway, follow_ups = ScriptedGateway(gated=True), RecordedFollowUps()
    outbox = outbox_for(store, gateway, follow_ups, max_in_flight=2)
    # A burst: many people's requests, all waiting their turn under the rate limit.
    burst = [await saved(store, outbox, f"burst-{i}") for i in range(6)]
    for stored in burst:
        assert isinstance(await outbox.deliver(stored, wait=0), Queued)
    # Meanwhile a reply is owed (Slack refused it before) and another entry is due for a retry.
    now = datetime.now(UTC)
    due = OwedReply("r1", client_token("old"), person("U9"), "landed event-old", True, now, now)
    await store.owe_replies([due])
    await store.save_entry_once(entry("retry"), "{}", now)
    assert await outbox.sweep() == 1  # the retry starts, besides the burst

    async def told() -> bool:
        return not await store.owed_replies(client_token("old"))

    await wait_for(told, outbox, "the owed reply")
    assert follow_ups.told == [(person("U9"), "landed event-old")]
    assert len(outbox._deliveries) == 7  # the burst is still waiting its turn
    gateway.gate.set()
    await settle(outbox)


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
