"""The outbox: every timeline entry reaches Incident Manager exactly once, or its person hears it did not.

An entry is in the store (with its clientToken) before AWS is asked. The person who acted waits a little
for the first attempt; if Incident Manager is busy, failing or slow, they hear at once that it is saved and
queued, and the outbox keeps trying in the background (with backoff, through the gateway's rate limit)
and tells them again when it lands or finally fails. Pending entries survive a restart, even `kill -9`:
they are resumed at start-up with the same token, so AWS never creates a second event for one entry.

A change of an entry (an update, a delete: `bot.usecases.changes`) is an operation of its own, owed on the
entry's row: sent after the entry's create (the two never go at once: one attempt per entry), with the
same backoff, give-up and rate limit; an update carries a clientToken of its own, derived from the entry's
and the revision. A delete answered "not found" is done. Whoever was told "queued" about a change hears
how it ends through the change's notice.

A second reply is owed to everyone told "saved" (the one who asked, and anyone whose later request for the
same entry was told so: a second pin). It is written, one row per person, in the step that records the
outcome, and kept until it reaches them: Slack down, rate limited or failing only delays it (retried with
backoff, Slack's Retry-After honoured, for up to a day).

Holds are short (a few seconds) and renewed by a heartbeat while this process works on the row: an entry
waiting its turn under the rate limit or with Incident Manager (botocore's retries included), a reply
being told. Each renewal is a compare-and-set on the hold as this process last left it, so a hold that ran
out and was taken by another worker is known to be lost (an entry not sent yet is then left to that
worker: NotSent). A process that dies stops renewing: its rows are free for another replica, or for the
next run, within one lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import uuid4

from bot.domain.timeline import change_token
from bot.usecases.errors import GaveUp, IncidentManagerError, NotSent, is_not_found, is_retryable
from bot.usecases.ports import (
    ChangeKind,
    EntryState,
    EntryStore,
    IncidentGateway,
    OwedChange,
    OwedReply,
    StoredEntry,
)

logger = logging.getLogger(__name__)

# How long the person's request waits for the first attempt before being told "saved, queued".
REPLY_PATIENCE_SECONDS = 5.0
# How often the outbox looks for entries that are due (it is also woken when one is queued).
SWEEP_SECONDS = 1.0
# A hold is renewed this many times per lease: two renewals can be late (a busy loop, a slow database
# round trip) before it runs out.
HEARTBEATS_PER_LEASE = 3
# Never renew more often than this, however short the lease (tests use leases of nothing at all).
MIN_HEARTBEAT_SECONDS = 0.05
# How often the sweep prunes settled history (every replica does; deleting twice is harmless).
PRUNE_EVERY = timedelta(minutes=5)
# Tries at recording that an entry landed (left pending, it would be resent, harmlessly, after its hold).
RECORD_ATTEMPTS = 3
# Owed replies told at once by the sweep, apart from the entries it sends: Slack's capacity, not AWS's,
# so a burst of entries waiting for Incident Manager never holds up a reply that is due.
REPLY_CAPACITY = 8


class NoticeKind(StrEnum):
    """How the person hears an outcome that comes after their request was answered."""

    REPLY = "reply"  # slash command, compose form: a reply
    CAPTURE = "capture"  # the shortcut's form: a reply, and the ✅ on the message
    PIN = "pin"  # the ✅ on the message, else a reply


class AttemptSource(StrEnum):
    """How an attempt started: a person's request, or the background sweep."""

    REQUEST = "request"
    BACKGROUND = "background"


@dataclass(frozen=True)
class Notice:
    """Who hears about an entry's outcome when it settles after the request was answered."""

    kind: NoticeKind
    team_id: str
    channel_id: str
    user_id: str
    response_url: str | None = None
    # When Slack issued the response_url (epoch seconds): it works for 30 minutes.
    response_url_issued_at: float | None = None
    # The Slack message that gets the ✅ once it is on the timeline.
    message_ts: str | None = None
    incident_title: str = ""
    # The person's words as they will land, for the reply (and given back if it finally fails).
    text: str = ""
    # A change's notice (ChangeKind: "update" | "delete"); "" for the notice of an entry's create.
    change: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", NoticeKind(self.kind))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Notice | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):  # not ours, or a kind this version doesn't know
            return None


