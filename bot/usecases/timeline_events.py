"""Seeing the timeline: the incident's latest events, newest first, their text read from eventData.

ListTimelineEvents gives each event without its eventData, so each text is one GetTimelineEvent. Texts
are kept (by event id and the time it was last updated, so an edited event is read again), so paging
on or asking again costs only the list. The reads go a few at a time: a `timeline 50` shares the bot's
rate limit with notes, and must not queue fifty calls ahead of a note typed a moment later.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from bot.domain.events import ReadEvent, read_event_data
from bot.usecases.errors import IncidentNotFound
from bot.usecases.ports import EventSummary, IncidentGateway

# Event texts kept in memory (each at most 12,000 characters).
KEPT_TEXTS = 2000
# GetTimelineEvent calls in flight at once for one list.
READS_AT_ONCE = 2


@dataclass(frozen=True)
class TimelinePage:
    events: list[ReadEvent]
    # Where the next (older) page starts; None when this page reaches the first event.
    next_token: str | None


class TimelineReader:
    def __init__(self, gateway: IncidentGateway, kept: int = KEPT_TEXTS) -> None:
        self._gateway = gateway
        self._kept = kept
        self._texts: OrderedDict[tuple[str, datetime], str] = OrderedDict()

    async def latest(self, arn: str, count: int, next_token: str | None = None) -> TimelinePage:
        page = await self._gateway.list_timeline_events(arn, count, next_token)
        reads = asyncio.Semaphore(READS_AT_ONCE)
        outcomes = await asyncio.gather(
            *(self._read(arn, summary, reads) for summary in page.events), return_exceptions=True
        )
        events: list[ReadEvent] = []
        for outcome in outcomes:
            if isinstance(outcome, IncidentNotFound):
                continue  # deleted between the list and the read: it is no longer on the timeline
            if isinstance(outcome, BaseException):
                raise outcome
            events.append(outcome)
        return TimelinePage(events, page.next_token)

    async def _read(self, arn: str, summary: EventSummary, reads: asyncio.Semaphore) -> ReadEvent:
        key = (summary.event_id, summary.updated_time)
        data = self._texts.get(key)
        if data is None:
            async with reads:
                data = await self._gateway.get_timeline_event_data(arn, summary.event_id)
            self._keep(key, data)
        else:
            self._texts.move_to_end(key)
        return ReadEvent(summary.event_id, summary.event_type, summary.event_time, read_event_data(data))

    def _keep(self, key: tuple[str, datetime], data: str) -> None:
        self._texts[key] = data
        while len(self._texts) > self._kept:
            self._texts.popitem(last=False)
