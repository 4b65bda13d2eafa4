"""The one write path: a captured Slack source becomes a timeline event.

Every entry point (the slash command, the compose form, the "Add to timeline" form, a pin) goes through
`TimelineService.add`, with the channel's binding resolved once for the request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.binding import Binding
from bot.domain.slack_message import MessageRef
from bot.domain.slack_text import clean_text, readable, referenced_user_ids
from bot.domain.timeline import (
    UNKNOWN_AUTHOR,
    Attribution,
    EventType,
    NoteTooLong,
    TimelineEntry,
    as_utc,
    client_token,
    compose_event_text,
    encode_event_data,
)
from bot.usecases.errors import (
    BindingChanged,
    BoundIncidentMissing,
    ChannelNotBound,
    EntryEmpty,
    IncidentNotFound,
)
from bot.usecases.outbox import Landed, Notice, Outbox, Outcome, Queued
from bot.usecases.ports import (
    ChangeApplied,
    ChangeKind,
    EntryOrigin,
    EntrySource,
    EntryState,
    EntryStore,
    NameDirectory,
    StoredEntry,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapturedEntry:
    """Something from Slack that should land on the channel's incident timeline."""

    team_id: str
    channel_id: str
    event_type: EventType
    slack_text: str
    event_time: datetime
    author_id: str | None
    author_fallback: str
    token_source: tuple[str, ...]
    added_by_id: str | None = None
    permalink: str | None = None
    # The incident the person saw when they started (a modal); None when they acted in one step.
    expected_incident_arn: str | None = None
    # Slack message markup (mentions, links, entities) or, from a form's plain-text input, literal text.
    is_markup: bool = True
    # How it came in, and the message it was made from (None for a typed entry): one message has one
    # event per incident, whichever way it came in.
    origin: EntryOrigin = EntryOrigin.TYPED
    message_ts: str | None = None
    # Whether edits of the message in Slack change the entry (its text is the message's own).
    follows_edits: bool = True
    # Who pins the message (a pin): tracked, so that the last one to take the pin off deletes it.
    pinner: str | None = None

    @property
    def message(self) -> MessageRef | None:
        return MessageRef(self.team_id, self.channel_id, self.message_ts) if self.message_ts else None


@dataclass(frozen=True)
class EntryAdded:
    entry: TimelineEntry
    binding: Binding
    event_id: str
    # The person's own words as they landed (without the attribution line appended for the timeline).
    text: str
    # The same source was already on the timeline (a second pin, a retried delivery): nothing new was sent.
    repeat: bool = False
    # The message was already on the timeline (pinned, say) and this shortcut entry changed that event to
    # say what the form said, instead of adding a second one (there is nothing of its own to undo).
    updated: bool = False


@dataclass(frozen=True)
class EntryQueued:
    """Saved, not yet on the timeline: Incident Manager is busy, failing or slow. The outbox keeps trying
    and tells the person (through the entry's notice) when it lands or finally fails."""

    entry: TimelineEntry
    binding: Binding
    text: str
    # Why it is queued; None when the first attempt is simply taking long.
    reason: BaseException | None
    # Taking long because a burst is waiting its turn under the bot's own rate limit.
    waiting_for_turn: bool = False


# Names looked up for one entry at most (mentions, author, who added it): a message mentioning hundreds of
# people costs a bounded round of users.info; the rest show as their Slack handle or id.
MAX_NAMES_PER_ENTRY = 50
# Tries at "owe this person the outcome, or answer from how it settled meanwhile" for one request.
AWAIT_ROUNDS = 3
# Stands in for every name in the early length check: a display name is at least one character, so a
# text too long even then is too long whatever the look-ups bring.
_SHORTEST_NAME = "x"