@dataclass(frozen=True)
class Told:
    """Whether a reply reached its person; when it did not, how long Slack asked to wait (rate limited)."""

    reached: bool
    retry_after: float | None = None


class FollowUps(Protocol):
    """Tells a person about an outcome that came after their request was answered. The reply is written
    first (from the entry as that person's notice sees it) and kept in the store until it reaches them,
    so a stop, a crash or Slack being down only delays it."""

    def landed_reply(self, stored: StoredEntry, event_id: str) -> str: ...

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str: ...

    def change_reply(self, stored: StoredEntry, change: OwedChange, error: BaseException | None) -> str:
        """How a change ends, for whom its notice names (`error` None: AWS made it)."""
        ...

    async def tell(self, notice: str, reply: str, landed: bool) -> Told:
        """Give `reply` to whom `notice` names; whether it reached them."""
        ...


@dataclass(frozen=True)
class Landed:
    event_id: str
    # Another request for the same entry was already on its way; this one shared its answer.
    joined: bool = False


@dataclass(frozen=True)
class Refused:
    error: BaseException


@dataclass(frozen=True)
class Queued:
    """Saved and retried in the background; `error` is why (None: the first attempt is still going)."""

    error: BaseException | None
    # Still waiting for its turn under the bot's own rate limit (a burst), not for Incident Manager.
    waiting_for_turn: bool = False


Outcome = Landed | Refused | Queued


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0
    # An outage longer than this is reported to the person as a failure instead of being retried on.
    give_up_after: timedelta = timedelta(hours=24)
    # A reply Slack has not taken for this long is dropped (with an ERROR line): nobody waits a day.
    reply_owed_for: timedelta = timedelta(hours=24)

    def delay(self, attempts: int) -> float:
        """Exponential backoff with jitter, so a fleet of queued entries does not retry in lockstep."""
        ceiling = min(self.max_delay_seconds, self.first_delay_seconds * 2 ** max(0, attempts - 1))
        return random.uniform(ceiling / 2, ceiling)

    def reply_delay(self, attempts: int, retry_after: float | None) -> float:
        """The same backoff for a reply Slack did not take, and never sooner than Slack asked."""
        return max(self.delay(attempts), retry_after or 0.0)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Hold:
    """This process's hold on one row (an entry being sent, a reply being told): the end of its lease as
    the store has it, which the next compare-and-set renewal must match."""

    held: datetime | None
    # One renewal at a time (the heartbeat's, the one before the call goes out), so neither sees a stale
    # `held` and takes the other's success for a loss.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    # Another worker took the row after this hold ran out: it is theirs now.
    lost: bool = False


@dataclass
class _Delivery:
    """One attempt at sending one entry; requests for the same token while it runs share it."""

    stored: StoredEntry
    source: AttemptSource
    hold: _Hold
    # Whoever asked waits for this; it is answered once, with the attempt's outcome or Queued.
    answer: asyncio.Future[Outcome]
    # Nobody waits any more: the outcome is told through the entry's notice.
    detached: bool = False
    # The second replies this attempt's outcome owes (recorded with the outcome), and whether the entry's
    # own person is among them.
    owed: list[OwedReply] = field(default_factory=list)
    owes_its_person: bool = False
    # Its turn under the rate limit has come: the call is with Incident Manager.
    sending: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def detach(self) -> None:
        self.detached = True
        if not self.answer.done():
            self.answer.set_result(Queued(None))


def _settled(stored: StoredEntry | None) -> Outcome:
    """The outcome of a change another worker settled: made (deleted, or nothing owed any more on a sent
    entry), or refused (the store keeps why)."""
    gone = stored is not None and stored.state in (EntryState.DELETED, EntryState.CANCELLED)
    if gone or (stored is not None and stored.state is EntryState.SENT and stored.last_error is None):
        return Landed(stored.event_id or "" if stored else "")
    return Refused(
        IncidentManagerError((stored.last_error if stored else None) or "the change did not happen")
    )


def _owes_reply(delivery: _Delivery) -> bool:
    """Whether the outcome must be told through the entry's notice: nobody waits for it, or an earlier
    attempt already told its person "saved, queued" (and someone else's request settled it). Not when a
    delete of it is owed: its person hears how the delete ends instead."""
    change = delivery.stored.change
    if change is not None and change.kind is ChangeKind.DELETE:
        return False
    return delivery.detached or delivery.answer.done() or delivery.stored.attempts > 0


