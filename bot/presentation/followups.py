"""The second reply: an entry that was saved and queued has landed, or finally failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.arn import console_url
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.messages import changes, entries
from bot.presentation.outcomes import undo_until
from bot.presentation.undo_offer import as_told, offer_undo
from bot.slack.conversation import mark_added, unmark_added
from bot.slack.replies import Replier
from bot.usecases.outbox import Notice, NoticeKind, Told
from bot.usecases.ports import ChangeKind, EntryState, OwedChange, StoredEntry

# Slack's response_url works for 30 minutes; past that the reply goes by chat.postEphemeral at once.
RESPONSE_URL_LIFETIME_SECONDS = 29 * 60


class SlackFollowUps:
    def __init__(
        self,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
        added_reaction: str | None,
        region: Callable[[], str | None],
        undo_window: timedelta = timedelta(minutes=10),
    ) -> None:
        self._client = client
        self._undo_window = undo_window
        self._session = session
        self._added_reaction = added_reaction
        self._region = region

    def _replier(self, notice: Notice) -> Replier:
        response_url = notice.response_url
        issued = notice.response_url_issued_at
        if issued is not None and time.time() - issued > RESPONSE_URL_LIFETIME_SECONDS:
            response_url = None
        return Replier(
            self._client, notice.channel_id, notice.user_id, response_url=response_url, session=self._session
        )

    def landed_reply(self, stored: StoredEntry, event_id: str) -> str:
        notice = Notice.from_json(stored.notice)
        entry = stored.entry
        title = notice.incident_title if notice else ""
        text = (notice.text if notice else "") or entry.text
        url = console_url(entry.incident_arn, self._region())
        reply = entries.entry_landed_later(entry.event_type, title, url, entry.event_time, text)
        if notice is None or notice.kind is NoticeKind.PIN or stored.created_at is None:
            return reply  # a pin's undo is taking the 📌 off
        return offer_undo(reply, entry.client_token, undo_until(stored.created_at, self._undo_window))

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str:
        notice = Notice.from_json(stored.notice)
        pin = notice is not None and notice.kind is NoticeKind.PIN
        context = FailureContext(
            action=Action.PIN if pin else Action.ADD,
            region=self._region(),
            incident_title=notice.incident_title if notice else None,
            # A pinned message is still in the channel; anything typed is given back.
            text="" if pin or notice is None else notice.text,
        )
        return explain(error, context).text

    def change_reply(self, stored: StoredEntry, change: OwedChange, error: BaseException | None) -> str:
        notice = Notice.from_json(stored.notice)
        title = notice.incident_title if notice else ""
        text = (notice.text if notice else "") or stored.shown.text
        url = console_url(stored.entry.incident_arn, self._region())
        if error is None:
            if change.kind is ChangeKind.UPDATE:
                shown = stored.shown
                return changes.updated_later(shown.event_type, title, url, shown.event_time, text)
            if stored.state is EntryState.CANCELLED:
                return changes.never_added(stored.entry.event_type, title, text)
            return changes.removed_later(stored.entry.event_type, title, url, text)
        pin = notice is not None and notice.kind is NoticeKind.PIN
        update = change.kind is ChangeKind.UPDATE
        context = FailureContext(
            action=Action.EDIT if update else Action.UNPIN if pin else Action.UNDO,
            operation="UpdateTimelineEvent" if update else "DeleteTimelineEvent",
            region=self._region(),
            incident_title=title or None,
            # The form's text, shaped by the person, is given back when its update fails.
            text=text if update else "",
        )
        return explain(error, context).text

    async def tell(self, notice: str, reply: str, landed: bool) -> Told:
        recorded = Notice.from_json(notice)
        if recorded is None:
            return Told(reached=True)  # no one recorded to tell: nothing is owed
        if recorded.change == ChangeKind.DELETE.value:
            return await self._tell_removed(recorded, reply, landed)
        if landed and recorded.message_ts:
            marked = await mark_added(
                self._client, recorded.channel_id, recorded.message_ts, self._added_reaction
            )
            if marked and recorded.kind is NoticeKind.PIN:
                return Told(reached=True)  # the ✅ is a pin's confirmation
        replier = self._replier(recorded)
        text, blocks = as_told(reply, datetime.now(UTC))
        if await replier.send(text, blocks):
            return Told(reached=True)
        return Told(reached=False, retry_after=replier.retry_after)

    async def _tell_removed(self, recorded: Notice, reply: str, landed: bool) -> Told:
        """A delete that landed takes the ✅ off the message (for an un-pin, that is the whole answer);
        the person hears it, or why it failed."""
        if landed and recorded.message_ts:
            unmarked = await unmark_added(
                self._client, recorded.channel_id, recorded.message_ts, self._added_reaction
            )
            if unmarked and recorded.kind is NoticeKind.PIN:
                return Told(reached=True)
        replier = self._replier(recorded)
        if await replier.send(reply):
            return Told(reached=True)
        return Told(reached=False, retry_after=replier.retry_after)