class TimelineService:
    def __init__(self, store: EntryStore, outbox: Outbox, directory: NameDirectory) -> None:
        self._store = store
        self._outbox = outbox
        self._directory = directory

    @staticmethod
    def people_in(captured: CapturedEntry) -> set[str]:
        """Everyone whose name the entry shows: mentions, the author and who added it."""
        people = {user for user in (captured.author_id, captured.added_by_id) if user}
        mentioned = referenced_user_ids(captured.slack_text) if captured.is_markup else set()
        room = max(0, MAX_NAMES_PER_ENTRY - len(people))
        return people | set(sorted(mentioned - people)[:room])

    @classmethod
    def check_length(cls, captured: CapturedEntry) -> None:
        """Raise NoteTooLong if the entry is too long whatever names the look-ups bring (before them)."""
        shortest = dict.fromkeys(
            cls.people_in(captured) | referenced_user_ids(captured.slack_text), _SHORTEST_NAME
        )
        text, attribution = cls.render(captured, shortest)
        encode_event_data(compose_event_text(text, attribution))

    async def already_recorded(
        self, token_source: tuple[str, ...], binding: Binding, notice: Notice
    ) -> EntryAdded | EntryQueued | None:
        """A source recorded before (a retried delivery), answered from the store without reading the
        message again (a refusal raises, as `add` does); None when it is not known, or not live (finally
        failed, deleted: asked again, it is rebuilt from the message). Told it is saved, `notice` hears
        the outcome too."""
        token = client_token(*token_source)
        return await self._known(lambda: self._store.get_entry(token), binding, notice, token)

    async def already_pinned(
        self, message: MessageRef, binding: Binding, notice: Notice, pinner: str
    ) -> EntryAdded | EntryQueued | None:
        """A pin of a message already on the incident's timeline, whichever way it came in (another pin,
        the shortcut, a thread): the pinner is recorded and the answer comes from the store, without
        reading the message (one indexed read, one write). None when the message has no live entry there:
        the caller reads it and adds it (a re-pin after an un-pin gets a fresh token)."""

        async def joined() -> StoredEntry | None:
            for live in await self._store.entries_for_message(message):
                if live.entry.incident_arn == binding.incident_arn:
                    return await self._store.add_pinner(live.entry.client_token, pinner)
            return None

        return await self._known(joined, binding, notice, f"pin of {message.ts}")

    async def _known(
        self,
        read: Callable[[], Awaitable[StoredEntry | None]],
        binding: Binding,
        notice: Notice,
        label: str,
    ) -> EntryAdded | EntryQueued | None:
        answer: EntryAdded | EntryQueued | None = None
        for _ in range(AWAIT_ROUNDS):
            stored = await read()
            if stored is None or not stored.live:
                return None
            recorded = Notice.from_json(stored.notice)
            text = (recorded.text if recorded is not None else "") or stored.shown.text
            if stored.state is EntryState.SENT and stored.event_id:
                return EntryAdded(stored.shown, binding, stored.event_id, text, repeat=True)
            answer = self._answer(
                stored.entry, binding, text, await self._outbox.deliver(stored), repeat=True
            )
            told = replace(notice, incident_title=binding.incident_title, text=text)
            if await self._hears_the_outcome(stored, answer, told):
                return answer
        _not_awaiting(label)
        return answer

    async def _hears_the_outcome(
        self, stored: StoredEntry, answer: EntryAdded | EntryQueued, notice: Notice
    ) -> bool:
        """Whether the person answered with `answer` hears how the entry ends: they are told it now, or it
        is their own entry (its notice is told), or they are recorded as awaiting it. False when it settled
        before they could be: the caller answers from how it settled."""
        if not isinstance(answer, EntryQueued):
            return True
        recorded = Notice.from_json(stored.notice)
        if recorded is not None and _same_person(recorded, notice):
            return True
        return await self._store.add_awaiting(stored.entry.client_token, notice.to_json())

    @staticmethod
    def _answer(
        entry: TimelineEntry, binding: Binding, text: str, outcome: Outcome, *, repeat: bool = False
    ) -> EntryAdded | EntryQueued:
        if isinstance(outcome, Landed):
            return EntryAdded(entry, binding, outcome.event_id, text, repeat=repeat or outcome.joined)
        if isinstance(outcome, Queued):
            return EntryQueued(entry, binding, text, outcome.error, outcome.waiting_for_turn)
        error = outcome.error
        if isinstance(error, IncidentNotFound):
            raise BoundIncidentMissing(binding.incident_title, binding.incident_arn) from error
        raise error

    @staticmethod
    def render(captured: CapturedEntry, names: dict[str, str]) -> tuple[str, Attribution]:
        """The readable text and its author line, with the names known (pure: no look-ups)."""
        if captured.is_markup:
            text = readable(captured.slack_text, names)
        else:
            text = clean_text(captured.slack_text).strip()
        author = _name(names, captured.author_id, captured.author_fallback)
        added_by = _name(names, captured.added_by_id, "") if captured.added_by_id else None
        return text, Attribution(author, added_by, captured.permalink)

    async def add(
        self, captured: CapturedEntry, notice: Notice, binding: Binding | None, *, send: bool = True
    ) -> EntryAdded | EntryQueued:
        """Record the entry on `binding`'s incident (the channel's binding as this request resolved it,
        once), then send it; `notice` says whom to tell if the outcome comes later. With `send=False` it is
        only recorded (answered "added" if it is on the timeline already, else queued with no reason), held
        for this caller for one lease: a later `add` of the same source sends it, or the outbox does once
        the hold runs out (a thread records every message before it sends the first)."""
        if binding is None:
            raise ChannelNotBound()
        if captured.expected_incident_arn not in (None, binding.incident_arn):
            raise BindingChanged(binding.incident_title)
        try:
            self.check_length(captured)
        except NoteTooLong:
            # Too long whatever the mentions' names: only the byline's names are looked up, so the reply
            # says exactly how much to cut; the mentions stay as their handles.
            byline = {user for user in (captured.author_id, captured.added_by_id) if user}
            text, attribution = self.render(captured, await self._directory.names(byline))
            encode_event_data(compose_event_text(text, attribution))
            raise
        # One concurrent round of users.info (cached) for the mentions, the author and who added it.
        names = await self._directory.names(self.people_in(captured))
        text, attribution = self.render(captured, names)
        if not text:
            raise EntryEmpty(captured.event_type)
        source = self._source_of(captured, attribution)
        token_source = captured.token_source
        if source is not None and source.origin.counts_generations:
            # A re-pin after an un-pin (the entry deleted) is a new entry, with a fresh token; the first
            # generation's token is what it always was (CONTRACT).
            generation = await self._store.pin_generation(source.message, binding.incident_arn)
            source = replace(source, generation=generation)
            if generation:
                token_source = (*token_source, f"generation:{generation}")
        entry = TimelineEntry(
            client_token=client_token(*token_source),
            incident_arn=binding.incident_arn,
            event_type=captured.event_type,
            event_time=as_utc(captured.event_time),
            event_data=encode_event_data(compose_event_text(text, attribution)),
        )
        notice = replace(notice, incident_title=binding.incident_title, text=text)
        answer: EntryAdded | EntryQueued | None = None
        for _ in range(AWAIT_ROUNDS):
            # Recorded before AWS is tried; a repeat of the same source gets the first entry back unchanged,
            # so the token is always sent with the same parameters (eventTime included).
            stored = await self._store.save_entry_once(
                entry, notice.to_json(), self._outbox.lease_until(), source, captured.pinner
            )
            if stored.entry.client_token != entry.client_token and captured.origin is EntryOrigin.SHORTCUT:
                # The message is already on the timeline (pinned, say): the form shapes that event.
                reshaped = await self._reshape(stored, entry, binding, notice, text, captured.follows_edits)
                if reshaped is not None:
                    return reshaped
                continue  # it was deleted meanwhile: this one is recorded on its own
            # An earlier attempt of this source (the message edited since, say) is what is sent, and the
            # reply quotes what it says.
            said = text if stored.entry == entry else stored.entry.text
            if stored.state is EntryState.SENT and stored.event_id:
                # Already on the timeline: AWS would answer with the same event, so don't ask it again.
                return EntryAdded(stored.entry, binding, stored.event_id, said, repeat=True)
            if not send:
                return EntryQueued(stored.entry, binding, said, None)
            answer = self._answer(stored.entry, binding, said, await self._outbox.deliver(stored))
            # Someone else's entry still on its way (two people pinned one message at once): this person
            # was told "saved" too, so they hear the outcome too; if it settled meanwhile, ask again.
            if await self._hears_the_outcome(stored, answer, notice):
                return answer
        _not_awaiting(entry.client_token)
        assert answer is not None  # the loop ran (AWAIT_ROUNDS > 0)
        return answer

    @staticmethod
    def _source_of(captured: CapturedEntry, attribution: Attribution) -> EntrySource | None:
        message = captured.message
        if message is None:
            return None
        return EntrySource(
            message=message,
            origin=captured.origin,
            follows_edits=captured.follows_edits,
            author_id=captured.author_id,
            author_fallback=captured.author_fallback,
            added_by_id=captured.added_by_id,
            permalink=attribution.permalink,
        )

    async def _reshape(
        self,
        existing: StoredEntry,
        wanted: TimelineEntry,
        binding: Binding,
        notice: Notice,
        text: str,
        follows_edits: bool,
    ) -> EntryAdded | EntryQueued | None:
        """A shortcut entry for a message already on the timeline: that event is updated to say what the
        form says (its text, type and time), instead of a second event being added. None when that entry
        was deleted meanwhile."""
        token = existing.entry.client_token
        content = replace(wanted, client_token=token)
        change_notice = replace(notice, change=ChangeKind.UPDATE.value).to_json()
        hold = self._outbox.lease_until()
        applied, after = await self._store.request_update(
            token,
            content,
            change_notice,
            self._outbox.now(),
            stop_following=not follows_edits,
            hold_until=hold,
        )
        if applied is ChangeApplied.GONE or after is None:
            return None
        if applied is ChangeApplied.FOLDED:
            outcome = await self._outbox.deliver(after)
        else:
            outcome = await self._outbox.deliver_change(token, held=hold)
        if isinstance(outcome, Landed):
            event_id = outcome.event_id or after.event_id or ""
            return EntryAdded(content, binding, event_id, text, updated=True)
        return self._answer(content, binding, text, outcome)


def _not_awaiting(token: str) -> None:
    # The entry kept settling and being asked for again under this one request: what it last heard stands.
    logger.warning("a repeat request could not be recorded as awaiting the outcome", extra={"token": token})


def _same_person(one: Notice, other: Notice) -> bool:
    return (one.team_id, one.channel_id, one.user_id) == (other.team_id, other.channel_id, other.user_id)


def _name(names: dict[str, str], user_id: str | None, fallback: str) -> str:
    return clean_text((names.get(user_id) if user_id else None) or fallback or user_id or UNKNOWN_AUTHOR)