class Outbox:
    def __init__(
        self,
        store: EntryStore,
        gateway: IncidentGateway,
        follow_ups: FollowUps,
        *,
        lease: timedelta,
        max_in_flight: int,
        reply_capacity: int = REPLY_CAPACITY,
        policy: RetryPolicy | None = None,
        on_outcome: Callable[[str, Outcome, str], None] | None = None,
        heartbeat: timedelta | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._follow_ups = follow_ups
        self._lease = lease
        # How often every hold is renewed (a fraction of the lease, so a late renewal or two is no loss).
        self._heartbeat_every = heartbeat if heartbeat is not None else lease / HEARTBEATS_PER_LEASE
        self._clock = clock
        # Entries the sweep sends at once; a person's own request is not counted, so a burst of them does
        # not stop background retries (they queue with the burst under the gateway's rate limit).
        self._max_in_flight = max(1, max_in_flight)
        self._reply_capacity = max(1, reply_capacity)
        self._policy = policy or RetryPolicy()
        # (how the attempt started: request | background, its outcome, the event type), for the metrics.
        self._on_outcome = on_outcome
        self._deliveries: dict[str, _Delivery] = {}
        # Owed replies (by id) being told right now, by this process, with its hold on each.
        self._telling: dict[str, _Hold] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._pruned_at: datetime | None = None

    def wake(self) -> None:
        """Have the sweep look for due work now (an entry just became due)."""
        self._wake.set()

    def now(self) -> datetime:
        """The outbox's clock (the one its holds and give-up times are counted on)."""
        return self._clock()

    def lease_until(self) -> datetime:
        return self._clock() + self._lease

    async def deliver(self, stored: StoredEntry, wait: float = REPLY_PATIENCE_SECONDS) -> Outcome:
        """Send a recorded entry now (or join the attempt already on its way) and wait up to `wait`
        seconds for the outcome; past that it is Queued, and its notice hears the rest."""
        token = stored.entry.client_token
        delivery = self._deliveries.get(token)
        joined = delivery is not None
        if delivery is None:
            delivery = self._start(stored, source=AttemptSource.REQUEST)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(delivery.answer), wait)
        except TimeoutError:
            delivery.detach()
            return Queued(None, waiting_for_turn=not delivery.sending)
        except asyncio.CancelledError:
            # The request went away (the bot stopping): the attempt carries on, and its notice is told.
            delivery.detach()
            raise
        if joined and isinstance(outcome, Landed):
            return Landed(outcome.event_id, joined=True)
        return outcome

    async def deliver_change(
        self, client_token: str, wait: float = REPLY_PATIENCE_SECONDS, *, held: datetime | None = None
    ) -> Outcome:
        """Send the change owed for an entry now, once anything already on its way for it is done, and wait
        up to `wait` seconds in all: Landed when AWS made it (or it was settled meanwhile), Refused,
        or Queued (its create is owed first, another worker has it, or AWS is slow or failing: its notice
        hears the rest). `held`: the hold the request took on it (`request_update`'s `hold_until`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            running = self._deliveries.get(client_token)
            if running is not None and running.task is not None:
                # In order per entry: the create (or an earlier change) first.
                done, _ = await asyncio.wait({running.task}, timeout=max(0.0, deadline - loop.time()))
                if not done:
                    return Queued(None, waiting_for_turn=not running.sending)
                continue
            stored = await self._store.get_entry(client_token)
            if stored is None or stored.change is None:
                return _settled(stored)
            if stored.state is not EntryState.SENT or not stored.event_id:
                return Queued(None)  # the create is owed first; the sweep sends both, in order
            ours = held is not None and stored.next_attempt_at == held
            due = stored.next_attempt_at is not None and stored.next_attempt_at <= self._clock()
            if stored.in_flight or not (ours or due):
                # Another worker (this replica's sweep, another replica) holds it or has a change of it on
                # its way: taking its hold would send two changes at once. It sends this one after.
                return Queued(None)
            delivery = self._start(stored, source=AttemptSource.REQUEST)
            try:
                return await asyncio.wait_for(
                    asyncio.shield(delivery.answer), max(0.0, deadline - loop.time())
                )
            except TimeoutError:
                delivery.detach()
                return Queued(None, waiting_for_turn=not delivery.sending)
            except asyncio.CancelledError:
                delivery.detach()
                raise

    def _start(self, stored: StoredEntry, *, source: AttemptSource) -> _Delivery:
        loop = asyncio.get_running_loop()
        delivery = _Delivery(
            stored=stored, source=source, hold=_Hold(stored.next_attempt_at), answer=loop.create_future()
        )
        if source is AttemptSource.BACKGROUND:
            delivery.detach()
        self._deliveries[stored.entry.client_token] = delivery
        delivery.task = self._spawn(self._attempt(delivery, source))
        self._keep_holds()
        return delivery

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _attempt(self, delivery: _Delivery, source: AttemptSource) -> None:
        stored = delivery.stored
        token = stored.entry.client_token
        if stored.state is EntryState.SENT and stored.change is not None:
            await self._attempt_change(delivery, stored.change)
            return

        async def still_ours() -> bool:
            return await self._renew_before_sending(delivery)

        try:
            try:
                event_id = await self._gateway.create_timeline_event(stored.entry, before_send=still_ours)
            except NotSent:
                # Another worker holds it and will tell the person; whoever waits here hears "queued".
                outcome: Outcome = Queued(None)
                delivery.detach()
                logger.info("entry left to the worker that holds it", extra={"token": token})
            except Exception as error:  # noqa: BLE001 - every failure is either retried or reported
                outcome = await self._after_failure(delivery, error)
            else:
                if not await self._settled_elsewhere(delivery):
                    await self._record_sent(delivery, event_id)
                outcome = Landed(event_id)
        finally:
            self._deliveries.pop(token, None)
        if self._on_outcome is not None:
            self._on_outcome(source, outcome, stored.entry.event_type.value)
        self._settle(delivery, outcome)

    async def _settled_elsewhere(self, delivery: _Delivery) -> bool:
        """After a call whose hold was lost on the way (the store out of reach for a whole lease): whether
        the worker that took the entry has settled it already, and so tells its people itself. Then this
        attempt records nothing and owes nothing (AWS made one event for the token either way)."""
        if not delivery.hold.lost:
            return False
        try:
            stored = await self._store.get_entry(delivery.stored.entry.client_token)
        except Exception:  # noqa: BLE001 - recorded as usual: a second record is the lesser harm
            return False
        if stored is None or stored.state not in (EntryState.SENT, EntryState.DELETED, EntryState.CANCELLED):
            return False  # still owed (or finally failed: what AWS answered this attempt is the truth)
        delivery.owes_its_person = True
        return True

    async def _record_sent(self, delivery: _Delivery, event_id: str) -> None:
        token = delivery.stored.entry.client_token

        def reply_for(stored: StoredEntry) -> str:
            return self._follow_ups.landed_reply(stored, event_id)

        async def record(owed: list[OwedReply], awaiting: list[int]) -> bool:
            return await self._store.mark_sent(token, event_id, owed, awaiting)

        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._record_outcome(delivery, reply_for, landed=True, record=record)
                return
            except Exception as error:  # noqa: BLE001 - AWS has it: the person must hear "added", not "failed"
                logger.warning(
                    "could not record a sent entry",
                    extra={"token": token, "error": str(error)[:300], "attempt": attempt + 1},
                )
                await asyncio.sleep(0.2 * (attempt + 1))

    async def _after_failure(self, delivery: _Delivery, error: BaseException) -> Outcome:
        """Queue a retryable failure, or record a final one (with the reply its person is owed, if any)."""
        stored = delivery.stored
        token = stored.entry.client_token
        reason = f"{type(error).__name__}: {error}"[:500]
        try:
            if not is_retryable(error):
                return await self._finally_failed(delivery, error, reason)
            now = self._clock()
            uncertain = stored.uncertain or (
                isinstance(error, IncidentManagerError) and error.may_have_landed
            )
            waited = now - (stored.created_at or now)
            if waited >= self._policy.give_up_after:
                return await self._finally_failed(delivery, GaveUp(reason, uncertain, waited), reason)
            attempts = stored.attempts + 1
            delay = self._policy.delay(attempts)
            await self._store.schedule_retry(token, now + timedelta(seconds=delay), reason, uncertain)
        except Exception as store_error:  # noqa: BLE001 - the row stays pending: its hold ends, it is resent
            logger.error(
                "could not record a failed attempt",
                extra={"token": token, "error": str(store_error)[:300], "aws_error": reason},
            )
            # "Failed" would be wrong for a retryable error: the pending row is resent once the hold ends.
            return Queued(error) if is_retryable(error) else Refused(error)
        logger.info(
            "entry queued for a retry",
            extra={"token": token, "attempts": attempts, "retry_in": round(delay, 2), "error": reason},
        )
        self._wake.set()
        return Queued(error)

    async def _finally_failed(self, delivery: _Delivery, error: BaseException, reason: str) -> Outcome:
        """Mark it failed, with the replies owed to everyone told "saved" about it."""
        token = delivery.stored.entry.client_token

        def reply_for(stored: StoredEntry) -> str:
            return self._follow_ups.failed_reply(stored, error)

        # An attempt that may have reached AWS (given up on mid-call, or an earlier one that never came back
        # and this one failed before its own call): a delete owed must not cancel it, then.
        may_have_landed = (isinstance(error, GaveUp) and error.uncertain) or delivery.stored.in_flight

        async def record(owed: list[OwedReply], awaiting: list[int]) -> bool:
            return await self._store.mark_failed(token, reason, owed, awaiting, uncertain=may_have_landed)

        await self._record_outcome(delivery, reply_for, landed=False, record=record)
        await self._tell_the_delete_owed(token, error)
        return Refused(error)

    async def _tell_the_delete_owed(self, token: str, error: BaseException) -> None:
        """A delete was owed and the create finally failed. Without landing: the entry is CANCELLED, which is
        what the delete's person asked for, and they hear so. Maybe landed: it may be on the timeline and
        no delete can be sent (AWS never gave its event id), and they hear that, with the reason."""
        after = await self._store.get_entry(token)
        change = after.change if after is not None else None
        if after is None or change is None or change.kind is not ChangeKind.DELETE or not change.notice:
            return
        if after.state is EntryState.CANCELLED:
            done: BaseException | None = None
        elif after.state is EntryState.FAILED:
            done = error
        else:
            return
        owed = self._owed(
            after, change.notice, lambda seen: self._follow_ups.change_reply(seen, change, done), done is None
        )
        self._tell_later(owed, record=True)

    # Changes

    async def _attempt_change(self, delivery: _Delivery, change: OwedChange) -> None:
        stored = delivery.stored
        token = stored.entry.client_token
        assert stored.event_id is not None

        async def still_ours() -> bool:
            return await self._renew_before_sending(delivery)

        try:
            try:
                if change.kind is ChangeKind.DELETE:
                    await self._gateway.delete_timeline_event(
                        stored.entry.incident_arn, stored.event_id, before_send=still_ours
                    )
                else:
                    assert change.entry is not None
                    await self._gateway.update_timeline_event(
                        change.entry,
                        stored.event_id,
                        change_token(token, change.revision),
                        before_send=still_ours,
                    )
            except NotSent:
                outcome: Outcome = Queued(None)
                delivery.detach()
                logger.info("change left to the worker that holds it", extra={"token": token})
            except Exception as error:  # noqa: BLE001 - every failure is either retried or reported
                if change.kind is ChangeKind.DELETE and is_not_found(error):
                    # Gone already (deleted in the console, or the incident with it): what was asked.
                    outcome = await self._change_made(delivery, change)
                else:
                    outcome = await self._after_change_failure(delivery, change, error)
            else:
                outcome = await self._change_made(delivery, change)
        finally:
            self._deliveries.pop(token, None)
        self._settle_change(delivery, outcome)

    def _change_owed(
        self, delivery: _Delivery, change: OwedChange, error: BaseException | None
    ) -> list[OwedReply]:
        """The reply owed to the change's person, when they were told "queued" (nobody waits now)."""
        if not change.notice or not (delivery.detached or delivery.answer.done()):
            return []
        stored = delivery.stored

        def reply_for(seen: StoredEntry) -> str:
            return self._follow_ups.change_reply(seen, change, error)

        return [self._owed(stored, change.notice, reply_for, error is None)]

    async def _change_made(self, delivery: _Delivery, change: OwedChange) -> Outcome:
        token = delivery.stored.entry.client_token
        owed = self._change_owed(delivery, change, None)
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._store.change_done(token, change.kind, change.revision, owed)
                break
            except Exception as error:  # noqa: BLE001 - AWS made it: tried again, else resent (harmless)
                logger.warning(
                    "could not record a change made",
                    extra={"token": token, "error": str(error)[:300], "attempt": attempt + 1},
                )
                await asyncio.sleep(0.2 * (attempt + 1))
        delivery.owed = owed
        logger.info("entry changed", extra={"token": token, "change": str(change.kind)})
        self._wake.set()  # a newer change asked meanwhile is due now
        return Landed(delivery.stored.event_id or "")

    async def _after_change_failure(
        self, delivery: _Delivery, change: OwedChange, error: BaseException
    ) -> Outcome:
        token = delivery.stored.entry.client_token
        reason = f"{type(error).__name__}: {error}"[:500]
        try:
            now = self._clock()
            waited = now - (change.since or now)
            if is_retryable(error) and waited < self._policy.give_up_after:
                uncertain = isinstance(error, IncidentManagerError) and error.may_have_landed
                delay = self._policy.delay(delivery.stored.attempts + 1)
                await self._store.schedule_retry(token, now + timedelta(seconds=delay), reason, uncertain)
                logger.info(
                    "change queued for a retry",
                    extra={
                        "token": token,
                        "change": str(change.kind),
                        "retry_in": round(delay, 2),
                        "error": reason,
                    },
                )
                self._wake.set()
                return Queued(error)
            final = error if not is_retryable(error) else GaveUp(reason, False, waited)
            owed = self._change_owed(delivery, change, final)
            await self._store.change_failed(token, change.kind, change.revision, reason, owed)
            delivery.owed = owed
        except Exception as store_error:  # noqa: BLE001 - still owed: resent once the hold ends
            logger.error(
                "could not record a failed change",
                extra={"token": token, "error": str(store_error)[:300], "aws_error": reason},
            )
            return Queued(error) if is_retryable(error) else Refused(error)
        logger.warning(
            "change finally failed", extra={"token": token, "change": str(change.kind), "error": reason}
        )
        return Refused(final)

    def _settle_change(self, delivery: _Delivery, outcome: Outcome) -> None:
        if not delivery.detached and not delivery.answer.done():
            delivery.answer.set_result(outcome)
        if isinstance(outcome, Queued):
            return
        for owed in delivery.owed:
            self._tell_later(owed)

    async def _record_outcome(
        self,
        delivery: _Delivery,
        reply_for: Callable[[StoredEntry], str],
        *,
        landed: bool,
        record: Callable[[list[OwedReply], list[int]], Coroutine[Any, Any, bool]],
    ) -> None:
        """Record the outcome with a reply for each person owed one: the entry's own person when they
        heard "saved", and everyone awaiting it. The store refuses while someone awaits it who has no
        reply here yet (they began awaiting meanwhile): then they are read and it is tried again."""
        stored = delivery.stored
        owes_its_person = _owes_reply(delivery)
        first = [self._owed(stored, stored.notice, reply_for, landed)] if owes_its_person else []
        others: dict[int, OwedReply] = {}
        while True:
            for waiting in await self._store.awaiting(stored.entry.client_token):
                if waiting.id not in others:
                    others[waiting.id] = self._owed(stored, waiting.notice, reply_for, landed)
            owed = first + list(others.values())
            if await record(owed, list(others)):
                delivery.owed, delivery.owes_its_person = owed, owes_its_person
                return

    def _owed(
        self, stored: StoredEntry, notice: str, reply_for: Callable[[StoredEntry], str], landed: bool
    ) -> OwedReply:
        """One person's reply, held by this process (it tells them at once) for one lease."""
        return OwedReply(
            id=uuid4().hex,
            client_token=stored.entry.client_token,
            notice=notice,
            # Written as that person's notice sees the entry (a pin, a form, a typed note).
            reply=reply_for(replace(stored, notice=notice)),
            landed=landed,
            due_at=self.lease_until(),
            owed_since=self._clock(),
        )

    def _settle(self, delivery: _Delivery, outcome: Outcome) -> None:
        someone_waits = not delivery.detached and not delivery.answer.done()
        if someone_waits:
            delivery.answer.set_result(outcome)
        if isinstance(outcome, Queued):
            return  # whoever hears about it next was already told it is saved and queued
        landed = isinstance(outcome, Landed)
        for owed in delivery.owed:
            self._tell_later(owed)
        change = delivery.stored.change
        deleting = change is not None and change.kind is ChangeKind.DELETE
        if not delivery.owes_its_person and not someone_waits and not deleting:
            # The person stopped waiting while the outcome was being recorded: owe them all the same.
            stored = delivery.stored
            owed = self._owed(stored, stored.notice, lambda _: self._reply_for(stored, outcome), landed)
            self._tell_later(owed, record=True)

    def _reply_for(self, stored: StoredEntry, outcome: Outcome) -> str:
        if isinstance(outcome, Landed):
            return self._follow_ups.landed_reply(stored, outcome.event_id)
        assert isinstance(outcome, Refused)
        return self._follow_ups.failed_reply(stored, outcome.error)

    def _tell_later(self, owed: OwedReply, *, record: bool = False) -> None:
        hold = _Hold(owed.due_at)
        self._telling[owed.id] = hold
        task = self._spawn(self._tell(owed, hold, record))
        task.add_done_callback(lambda _: self._telling.pop(owed.id, None))
        self._keep_holds()

    async def _tell(self, owed: OwedReply, hold: _Hold, record: bool) -> None:
        token = owed.client_token
        try:
            if record:
                # The row exists once this returns: the heartbeat waits for it rather than miss it.
                async with hold.lock:
                    await self._store.owe_replies([owed])
        except Exception as error:  # noqa: BLE001 - told from memory all the same
            logger.warning("could not keep an owed reply", extra={"token": token, "error": str(error)[:300]})
        try:
            told = await self._follow_ups.tell(owed.notice, owed.reply, owed.landed)
        except Exception as error:  # noqa: BLE001 - as if Slack refused it: tried again later
            logger.warning("could not tell an owed reply", extra={"token": token, "error": str(error)[:300]})
            told = Told(reached=False)
        try:
            await self._after_telling(owed, told)
        except Exception as error:  # noqa: BLE001 - still owed: the sweep tries again once the hold runs out
            logger.warning(
                "could not record telling an owed reply", extra={"token": token, "error": str(error)[:300]}
            )

    async def _after_telling(self, owed: OwedReply, told: Told) -> None:
        token = owed.client_token
        if told.reached:
            await self._store.forget_reply(owed.id)
            return
        now = self._clock()
        attempts = owed.attempts + 1
        if now - owed.owed_since >= self._policy.reply_owed_for:
            await self._store.forget_reply(owed.id)
            # The token finds the entry (and its notice) in the store; the reply and notice stay out of logs.
            logger.error(
                "gave up on an owed reply: Slack did not take it",
                extra={"token": token, "reply_id": owed.id, "attempts": attempts, "landed": owed.landed},
            )
            return
        delay = self._policy.reply_delay(attempts, told.retry_after)
        await self._store.reschedule_reply(owed.id, now + timedelta(seconds=delay))
        logger.info(
            "owed reply not delivered, retrying",
            extra={"token": token, "reply_id": owed.id, "attempts": attempts, "retry_in": round(delay, 2)},
        )

    # Holds, and the heartbeat that keeps them

    async def _renew_before_sending(self, delivery: _Delivery) -> bool:
        """Renewed right before the call goes out, unless another worker (another process) has taken the
        entry meanwhile (this hold ran out: the heartbeat could not reach the store in time). From here the
        attempt may reach AWS (a delete can no longer cancel it)."""
        delivery.sending = True

        async def renew(client_token: str, held: datetime | None, until: datetime) -> bool:
            return await self._store.renew_lease(client_token, held, until, sending=True)

        return await self._renew(delivery.hold, delivery.stored.entry.client_token, renew)

    async def _renew(
        self,
        hold: _Hold,
        key: str,
        renew: Callable[[str, datetime | None, datetime], Coroutine[Any, Any, bool]],
    ) -> bool:
        """Move this hold one lease ahead, if the row is still as this process left it; False once it is
        lost (and from then on). A store failure raises, and leaves the hold as it was."""
        async with hold.lock:
            if hold.lost:
                return False
            until = self.lease_until()
            if await renew(key, hold.held, until):
                hold.held = until
                return True
            hold.lost = True
            return False

    def _keep_holds(self) -> None:
        """Make sure the heartbeat runs while this process holds anything (it stops by itself after)."""
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeat_forever())

    async def _heartbeat_forever(self) -> None:
        while self._deliveries or self._telling:
            await asyncio.sleep(max(MIN_HEARTBEAT_SECONDS, self._heartbeat_every.total_seconds()))
            await self.heartbeat()

    async def heartbeat(self) -> int:
        """Renew every hold this process has: entries waiting their turn or with Incident Manager, replies
        being told. Return how many were found lost (taken by another worker after they ran out)."""
        lost = 0
        Renew = Callable[[str, datetime | None, datetime], Coroutine[Any, Any, bool]]
        holds: list[tuple[str, _Hold, Renew]]
        holds = [(token, d.hold, self._store.renew_lease) for token, d in self._deliveries.items()]
        holds += [(reply_id, hold, self._store.renew_reply_lease) for reply_id, hold in self._telling.items()]
        for key, hold, renew in holds:
            if hold.lost:
                continue
            try:
                if await self._renew(hold, key, renew):
                    continue
            except Exception as error:  # noqa: BLE001 - kept as it was; the next beat tries again
                logger.warning("could not renew a hold", extra={"key": key, "error": str(error)[:300]})
                continue
            lost += 1
            # Only when the store could not be reached for a whole lease: another worker sends or tells it.
            logger.warning("a hold ran out and another worker took it", extra={"key": key})
        return lost

    # The background part

    def start(self) -> None:
        """Resume what a previous run left pending, and keep retrying what is queued."""
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as error:  # noqa: BLE001 - e.g. the store is locked: try again next round
                logger.warning("outbox sweep failed", extra={"error": str(error)[:300]})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SWEEP_SECONDS)
            self._wake.clear()

    async def sweep(self) -> int:
        """Tell the owed replies that are due, and start an attempt for each entry that is due, each as far
        as its own room goes; return how many attempts started."""
        await self._prune_now_and_then()
        await self._tell_due()
        return await self._resume_due()

    async def _tell_due(self) -> None:
        room = self._reply_capacity - len(self._telling)
        if room <= 0:
            return
        now = self._clock()
        due = await self._store.claim_owed_replies(now, self.lease_until(), room, skip=list(self._telling))
        for owed in due:
            if owed.id not in self._telling:
                self._tell_later(owed)
        if due:
            logger.info("outbox telling owed replies", extra={"count": len(due)})

    async def _resume_due(self) -> int:
        background = sum(d.source is AttemptSource.BACKGROUND for d in self._deliveries.values())
        room = self._max_in_flight - background
        if room <= 0:
            return 0
        # Entries this process is already sending (a request waiting its turn under the rate limit, its
        # hold run out) are left alone: claiming them would take them from their own attempt.
        on_their_way = list(self._deliveries)
        claimed = await self._store.claim_due(self._clock(), self.lease_until(), room, skip=on_their_way)
        if len(claimed) < room:
            # Changes owed for sent entries, through the same index and holds, with the room left.
            claimed += await self._store.claim_due_changes(
                self._clock(), self.lease_until(), room - len(claimed), skip=on_their_way
            )
        started = 0
        for stored in claimed:
            if stored.entry.client_token in self._deliveries:
                continue  # a request started sending it while the claim was being made
            self._start(stored, source=AttemptSource.BACKGROUND)
            started += 1
        if started:
            logger.info("outbox resumed entries", extra={"count": started})
        return started

    async def _prune_now_and_then(self) -> None:
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            deleted = await self._store.prune(now)
        except Exception as error:  # noqa: BLE001 - history waits for the next round; the sweep goes on
            logger.warning("pruning settled entries failed", extra={"error": str(error)[:300]})
            return
        if deleted:
            logger.info("pruned settled entries past their retention", extra={"count": deleted})

    async def stop(self, grace_seconds: float) -> int:
        """Stop sweeping; give attempts and follow-ups on their way `grace_seconds`. Return how many
        were left unfinished (their entries stay pending and are resumed by the next run)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        pending = set(self._tasks)
        if not pending:
            await self._stop_heartbeat()
            return 0
        _, unfinished = await asyncio.wait(pending, timeout=grace_seconds)
        # Entries still waiting their turn were never sent from here: given up now, another replica (or
        # the next run) takes them at once. One with Incident Manager keeps its hold until it runs out, so
        # nobody sends its token while this call may still be on the wire.
        waiting = [(token, d.hold) for token, d in self._deliveries.items() if not d.sending]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        await self._stop_heartbeat()
        for token, hold in waiting:
            with contextlib.suppress(Exception):  # it runs out by itself anyway
                await self._store.renew_lease(token, hold.held, self._clock())
        return len(unfinished)

    async def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
