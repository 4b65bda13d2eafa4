"""Put a whole Slack thread on the timeline: each message exactly as a 📌 of it would (`pinned_entry`, its
token, `TimelineService.add`), so a thread, a pin and a second run of the thread never double.

In three steps, so that a bot stopping half-way loses nothing and other people's notes are not held up:
1. look: a message whose entry is already on the timeline is skipped (one indexed read, no Slack call);
2. record: every other message (up to THREAD_CAP) is saved in the outbox, held for this run, before
   Incident Manager is asked about any of them; stopped after this, the outbox sends the rest by itself;
3. send: a few at a time, under the bot's one rate limit, so a slash note typed meanwhile waits for at
   most a few turns. Once Incident Manager throttles or fails, the rest are handed to the outbox at once
   (queued: each gets the ✅ when it lands) instead of asking it again message by message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

from bot.domain.binding import Binding
from bot.domain.slack_message import MessageRef, SlackMessage
from bot.domain.threads import THREAD_CAP, LeftOut, ThreadMessages
from bot.usecases.errors import EntryEmpty
from bot.usecases.outbox import REPLY_PATIENCE_SECONDS, Notice
from bot.usecases.ports import EntryOrigin, EntryState, EntryStore
from bot.usecases.sources import pinned_entry
from bot.usecases.timeline import CapturedEntry, EntryAdded, EntryQueued, TimelineService

logger = logging.getLogger(__name__)

# Entries of one thread sent at once: enough to keep the rate limit busy, few enough that anyone else's
# request waits for only a few turns behind the thread.
SENDS_AT_ONCE = 3
# Messages prepared at once (a chat.getPermalink each, then the store).
RECORDS_AT_ONCE = 4
# An entry whose attempt another worker has (see `_lands_soon`) is waited for this long, as the person's
# own request waits for its first attempt, looked at this often.
LANDING_PATIENCE_SECONDS = REPLY_PATIENCE_SECONDS
LANDING_POLL_SECONDS = 0.2

T = TypeVar("T")
Item = TypeVar("Item")
Links = Callable[[str], Awaitable[str | None]]
Marks = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class MessageFailure:
    """A message that could not be put on the timeline, and why."""

    message: SlackMessage
    error: BaseException
    permalink: str | None = None


@dataclass
class ThreadTally:
    """How the thread is going: counts the person sees while it goes in, and at the end."""

    # Messages this run puts on the timeline (not already there, within the cap).
    total: int = 0
    added: int = 0
    # Already on the timeline (pinned, or an earlier run): nothing sent.
    skipped: int = 0
    # Saved, not on the timeline yet: the outbox sends them when Incident Manager answers.
    queued: list[SlackMessage] = field(default_factory=list)
    # Why (the first queued answer's reason; None: slow, or waiting for its turn).
    queued_reason: BaseException | None = None
    queued_waiting_for_turn: bool = False
    failed: list[MessageFailure] = field(default_factory=list)
    left_out: dict[LeftOut, int] = field(default_factory=dict)
    # Past the cap, not yet on the timeline: left for another run (oldest first).
    over_cap: list[SlackMessage] = field(default_factory=list)
    finished: bool = False

    @property
    def done(self) -> int:
        """Messages of `total` settled so far (added, queued or failed)."""
        return self.added + len(self.queued) + len(self.failed)


@dataclass(frozen=True)
class ThreadRequest:
    binding: Binding
    team_id: str
    channel_id: str
    user_id: str
    thread: ThreadMessages


@dataclass(frozen=True)
class ThreadPlan:
    request: ThreadRequest
    # The messages this run puts on the timeline, in order.
    messages: list[SlackMessage]
    # Its counts so far (skipped, over the cap, left out), then as it goes.
    tally: ThreadTally


@dataclass
class _Recorded:
    message: SlackMessage
    captured: CapturedEntry
    notice: Notice
    # The entry recorded for it: its own, or the one its message already had (a pin's, a shortcut's).
    token: str


class ThreadImport:
    def __init__(
        self,
        timeline: TimelineService,
        store: EntryStore,
        *,
        cap: int = THREAD_CAP,
        sends_at_once: int = SENDS_AT_ONCE,
        records_at_once: int = RECORDS_AT_ONCE,
        landing_patience: float = LANDING_PATIENCE_SECONDS,
    ) -> None:
        self._timeline = timeline
        self._store = store
        self._cap = cap
        self._sends_at_once = max(1, sends_at_once)
        self._records_at_once = max(1, records_at_once)
        self._landing_patience = landing_patience

    async def plan(self, request: ThreadRequest) -> ThreadPlan:
        """What this run will do: which messages go (not on the timeline yet, up to the cap), which are
        there already, which are past the cap. Store reads only (one per message), no Slack or AWS call."""
        tally = ThreadTally(left_out=dict(request.thread.left_out))
        wanted: list[SlackMessage] = []
        for message in request.thread.messages:
            # On the timeline already, whichever way it went in (a pin, the shortcut, an earlier run).
            live = await self._store.entries_for_message(
                MessageRef(request.team_id, request.channel_id, message.ts)
            )
            if any(
                stored.state is EntryState.SENT and stored.entry.incident_arn == request.binding.incident_arn
                for stored in live
            ):
                tally.skipped += 1
            else:
                wanted.append(message)
        tally.over_cap = wanted[self._cap :]
        tally.total = min(len(wanted), self._cap)
        return ThreadPlan(request, wanted[: self._cap], tally)

    async def add_thread(
        self,
        plan: ThreadPlan,
        links: Links,
        marks: Marks,
        progress: Callable[[ThreadTally], Awaitable[None]] | None = None,
    ) -> ThreadTally:
        """Put the planned messages on the request's incident; `links` gives a message's permalink,
        `marks` puts the ✅ on one that landed, `progress` hears the tally as it changes."""
        request, tally = plan.request, plan.tally
        recorded = await self._record(request, plan.messages, links, tally)
        await self._send(request, recorded, marks, tally, progress)
        tally.finished = True
        logger.info(
            "thread added",
            extra={
                "channel": request.channel_id,
                "added": tally.added,
                "skipped": tally.skipped,
                "queued": len(tally.queued),
                "failed": len(tally.failed),
                "over_cap": len(tally.over_cap),
            },
        )
        return tally

    def _entry(
        self, request: ThreadRequest, message: SlackMessage, permalink: str | None
    ) -> tuple[CapturedEntry, Notice]:
        # A pin of this message by this person (its token, its text, its notice: the ✅), except that
        # nobody pins it: taking a 📌 off later does not delete what the thread put on the timeline.
        captured, notice = pinned_entry(
            team_id=request.team_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            message=message,
            incident_arn=request.binding.incident_arn,
            permalink=permalink,
        )
        return replace(captured, origin=EntryOrigin.THREAD, pinner=None), notice

    async def _record(
        self, request: ThreadRequest, messages: list[SlackMessage], links: Links, tally: ThreadTally
    ) -> list[_Recorded]:
        """Save each in the outbox (not sent yet); the ones that cannot be are counted as they are."""

        async def record(message: SlackMessage) -> _Recorded | None:
            permalink = await links(message.ts)
            captured, notice = self._entry(request, message, permalink)
            try:
                answer = await self._timeline.add(captured, notice, request.binding, send=False)
            except EntryEmpty:
                # Nothing readable once rendered: as a message with no text.
                tally.total -= 1
                tally.left_out[LeftOut.EMPTY] = tally.left_out.get(LeftOut.EMPTY, 0) + 1
                return None
            except Exception as error:  # noqa: BLE001 - one message's failure is told with the others
                tally.failed.append(MessageFailure(message, error, permalink))
                return None
            if isinstance(answer, EntryAdded):
                # It landed meanwhile (someone pinned it while the thread was being read).
                tally.total -= 1
                tally.skipped += 1
                return None
            return _Recorded(message, captured, notice, answer.entry.client_token)

        results = await _bounded(self._records_at_once, messages, record)
        return [result for result in results if result is not None]

    async def _send(
        self,
        request: ThreadRequest,
        recorded: list[_Recorded],
        marks: Marks,
        tally: ThreadTally,
        progress: Callable[[ThreadTally], Awaitable[None]] | None,
    ) -> None:
        outage = False

        async def send(item: _Recorded) -> None:
            nonlocal outage
            if outage:
                await self._hand_to_outbox(item)
                tally.queued.append(item.message)
            else:
                try:
                    answer = await self._timeline.add(item.captured, item.notice, request.binding)
                except Exception as error:  # noqa: BLE001 - told with the others, through the mapping layer
                    tally.failed.append(MessageFailure(item.message, error, item.captured.permalink))
                else:
                    # No reason: its attempt is someone else's (the outbox took it once this run's hold ran
                    # out, or another replica did), or slow; it may well land in a moment.
                    queued_for_nothing = isinstance(answer, EntryQueued) and answer.reason is None
                    if queued_for_nothing and await self._lands_soon(item.token):
                        answer = EntryAdded(answer.entry, answer.binding, "", answer.text)
                    if isinstance(answer, EntryQueued):
                        tally.queued.append(item.message)
                        if tally.queued_reason is None:
                            # The first reason known says it best (None: slow, or waiting its turn).
                            tally.queued_reason = answer.reason
                            tally.queued_waiting_for_turn = answer.waiting_for_turn
                        # Incident Manager is throttling or failing: the outbox retries with backoff.
                        outage = outage or answer.reason is not None
                    else:
                        # Landed now (even through another attempt: the outbox's, a pin's at the same
                        # moment), as it was not on the timeline when this run looked.
                        tally.added += 1
                        await marks(item.message.ts)
            if progress is not None:
                await progress(tally)

        await _bounded(self._sends_at_once, recorded, send)

    async def _lands_soon(self, token: str) -> bool:
        """Whether the entry is on the timeline within LANDING_PATIENCE_SECONDS (store reads only)."""
        deadline = asyncio.get_running_loop().time() + self._landing_patience
        while True:
            stored = await self._store.get_entry(token)
            if stored is None or stored.state is not EntryState.PENDING:
                return stored is not None and stored.state is EntryState.SENT
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(LANDING_POLL_SECONDS)

    async def _hand_to_outbox(self, item: _Recorded) -> None:
        """End this run's hold on a recorded entry, so the outbox sends it now, with its own backoff."""
        token = item.token
        try:
            stored = await self._store.get_entry(token)
            if stored is not None and stored.state is EntryState.PENDING:
                await self._store.renew_lease(token, stored.next_attempt_at, datetime.now(UTC))
        except Exception as error:  # noqa: BLE001 - held a little longer: the outbox takes it when it ends
            logger.warning(
                "could not hand a thread entry to the outbox",
                extra={"token": token, "error": str(error)[:200]},
            )


async def _bounded(limit: int, items: Sequence[Item], step: Callable[[Item], Awaitable[T]]) -> list[T]:
    """`step` each item, at most `limit` at a time, started in order; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: Item) -> T:
        async with gate:
            return await step(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
