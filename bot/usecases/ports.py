"""What the use cases need from the outside, as small Protocols: the adapters (store, AWS gateway, Slack
API) implement them, and the use cases never see an SDK."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.domain.binding import Binding
from bot.domain.timeline import TimelineEntry

# Incident Manager


@dataclass(frozen=True)
class IncidentSummary:
    arn: str
    title: str
    status: str
    impact: int | None
    resolved_time: datetime | None

    @property
    def is_resolved(self) -> bool:
        return self.status == "RESOLVED"


class IncidentGateway(Protocol):
    """Incident Manager. Failures are raised as `bot.usecases.errors.IncidentManagerError` (its subclasses
    `IncidentNotFound` and `OutcomeUnknown`), or `NotSent`; never as an SDK's exception."""

    @property
    def region(self) -> str | None: ...

    async def get_incident(self, arn: str) -> IncidentSummary: ...

    async def create_timeline_event(
        self, entry: TimelineEntry, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        """Create the event; return its eventId. `before_send` runs once the call's turn under the rate
        limit has come; if it answers False, nothing is sent (NotSent)."""
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
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


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
    # When it is next due; while someone sends it (or tells its person), the end of their hold on it.
    next_attempt_at: datetime | None = None
    # The second reply its person is still owed (it landed or finally failed after they heard "queued").
    reply_pending: str | None = None


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
    at its `next attempt` time; whoever is sending it holds it (a lease) by moving that time ahead."""

    async def save_entry_once(self, entry: TimelineEntry, notice: str, lease_until: datetime) -> StoredEntry:
        """Record the entry, held until `lease_until` by the caller who sends it now. If its token is
        known, return the first one unchanged; one that finally failed is asked for again, so it becomes
        pending again, held by this caller, with this notice."""
        ...

    async def get_entry(self, client_token: str) -> StoredEntry | None: ...

    async def renew_lease(self, client_token: str, held: datetime | None, until: datetime) -> bool:
        """Hold a pending entry until `until`, if it is still as this caller left it (`held`): False when
        another worker has taken it since, or it is no longer pending."""
        ...

    async def mark_sent(
        self, client_token: str, event_id: str, reply: str | None = None, hold_until: datetime | None = None
    ) -> None:
        """Record that AWS has it; `reply` is the second reply its person is owed, which the caller holds
        until `hold_until` while it tells them (another worker tells them if that hold runs out)."""
        ...

    async def mark_failed(
        self, client_token: str, reason: str, reply: str | None = None, hold_until: datetime | None = None
    ) -> None:
        """Record that it finally failed (never over a sent entry); `reply` as for mark_sent."""
        ...

    async def mark_told(self, client_token: str) -> None:
        """The owed reply has been given."""
        ...

    async def claim_untold(self, now: datetime, lease_until: datetime, limit: int) -> list[StoredEntry]:
        """Settled entries whose owed reply is due (its teller's hold ran out: a stop, a crash), each
        held until `lease_until`."""
        ...

    async def schedule_retry(
        self, client_token: str, next_attempt_at: datetime, reason: str, uncertain: bool
    ) -> None:
        """Count a failed attempt worth retrying and make the (still pending) entry due again then."""
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
        older than a day, and remembered deliveries past their window. Return how many entries were
        deleted."""
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


class Store(BindingStore, EntryStore, DraftStore, DeliveryStore, Protocol):
    async def ping(self) -> None:
        """Raise if the store cannot serve."""
        ...

    async def close(self) -> None: ...
