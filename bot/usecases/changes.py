"""STUB (lifecycle-slack) of lifecycle-core's interface, replaced by core's module at merge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.slack_message import MessageRef
from bot.usecases.ports import StoredEntry


class ChangeResult(StrEnum):
    DONE = "done"
    QUEUED = "queued"
    CANCELLED = "cancelled"
    NOTHING = "nothing"
    REFUSED = "refused"


@dataclass(frozen=True)
class Changed:
    result: ChangeResult
    stored: StoredEntry | None
    error: BaseException | None = None


class UndoRefusal(StrEnum):
    NOT_YOURS = "not_yours"
    WINDOW_PASSED = "window_passed"
    UNKNOWN = "unknown"


class UndoNotAllowed(Exception):
    def __init__(self, reason: UndoRefusal, stored: StoredEntry | None = None) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.stored = stored


class EntryChanges:
    # Marks this stand-in: the end-to-end tests of the lifecycle wait for the real one.
    STUB = True

    async def undo(self, client_token: str, user_id: str, now: datetime) -> Changed:
        raise NotImplementedError

    async def entries_following(self, ref: MessageRef) -> list[StoredEntry]:
        raise NotImplementedError

    async def message_edited(
        self, ref: MessageRef, new_text: str, author_id: str | None, edited_at: datetime
    ) -> list[Changed]:
        raise NotImplementedError

    async def message_deleted(self, ref: MessageRef, deleted_at: datetime) -> list[Changed]:
        raise NotImplementedError

    async def pin_removed(self, ref: MessageRef, user_id: str, incident_arn: str) -> Changed:
        raise NotImplementedError
