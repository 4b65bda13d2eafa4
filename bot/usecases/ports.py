"""What the use cases need from the outside, as small Protocols: the adapters (store, AWS gateway, Slack
API) implement them, and the use cases never see an SDK."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.domain.binding import Binding
from bot.domain.slack_message import MessageRef
from bot.domain.timeline import TimelineEntry

# Incident Manager


@dataclass(frozen=True)
class IncidentSummary:
    arn: str
    title: str
    status: str
    impact: int | None
    resolved_time: datetime | None
    # When the incident started (GetIncidentRecord and ListIncidentRecords both say).
    creation_time: datetime | None = None

    @property
    def is_resolved(self) -> bool:
        return self.status == "RESOLVED"


@dataclass(frozen=True)
class IncidentPage:
    """One page of ListIncidentRecords."""

    incidents: list[IncidentSummary]
    next_token: str | None


@dataclass(frozen=True)
class EventSummary:
    """A timeline event as ListTimelineEvents gives it (without its eventData)."""

    event_id: str
    event_type: str
    event_time: datetime
    updated_time: datetime


@dataclass(frozen=True)
class EventPage:
    events: list[EventSummary]
    next_token: str | None


@dataclass(frozen=True)
class RelatedItem:
    """An item on the incident's Related items tab (`url` only for the kinds that are addresses)."""

    item_type: str
    url: str | None
    title: str | None


@dataclass(frozen=True)
class RelatedItemsPage:
    items: list[RelatedItem]
    next_token: str | None


