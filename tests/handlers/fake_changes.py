"""A small EntryChanges for the listeners' tests: it records every call and answers what the test set,
so each listener path (done, queued, cancelled, nothing, refused, not allowed, failing) is reached without
the store and the outbox behind the real one (those have their own tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain.slack_message import MessageRef
from bot.domain.timeline import EventType, TimelineEntry, client_token, encode_event_data
from bot.usecases.changes import Changed, ChangeResult
from bot.usecases.outbox import Notice, NoticeKind
from bot.usecases.ports import EntryState, StoredEntry

Answer = Changed | list[Changed] | BaseException


def stored_entry(
    arn: str,
    *,
    user_id: str = "U0001",
    text: str = "db failover finished",
    kind: NoticeKind = NoticeKind.REPLY,
    message_ts: str | None = None,
    channel_id: str = "C0001",
    title: str = "Checkout DB down",
    created_at: datetime | None = None,
) -> StoredEntry:
    entry = TimelineEntry(
        client_token=client_token("test", arn, text, message_ts or ""),
        incident_arn=arn,
        event_type=EventType.NOTE,
        event_time=datetime(2025, 11, 26, 9, 40, tzinfo=UTC),
        event_data=encode_event_data(f"{text}\n\n— alice, via Slack"),
    )
    notice = Notice(
        kind=kind,
        team_id="T0001",
        channel_id=channel_id,
        user_id=user_id,
        message_ts=message_ts,
        incident_title=title,
        text=text,
    )
    return StoredEntry(entry, EntryState.SENT, "event-1", notice.to_json(), created_at=created_at)


@dataclass
class FakeChanges:
    # Live entries made from each message (what `entries_following` answers).
    following: dict[MessageRef, list[StoredEntry]] = field(default_factory=dict)
    # Method name -> what it answers (a Changed, a list for edits/deletes, or an exception it raises).
    answers: dict[str, Answer] = field(default_factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def called(self, method: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.calls if name == method]

    def _answer(self, method: str, *args: Any) -> Any:
        self.calls.append((method, args))
        answer = self.answers.get(method, Changed(ChangeResult.DONE, None))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def undo(self, client_token: str, user_id: str, now: datetime) -> Changed:
        answer = self._answer("undo", client_token, user_id, now)
        assert isinstance(answer, Changed)
        return answer

    async def entries_following(self, ref: MessageRef) -> list[StoredEntry]:
        self.calls.append(("entries_following", (ref,)))
        answer = self.answers.get("entries_following")
        if isinstance(answer, BaseException):
            raise answer
        return list(self.following.get(ref, []))

    async def message_edited(
        self, ref: MessageRef, new_text: str, author_id: str | None, edited_at: datetime
    ) -> list[Changed]:
        answer = self._answer("message_edited", ref, new_text, author_id, edited_at)
        return answer if isinstance(answer, list) else [answer]

    async def message_deleted(self, ref: MessageRef, deleted_at: datetime) -> list[Changed]:
        answer = self._answer("message_deleted", ref, deleted_at)
        return answer if isinstance(answer, list) else [answer]

    async def pin_removed(self, ref: MessageRef, user_id: str, incident_arn: str) -> Changed:
        answer = self._answer("pin_removed", ref, user_id, incident_arn)
        assert isinstance(answer, Changed)
        if answer.result in (ChangeResult.DONE, ChangeResult.CANCELLED):
            # As the real one: the message's entry on that incident is gone (others stay).
            live = self.following.get(ref, [])
            self.following[ref] = [stored for stored in live if stored.entry.incident_arn != incident_arn]
        return answer
