"""The tables, as SQLAlchemy Core sees them (the migrations in `migrations/` create them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    Boolean,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine


class Moment(TypeDecorator[datetime]):
    """An aware instant. PostgreSQL keeps a `timestamptz`; SQLite keeps text in one fixed format (UTC,
    microseconds), the one earlier versions wrote, so comparing the text orders like time."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps aware datetimes only")
        if dialect.name == "postgresql":
            return value
        return iso(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            # Rows from earlier versions may hold isoformat()'s shorter forms; all carry their offset.
            return datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


metadata = MetaData()

bindings = Table(
    "bindings",
    metadata,
    Column("team_id", Text, primary_key=True),
    Column("channel_id", Text, primary_key=True),
    Column("incident_arn", Text, nullable=False),
    Column("incident_title", Text, nullable=False),
    Column("bound_by", Text, nullable=False),
    Column("bound_at", Moment, nullable=False),
)

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("client_token", Text, primary_key=True),
    Column("incident_arn", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("event_time", Moment, nullable=False),
    Column("event_data", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("event_id", Text),
    Column("last_error", Text),
    Column("created_at", Moment, nullable=False),
    # When it last changed; for a settled entry, when it settled (retention counts from here).
    Column("updated_at", Moment, nullable=False),
    # Who to tell about the outcome (opaque JSON written by the Slack side).
    Column("notice", Text, nullable=False, server_default=text("''")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("uncertain", Boolean, nullable=False, server_default=false()),
    # Pending: when it is next due, or the end of its sender's lease. Settled: NULL.
    Column("next_attempt_at", Moment),
    # Where versions before owed_replies kept the one reply owed (left in place, emptied: an older replica
    # may still write it during a rolling upgrade, and each start moves it on).
    Column("reply_pending", Text),
    # The lifecycle (revision 0004). The Slack message it was made from (NULL for a typed entry) and, while
    # the entry is live (pending or sent, no delete owed), that message's key: unique per incident, so one
    # message has one event per incident whichever way it came in.
    Column("message_team", Text),
    Column("message_channel", Text),
    Column("message_ts", Text),
    Column("live_message", Text),
    Column("origin", Text),
    Column("follows_edits", Boolean, nullable=False, server_default=false()),
    # A pin's generation (pins and thread entries; NULL otherwise): a re-pin after an un-pin is one more.
    Column("generation", Integer),
    # How its text was rendered (JSON: author, who added it, permalink), to render an edit the same way.
    Column("render", Text),
    # The content revision AWS has or is owed; the change owed (update | delete), its content and notice.
    Column("revision", Integer, nullable=False, server_default=text("0")),
    Column("change", Text),
    Column("change_type", Text),
    Column("change_time", Moment),
    Column("change_data", Text),
    Column("change_notice", Text),
    Column("change_since", Moment),
    # An attempt went out and its outcome is not recorded: it may have reached AWS.
    Column("in_flight", Boolean, nullable=False, server_default=false()),
)

# Who pins an entry's message (revision 0004): the last one to take the pin off deletes an entry a pin made.
entry_pinners = Table(
    "entry_pinners",
    metadata,
    Column("client_token", Text, primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("pinned_at", Moment, nullable=False),
)

# One row per person still owed a second reply about an entry (it landed or finally failed after they heard
# "saved"): written in the transaction that settles the entry, deleted once told or given up on. due_at is
# when it is next tried and, while a teller works on it, the end of that teller's hold (revision 0003).
owed_replies = Table(
    "owed_replies",
    metadata,
    Column("id", Text, primary_key=True),
    Column("client_token", Text, nullable=False),
    Column("notice", Text, nullable=False),
    Column("reply", Text, nullable=False),
    Column("landed", Boolean, nullable=False),
    Column("due_at", Moment, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("owed_since", Moment, nullable=False),
)

# People told "saved" about an entry another request recorded (a second pin): settling the entry turns
# each into an owed reply, and is refused while someone awaits it whom the caller wrote no reply for.
awaiting_replies = Table(
    "awaiting_replies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_token", Text, nullable=False),
    Column("notice", Text, nullable=False),
    UniqueConstraint("client_token", "notice"),
    # Ids never reused: a caller's list of who awaits stays a true picture of who it has answered for.
    sqlite_autoincrement=True,
)

drafts = Table(
    "drafts",
    metadata,
    Column("draft_id", Text, primary_key=True),
    Column("shown_key", Text, primary_key=True),
    Column("full_text", Text, nullable=False),
    Column("created_at", Moment, nullable=False),
)

# Slack deliveries (event ids, command triggers) handled lately, so a repeat reaching another replica is
# known as one (revision 0002).
deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_key", Text, primary_key=True),
    Column("seen_at", Moment, nullable=False),
)

# The sweep's look-ups, so that they never scan the settled history: pending entries by due time (also
# pending_count), owed replies by due time (a partial index: only the few rows still owing one), and what
# retention deletes, by age.
ENTRIES_DUE = Index("entries_due", timeline_entries.c.state, timeline_entries.c.next_attempt_at)
# (Owed replies kept on their entry, by earlier versions: only ever a few rows.)
ENTRIES_OWED = Index(
    "entries_owed",
    timeline_entries.c.next_attempt_at,
    sqlite_where=timeline_entries.c.reply_pending.is_not(None),
    postgresql_where=timeline_entries.c.reply_pending.is_not(None),
)
# One live entry per message and incident; and the look-up of a message's entries (edits, deletes, pins).
ENTRIES_LIVE = Index(
    "entries_live", timeline_entries.c.live_message, timeline_entries.c.incident_arn, unique=True
)
ENTRIES_BY_MESSAGE = Index(
    "entries_by_message",
    timeline_entries.c.message_team,
    timeline_entries.c.message_channel,
    timeline_entries.c.message_ts,
)
ENTRIES_BY_AGE = Index("entries_by_age", timeline_entries.c.updated_at)
DRAFTS_BY_AGE = Index("drafts_by_age", drafts.c.created_at)
DELIVERIES_BY_AGE = Index("deliveries_by_age", deliveries.c.seen_at)
OWED_REPLIES_DUE = Index("owed_replies_due", owed_replies.c.due_at)
OWED_REPLIES_BY_ENTRY = Index("owed_replies_by_entry", owed_replies.c.client_token)
