"""An entry follows what happens to it in Slack: Undo, un-pin, edits and deletes of its message.

Each change is recorded on the entry's row first (`EntryStore.request_update` / `request_delete`), then
sent by the outbox after the entry's create, retried like it. A delete of an entry whose create never
reached AWS cancels it: nothing is ever sent. The person waits a little for the change, as for an add;
past that they hear "queued", and the change's notice hears how it ends.

The lifecycle of an entry (states, `bot.usecases.ports.EntryState`; a change owed, `OwedChange`):

    (new) ──add──▶ PENDING ──create lands──▶ SENT ──delete lands / "not found"──▶ DELETED
                     │  ╰──create fails for good──▶ FAILED ──asked again──▶ PENDING
                     ╰──delete, create surely not landed──▶ CANCELLED
    PENDING + edit: folded into the create if it was never attempted, else an update owed after it.
    PENDING + delete, create may have landed: a delete owed; the create is finished, then deleted (or, if
        it finally fails without having landed, CANCELLED).
    SENT + edit: an update owed (revision n+1; a newer edit replaces one not yet sent); SENT + delete: a
        delete owed (it replaces an update not sent). A change refused for good leaves the entry as AWS has it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.slack_message import MessageRef
from bot.domain.slack_text import readable, referenced_user_ids
from bot.domain.timeline import (
    DELETED_IN_SLACK,
    UNKNOWN_AUTHOR,
    Attribution,
    NoteTooLong,
    compose_event_text,
    edited_marker,
    encode_event_data,
)
from bot.usecases.errors import BindNotAllowed
from bot.usecases.outbox import Landed, Notice, NoticeKind, Outbox, Outcome, Queued
from bot.usecases.ports import (
    BindPermission,
    ChangeApplied,
    ChangeKind,
    EntryOrigin,
    EntrySource,
    EntryStore,
    NameDirectory,
    StoredEntry,
)

logger = logging.getLogger(__name__)

DEFAULT_UNDO_WINDOW = timedelta(minutes=10)
# Names looked up for one re-rendered entry at most (as TimelineService's MAX_NAMES_PER_ENTRY).
MAX_NAMES_PER_EDIT = 50


class DeletedMessageAction(StrEnum):
    """What a message deleted in Slack does to its entries (DELETED_MESSAGE_ACTION)."""

    DELETE = "delete"  # the event is deleted (the default: the timeline follows Slack)
    MARK = "mark"  # its text becomes "(deleted in Slack)"


class ChangeResult(StrEnum):
    DONE = "done"  # AWS has the change (a delete AWS answers "not found" counts as done)
    QUEUED = "queued"  # saved; the outbox sends it when AWS answers; the person is told then
    CANCELLED = "cancelled"  # a delete of an entry whose create never reached AWS: nothing sent, ever
    NOTHING = "nothing"  # nothing to do (already deleted; same text; another pinner still pins it)
    REFUSED = "refused"  # AWS refused it for good (`error` says why; the mapping layer explains it)


@dataclass(frozen=True)
class Changed:
    result: ChangeResult
    # The entry after the change.
    stored: StoredEntry | None
    error: BaseException | None = None


class UndoRefusal(StrEnum):
    NOT_YOURS = "not_yours"  # only who added it (and, with BIND_ALLOWED_*, those it names) may undo
    WINDOW_PASSED = "window_passed"  # the Undo window (UNDO_WINDOW_MINUTES) is over
    UNKNOWN = "unknown"  # no such entry (never recorded, or pruned)


class UndoNotAllowed(Exception):
    def __init__(self, reason: UndoRefusal, stored: StoredEntry | None = None) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.stored = stored


class EntryChanges:
    def __init__(
        self,
        store: EntryStore,
        outbox: Outbox,
        directory: NameDirectory,
        permission: BindPermission,
        *,
        undo_window: timedelta = DEFAULT_UNDO_WINDOW,
        others_may_undo: bool = False,
        deleted_message_action: DeletedMessageAction = DeletedMessageAction.DELETE,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._directory = directory
        self._permission = permission
        self._undo_window = undo_window
        # BIND_ALLOWED_* is set: those it names may undo anyone's entry too.
        self._others_may_undo = others_may_undo
        self._deleted_action = deleted_message_action

    # Undo

    async def undo(self, client_token: str, user_id: str, now: datetime) -> Changed:
        """Delete the entry the Undo button names, for who added it (or whom BIND_ALLOWED_* names),
        within the window from when it was recorded. Raises UndoNotAllowed."""
        stored = await self._store.get_entry(client_token)
        if stored is None:
            raise UndoNotAllowed(UndoRefusal.UNKNOWN)
        if not stored.live:
            return Changed(ChangeResult.NOTHING, stored)
        if stored.user_id != user_id:
            await self._check_may_undo(stored, user_id)
        if stored.created_at is not None and now - stored.created_at > self._undo_window:
            raise UndoNotAllowed(UndoRefusal.WINDOW_PASSED, stored)
        notice = _change_notice(stored, user_id, ChangeKind.DELETE, pin=False)
        return await self._delete(stored, notice, now)

    async def _check_may_undo(self, stored: StoredEntry, user_id: str) -> None:
        if not self._others_may_undo:
            raise UndoNotAllowed(UndoRefusal.NOT_YOURS, stored)
        try:
            await self._permission.check(user_id)
        except BindNotAllowed:
            raise UndoNotAllowed(UndoRefusal.NOT_YOURS, stored) from None

    # What happens to the message in Slack

    async def entries_following(self, ref: MessageRef) -> list[StoredEntry]:
        """The live entries made from this message (one per incident): one indexed read, no write, and
        [] for the many messages never put on the timeline."""
        return await self._store.entries_for_message(ref)

    async def message_edited(
        self, ref: MessageRef, new_text: str, author_id: str | None, edited_at: datetime
    ) -> list[Changed]:
        """Each entry that follows the message's edits says its new text, rendered as its source did,
        marked as edited then (type, time and references kept). A shortcut entry whose text the person
        shaped keeps it (NOTHING)."""
        changed: list[Changed] = []
        for stored in await self._store.entries_for_message(ref):
            source = stored.source
            if source is None or not source.follows_edits:
                changed.append(Changed(ChangeResult.NOTHING, stored))
                continue
            try:
                data = await self._rendered(source, new_text, author_id, edited_at)
            except NoteTooLong as error:
                changed.append(Changed(ChangeResult.REFUSED, stored, error))
                continue
            if data is None:
                changed.append(Changed(ChangeResult.NOTHING, stored))  # nothing readable left: kept
                continue
            changed.append(await self._update(stored, data, self._outbox.now()))
        return changed

    async def message_deleted(self, ref: MessageRef, deleted_at: datetime) -> list[Changed]:
        """Each entry of the message is deleted (DELETED_MESSAGE_ACTION=delete, the default) or says
        "(deleted in Slack)" (mark), whatever its origin."""
        changed: list[Changed] = []
        for stored in await self._store.entries_for_message(ref):
            if self._deleted_action is DeletedMessageAction.DELETE:
                changed.append(await self._delete(stored, "", self._outbox.now()))
                continue
            data = await self._marked_deleted(stored)
            changed.append(await self._update(stored, data, self._outbox.now()))
        return changed

    async def pin_removed(self, ref: MessageRef, user_id: str, incident_arn: str) -> Changed:
        """This person took their pin off: when nobody pins the message any more, the event a pin made
        is deleted. An entry the shortcut or a thread made stays (it goes by Undo, or the message)."""
        for live in await self._store.entries_for_message(ref):
            if live.entry.incident_arn != incident_arn:
                continue
            after = await self._store.remove_pinner(live.entry.client_token, user_id)
            if after is None or after.source is None or after.source.origin is not EntryOrigin.PIN:
                return Changed(ChangeResult.NOTHING, after or live)
            if after.pinners:
                return Changed(ChangeResult.NOTHING, after)
            notice = _change_notice(after, user_id, ChangeKind.DELETE, pin=True)
            return await self._delete(after, notice, self._outbox.now(), unless_pinned=True)
        return Changed(ChangeResult.NOTHING, None)

    # The two changes

    async def _delete(
        self, stored: StoredEntry, notice: str, now: datetime, *, unless_pinned: bool = False
    ) -> Changed:
        token = stored.entry.client_token
        hold = self._outbox.lease_until()
        applied, after = await self._store.request_delete(
            token, notice, now, unless_pinned=unless_pinned, hold_until=hold
        )
        if applied is ChangeApplied.CANCELLED:
            logger.info("entry cancelled before it reached Incident Manager", extra={"token": token})
            return Changed(ChangeResult.CANCELLED, after)
        if applied is not ChangeApplied.OWED:
            return Changed(ChangeResult.NOTHING, after or stored)
        return await self._sent(token, await self._outbox.deliver_change(token, held=hold))

    async def _update(self, stored: StoredEntry, event_data: str, now: datetime) -> Changed:
        shown = stored.shown
        if event_data == shown.event_data:
            return Changed(ChangeResult.NOTHING, stored)
        token = stored.entry.client_token
        content = replace(shown, client_token=token, event_data=event_data)
        hold = self._outbox.lease_until()
        applied, after = await self._store.request_update(token, content, "", now, hold_until=hold)
        if applied is ChangeApplied.GONE or after is None:
            return Changed(ChangeResult.NOTHING, after)
        if applied is ChangeApplied.FOLDED:
            # The create, never attempted, now says it: it goes out as soon as its turn comes.
            self._outbox.wake()
            return Changed(ChangeResult.QUEUED, after)
        return await self._sent(token, await self._outbox.deliver_change(token, held=hold))

    async def _sent(self, token: str, outcome: Outcome) -> Changed:
        after = await self._store.get_entry(token)
        if isinstance(outcome, Landed):
            return Changed(ChangeResult.DONE, after)
        if isinstance(outcome, Queued):
            return Changed(ChangeResult.QUEUED, after)
        return Changed(ChangeResult.REFUSED, after, outcome.error)

    # Rendering, as the entry's source did

    async def _rendered(
        self, source: EntrySource, markup: str, author_id: str | None, edited_at: datetime
    ) -> str | None:
        author = author_id or source.author_id
        people = {user for user in (author, source.added_by_id) if user}
        room = max(0, MAX_NAMES_PER_EDIT - len(people))
        mentioned = set(sorted(referenced_user_ids(markup) - people)[:room])
        names = await self._directory.names(people | mentioned)
        text = readable(markup, names)
        if not text:
            return None
        attribution = _attribution(source, names, author)
        return encode_event_data(f"{compose_event_text(text, attribution)}\n{edited_marker(edited_at)}")

    async def _marked_deleted(self, stored: StoredEntry) -> str:
        source = stored.source
        if source is None:
            return encode_event_data(DELETED_IN_SLACK)
        people = {user for user in (source.author_id, source.added_by_id) if user}
        names = await self._directory.names(people)
        return encode_event_data(compose_event_text(DELETED_IN_SLACK, _attribution(source, names, None)))


def _attribution(source: EntrySource, names: dict[str, str], author_id: str | None) -> Attribution:
    author_id = author_id or source.author_id
    author = (names.get(author_id) if author_id else None) or source.author_fallback or author_id
    added_by = (names.get(source.added_by_id) or source.added_by_id) if source.added_by_id else None
    return Attribution(author or UNKNOWN_AUTHOR, added_by, source.permalink)


def _change_notice(stored: StoredEntry, user_id: str, kind: ChangeKind, *, pin: bool) -> str:
    """Who hears how the change ends if it outlasts their request: the person who asked, where the entry
    came from; with the message's ✅ taken off once a delete lands."""
    recorded = Notice.from_json(stored.notice)
    ref = stored.source.message if stored.source is not None else None
    message_ts = (recorded.message_ts if recorded is not None else None) or (ref.ts if ref else None)
    notice_kind = NoticeKind.PIN if pin else NoticeKind.CAPTURE if message_ts else NoticeKind.REPLY
    team = recorded.team_id if recorded is not None else (ref.team_id if ref else "")
    channel = recorded.channel_id if recorded is not None else (ref.channel_id if ref else "")
    return Notice(
        kind=notice_kind,
        team_id=team,
        channel_id=channel,
        user_id=user_id,
        message_ts=message_ts,
        incident_title=recorded.incident_title if recorded is not None else "",
        text=(recorded.text if recorded is not None else "") or stored.shown.text,
        change=kind.value,
    ).to_json()