class IncidentGateway(Protocol):
    """Incident Manager. Failures are raised as `bot.usecases.errors.IncidentManagerError` (its subclasses
    `IncidentNotFound` and `OutcomeUnknown`), or `NotSent`; never as an SDK's exception."""

    @property
    def region(self) -> str | None: ...

    async def get_incident(self, arn: str) -> IncidentSummary: ...

    async def list_open_incidents(self, next_token: str | None = None) -> IncidentPage:
        """One page (up to 100) of the incidents whose status is OPEN."""
        ...

    async def list_timeline_events(self, arn: str, limit: int, next_token: str | None = None) -> EventPage:
        """Up to `limit` events, newest first."""
        ...

    async def get_timeline_event_data(self, arn: str, event_id: str) -> str:
        """The event's eventData (ListTimelineEvents does not carry it)."""
        ...

    async def list_related_items(self, arn: str, next_token: str | None = None) -> RelatedItemsPage: ...

    async def add_related_link(self, arn: str, url: str, title: str, client_token: str) -> None:
        """Add an `OTHER` related item with this address; one token adds it once."""
        ...

    async def remove_related_link(self, arn: str, url: str, client_token: str) -> None: ...

    async def create_timeline_event(
        self, entry: TimelineEntry, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        """Create the event; return its eventId. `before_send` runs once the call's turn under the rate
        limit has come; if it answers False, nothing is sent (NotSent)."""
        ...

    async def update_timeline_event(
        self,
        entry: TimelineEntry,
        event_id: str,
        client_token: str,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Make the event say what `entry` says (its type, time, text and references); `client_token`
        makes a retry of the same update harmless. `before_send` as for a create."""
        ...

    async def delete_timeline_event(
        self, incident_arn: str, event_id: str, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        """Delete the event (AWS's DeleteTimelineEvent takes no clientToken: deleting twice is harmless)."""
        ...

    async def close(self) -> None: ...


# Slack, as the use cases see it


class NameDirectory(Protocol):
    """Display names of Slack users, looked up and cached."""

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]: ...

    def cached_names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The names known right now, without asking anyone."""
        ...


class BindPermission(Protocol):
    async def check(self, user_id: str) -> None:
        """Return if the person may bind, re-bind and unbind; raise BindNotAllowed or
        BindPermissionUnknown otherwise."""
        ...


# The store


class EntryState(StrEnum):
    """Where an entry is in its life. An entry in PENDING or SENT may also owe a change (`OwedChange`)."""

    PENDING = "pending"  # recorded; its create is owed to AWS
    SENT = "sent"  # on the timeline
    FAILED = "failed"  # its create finally failed (asked for again, it becomes pending again)
    CANCELLED = "cancelled"  # deleted before its create reached AWS: nothing was ever sent
    DELETED = "deleted"  # its event was deleted from the timeline (or AWS no longer had it)

    @property
    def settled(self) -> bool:
        return self is not EntryState.PENDING


class EntryOrigin(StrEnum):
    """How an entry came from Slack: what may change it later (un-pin deletes only what a pin made)."""

    TYPED = "typed"  # the slash command, the compose form: no message behind it
    SHORTCUT = "shortcut"  # the "Add to timeline" form on a message
    PIN = "pin"  # a 📌 on a message
    THREAD = "thread"  # one message of a thread added whole

    @property
    def counts_generations(self) -> bool:
        """A pin's or a thread's entry: a re-pin after it was deleted is the next generation, a new token."""
        return self in (EntryOrigin.PIN, EntryOrigin.THREAD)


class ChangeKind(StrEnum):
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class EntrySource:
    """The Slack message an entry was made from, and how its text was rendered, to render it again when
    the message is edited."""

    message: MessageRef
    origin: EntryOrigin
    # Whether edits in Slack change the entry: its text is the message's own.
    follows_edits: bool = True
    author_id: str | None = None
    author_fallback: str = ""
    added_by_id: str | None = None
    permalink: str | None = None
    # A pin's generation: 0 the first time the message is pinned on this incident, one more after each
    # un-pin that deleted it (a re-pin gets a fresh token).
    generation: int = 0


@dataclass(frozen=True)
class OwedChange:
    """A change of an entry still owed to AWS: sent after its create, in the order asked, retried like a
    create. An update carries what the event should say; a later one replaces it (a new revision)."""

    kind: ChangeKind
    # The entry's revision once this change is made (an update's clientToken comes from it).
    revision: int
    # The update's content (None for a delete).
    entry: TimelineEntry | None = None
    # Who hears how it ends if their request was answered before it did (opaque, as `notice`).
    notice: str = ""
    # When it was asked for: its give-up clock.
    since: datetime | None = None


class ChangeApplied(StrEnum):
    """What asking the store for a change did."""

    FOLDED = "folded"  # the create had never been attempted: it now says this (nothing more to send)
    CANCELLED = "cancelled"  # a delete of an entry whose create never reached AWS: nothing will be sent
    OWED = "owed"  # recorded as owed; the outbox sends it (after the create, if that is still owed)
    PINNED = "pinned"  # a delete asked only if nobody pins the message: someone still does
    GONE = "gone"  # the entry is not live (deleted, cancelled, failed, unknown): nothing to change


@dataclass(frozen=True)
class StoredEntry:
    entry: TimelineEntry
    state: EntryState
    event_id: str | None
    # Who to tell about the outcome, opaque to the store (the Slack side writes and reads it).
    notice: str = ""
    # Attempts that failed in a way worth retrying, and whether one of them may have reached AWS.
    attempts: int = 0
    uncertain: bool = False
    last_error: str | None = None
    created_at: datetime | None = None
    # When it is next due; while someone sends it, the end of their hold on it.
    next_attempt_at: datetime | None = None
    # The Slack message it was made from, if any.
    source: EntrySource | None = None
    # The change owed to AWS, if any.
    change: OwedChange | None = None
    # The content revision AWS has (or will have once the owed change lands: change.revision).
    revision: int = 0
    # Who pins the message (for an entry a pin made, or one a pin joined).
    pinners: frozenset[str] = frozenset()
    # An attempt went out and its outcome is not recorded yet: it may have reached AWS.
    in_flight: bool = False

    @property
    def live(self) -> bool:
        """On the timeline or on its way, and not being deleted."""
        alive = self.state in (EntryState.PENDING, EntryState.SENT)
        return alive and (self.change is None or self.change.kind is not ChangeKind.DELETE)

    @property
    def user_id(self) -> str | None:
        """Who added it, as its notice says (None when the notice is not one the store can read)."""
        try:
            value = json.loads(self.notice).get("user_id")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and value else None

    @property
    def shown(self) -> TimelineEntry:
        """What the event says, or will say once the owed update lands."""
        change = self.change
        if change is not None and change.kind is ChangeKind.UPDATE and change.entry is not None:
            return change.entry
        return self.entry


@dataclass(frozen=True)
class OwedReply:
    """A second reply owed to one person (the entry landed or finally failed after they heard "saved"):
    kept until it reaches them, or until it has been owed too long."""

    id: str
    client_token: str
    # Who to tell, opaque to the store (as `StoredEntry.notice`), and what.
    notice: str
    reply: str
    landed: bool
    # When it is next due; while someone tells it, the end of their hold on it.
    due_at: datetime
    owed_since: datetime
    # Tries that did not reach the person.
    attempts: int = 0


@dataclass(frozen=True)
class Awaiting:
    """Someone told "saved" about an entry another request recorded (a second pin of one message): they
    are owed its outcome too."""

    id: int
    notice: str


class BindingStore(Protocol):
    async def get_binding(self, team_id: str, channel_id: str) -> Binding | None: ...

    async def put_binding(self, binding: Binding) -> Binding | None:
        """Store the binding; return the one it replaced, if any."""
        ...

    async def delete_binding(self, team_id: str, channel_id: str) -> Binding | None:
        """Remove the binding; return what was removed, if any."""
        ...


class EntryStore(Protocol):
    """Timeline entries, recorded before AWS is asked: the outbox. A pending entry is due for an attempt
    at its `next attempt` time; whoever is sending it holds it (a lease) by moving that time ahead. A change
    owed for an entry (an update, a delete) is due and held the same way, after the entry's create."""

    async def save_entry_once(
        self,
        entry: TimelineEntry,
        notice: str,
        lease_until: datetime,
        source: EntrySource | None = None,
        pinner: str | None = None,
    ) -> StoredEntry:
        """Record the entry, held until `lease_until` by the caller who sends it now. If its token is
        known, return the first one unchanged; one that finally failed is asked for again, so it becomes
        pending again, held by this caller, with this notice. An entry made from a message (`source`) that
        already has a live entry on this incident under another token is not recorded: that one is
        returned (one message, one event per incident). `pinner` is recorded as pinning the entry
        returned, if it is live."""
        ...

    async def entries_for_message(self, message: MessageRef) -> list[StoredEntry]:
        """The live entries made from this message (one per incident): one indexed read."""
        ...

    async def pin_generation(self, message: MessageRef, incident_arn: str) -> int:
        """The generation a new pin of this message on this incident takes: one more than the latest
        pin (or thread) entry of it that was deleted or cancelled, else 0."""
        ...

    async def add_pinner(self, client_token: str, user_id: str) -> StoredEntry | None:
        """Record that this person pins the entry's message; None (nothing recorded) if it is not live."""
        ...

    async def remove_pinner(self, client_token: str, user_id: str) -> StoredEntry | None:
        """This person no longer pins it; the entry as it is then (None if unknown)."""
        ...

    async def request_update(
        self,
        client_token: str,
        content: TimelineEntry,
        notice: str,
        now: datetime,
        *,
        stop_following: bool = False,
        hold_until: datetime | None = None,
    ) -> tuple[ChangeApplied, StoredEntry | None]:
        """Make the live entry say `content` (its type, time and data): folded into its create if that was
        never attempted, else owed as the next revision (replacing an update not yet sent). GONE when
        it is not live. `stop_following`: edits in Slack no longer change it (a person shaped its text).
        `hold_until`: an update due now is held for this caller until then (it sends it itself, through
        `Outbox.deliver_change`), as a create is by `save_entry_once`; else it is due for the sweep."""
        ...

    async def request_delete(
        self,
        client_token: str,
        notice: str,
        now: datetime,
        *,
        unless_pinned: bool = False,
        hold_until: datetime | None = None,
    ) -> tuple[ChangeApplied, StoredEntry | None]:
        """Delete the entry: CANCELLED when its create surely never reached AWS (never attempted, or
        failed in a way that did not land), else OWED (after the create, if it may have landed and is
        still owed). With `unless_pinned`, PINNED (nothing changed) while anyone pins it. `hold_until`
        as for request_update."""
        ...

    async def claim_due_changes(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[StoredEntry]:
        """Sent entries whose owed change is due by `now`, as claim_due does for creates."""
        ...

    async def change_done(
        self, client_token: str, kind: ChangeKind, revision: int, owed: Sequence[OwedReply] = ()
    ) -> StoredEntry | None:
        """Record that AWS made the change (with the replies owed about it): an update of this revision
        becomes what the entry says (a newer one asked meanwhile stays owed, due now); a delete makes it
        DELETED. The entry as it is then."""
        ...

    async def change_failed(
        self,
        client_token: str,
        kind: ChangeKind,
        revision: int,
        reason: str,
        owed: Sequence[OwedReply] = (),
    ) -> StoredEntry | None:
        """Record that the change finally failed: the entry stays as AWS has it. The entry as it is then."""
        ...

    async def get_entry(self, client_token: str) -> StoredEntry | None: ...

    async def renew_lease(
        self, client_token: str, held: datetime | None, until: datetime, *, sending: bool = False
    ) -> bool:
        """Hold a pending entry (or one owing a change) until `until`, if it is still as this caller left it
        (`held`); with `sending`, also mark it in flight (its attempt goes out now, so it may reach AWS).
        False when another worker has taken it since, a change moved it, or nothing is owed any more."""
        ...

    async def mark_sent(
        self,
        client_token: str,
        event_id: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
    ) -> bool:
        """Record that AWS has it, with the replies `owed` (one per person to tell, each held by the caller
        until its `due_at` while it tells them), in one step that also ends the `awaiting` rows the replies
        cover. False, and nothing recorded, when someone not in `awaiting` awaits it: read them and retry."""
        ...

    async def mark_failed(
        self,
        client_token: str,
        reason: str,
        owed: Sequence[OwedReply] = (),
        awaiting: Collection[int] = (),
        *,
        uncertain: bool = False,
    ) -> bool:
        """Record that it finally failed, as mark_sent (over a sent entry nothing is recorded: True). With a
        delete owed and no attempt that may have landed (`uncertain`: the last one may have), it is
        CANCELLED instead: nothing is on the timeline, which is what the delete asked for."""
        ...

    async def add_awaiting(self, client_token: str, notice: str) -> bool:
        """Owe this person the outcome of a pending entry; False (nothing recorded) when it is no longer
        pending: its outcome is known, answer from it."""
        ...

    async def awaiting(self, client_token: str) -> list[Awaiting]:
        """The people awaiting a pending entry's outcome besides its own notice."""
        ...

    async def owe_replies(self, owed: Sequence[OwedReply]) -> None:
        """Keep these replies until they are given (an outcome recorded without them)."""
        ...

    async def owed_replies(self, client_token: str) -> list[OwedReply]:
        """The replies still owed about one entry."""
        ...

    async def claim_owed_replies(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[OwedReply]:
        """Owed replies due by `now` (a retry's time, or its teller's hold ran out), oldest first, each held
        until `lease_until`; ids in `skip` (the caller's own tellers) are left as they are."""
        ...

    async def renew_reply_lease(self, reply_id: str, held: datetime | None, until: datetime) -> bool:
        """Hold an owed reply until `until`, if it is still as this caller left it (`held`): False when
        another teller has taken it since, or it is gone (told)."""
        ...

    async def reschedule_reply(self, reply_id: str, due_at: datetime) -> None:
        """Count a try that did not reach the person; due again at `due_at`."""
        ...

    async def forget_reply(self, reply_id: str) -> None:
        """The reply was given (or given up on)."""
        ...

    async def schedule_retry(
        self, client_token: str, next_attempt_at: datetime, reason: str, uncertain: bool
    ) -> None:
        """Count a failed attempt worth retrying and make the (still pending, or still owing a change)
        entry due again then."""
        ...

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[StoredEntry]:
        """Pending entries due by `now`, oldest first, each held until `lease_until` (atomically, so two
        processes never claim the same entry at once); tokens in `skip` (the caller's own attempts on
        their way) are left as they are."""
        ...

    async def pending_count(self) -> int: ...

    async def prune(self, now: datetime) -> int:
        """Delete what is kept no longer: settled entries (with their notice) past the retention, drafts
        older than a day, remembered deliveries past their window, and replicas long gone. Return how
        many entries were deleted."""
        ...


class DraftStore(Protocol):
    """Full texts of messages too long for a modal's text box, kept while the modal is open."""

    async def save_draft_texts(self, draft_id: str, texts: dict[str, str]) -> None:
        """Keep each full text under the key of what the box showed for it (adds to earlier ones)."""
        ...

    async def draft_text(self, draft_id: str, shown_key: str) -> str | None: ...


class DeliveryStore(Protocol):
    """What has been handled lately, shared by every replica: Slack re-delivers an event (or a request) to
    whichever replica it reaches, and each must know a repeat."""

    async def first_delivery(self, key: str, now: datetime) -> bool:
        """Record `key`; True the first time it is seen within the memory window (about 15 minutes,
        longer than Slack's retries), False for a repeat. Of replicas asking at once, one gets True."""
        ...


class ReplicaStore(Protocol):
    """The replicas serving one database, so each can take its share of the deployment's rate limit."""

    async def heartbeat_replica(self, replica_id: str, live_within: timedelta) -> int:
        """Record that this replica is alive now; return how many replicas (this one included) were seen
        within `live_within`. "Now" is the database's clock, so the hosts' clocks need not agree."""
        ...

    async def release_holds(self, holder: str, now: datetime) -> int:
        """Make due now every pending entry and owed reply `holder` holds: called by a replica starting,
        for what its previous run (the same host and port, so surely gone) held when it was killed.
        Return how many entries."""
        ...

    async def remove_replica(self, replica_id: str) -> None:
        """This replica is stopping: it no longer counts."""
        ...


class Store(BindingStore, EntryStore, DraftStore, DeliveryStore, ReplicaStore, Protocol):
    # Stamped on every hold taken through this store: the replica's name (see ReplicaStore.release_holds).
    holder: str

    async def ping(self) -> None:
        """Raise if the store cannot serve."""
        ...

    async def close(self) -> None: ...
