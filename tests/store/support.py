"""What the store tests share: entries, bindings, a settable clock, and raw SQL beside the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.domain.binding import Binding
from bot.domain.timeline import EventType, TimelineEntry, encode_event_data
from bot.store.urls import engine_url
from bot.usecases.ports import OwedReply

ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/abc"
OTHER_ARN = "arn:aws:ssm-incidents::111122223333:incident-record/plan/def"
BOUND_AT = datetime(2024, 4, 5, 12, 0, 1, 250_000, tzinfo=UTC)
EVENT_TIME = datetime(2024, 4, 5, 12, 34, 56, 123_456, tzinfo=UTC)
# Held by whoever saves it, well past any test's end.
LEASE = datetime.now(UTC) + timedelta(hours=1)


def binding(team: str = "T1", channel: str = "C1", arn: str = ARN, title: str = "DB down") -> Binding:
    return Binding(team, channel, arn, title, "U0001", BOUND_AT)


def entry(
    token: str,
    text: str = "first",
    *,
    arn: str = ARN,
    event_type: EventType = EventType.NOTE,
    at: datetime = EVENT_TIME,
) -> TimelineEntry:
    return TimelineEntry(token, arn, event_type, at, encode_event_data(text))


def owed(token: str, reply: str, landed: bool, due_at: datetime, notice: str = "{}") -> OwedReply:
    return OwedReply(
        id=f"{token}:{notice}:{reply}",
        client_token=token,
        notice=notice,
        reply=reply,
        landed=landed,
        due_at=due_at,
        owed_since=datetime.now(UTC),
    )


@dataclass
class Clock:
    """The store's idea of now, set by the test (what `created_at`, `updated_at` and drafts record)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def raw(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run SQL on the store's database over a connection of its own (another process's view)."""
    engine = create_async_engine(engine_url(database_url), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()
