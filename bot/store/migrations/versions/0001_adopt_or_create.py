"""The first schema under Alembic: create it, or adopt a SQLite database written before migrations.

A database from an earlier version already has its tables (bindings, timeline_entries, drafts), perhaps
without the outbox's columns: those are added in place, and nothing is dropped or rewritten, so every
binding, pending entry and owed reply carries over.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import Moment

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OWED = sa.text("reply_pending IS NOT NULL")


def _outbox_columns() -> list[sa.Column[object]]:
    # Added to timeline_entries since its first release.
    return [
        sa.Column("notice", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("uncertain", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("next_attempt_at", Moment()),
        sa.Column("reply_pending", sa.Text()),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "bindings" not in tables:
        op.create_table(
            "bindings",
            sa.Column("team_id", sa.Text(), nullable=False),
            sa.Column("channel_id", sa.Text(), nullable=False),
            sa.Column("incident_arn", sa.Text(), nullable=False),
            sa.Column("incident_title", sa.Text(), nullable=False),
            sa.Column("bound_by", sa.Text(), nullable=False),
            sa.Column("bound_at", Moment(), nullable=False),
            sa.PrimaryKeyConstraint("team_id", "channel_id"),
        )
    if "timeline_entries" not in tables:
        op.create_table(
            "timeline_entries",
            sa.Column("client_token", sa.Text(), primary_key=True),
            sa.Column("incident_arn", sa.Text(), nullable=False),
            sa.Column("event_type", sa.Text(), nullable=False),
            sa.Column("event_time", Moment(), nullable=False),
            sa.Column("event_data", sa.Text(), nullable=False),
            sa.Column("state", sa.Text(), nullable=False),
            sa.Column("event_id", sa.Text()),
            sa.Column("last_error", sa.Text()),
            sa.Column("created_at", Moment(), nullable=False),
            sa.Column("updated_at", Moment(), nullable=False),
            *_outbox_columns(),
        )
    else:
        present = {column["name"] for column in inspector.get_columns("timeline_entries")}
        missing = [column for column in _outbox_columns() if column.name not in present]
        for column in missing:
            op.add_column("timeline_entries", column)
        # (reply_pending alone may be missing too: the version with owed_replies no longer creates it.)
        if {"notice", "attempts", "uncertain", "next_attempt_at"} - present:
            # The version before the outbox told the person what happened to these (it retried nothing
            # itself), and they carry no one to tell: closed, not resumed.
            op.execute(
                sa.text(
                    "UPDATE timeline_entries SET state = 'failed', "
                    "last_error = 'left pending by an earlier version' WHERE state = 'pending'"
                )
            )
    if "drafts" not in tables:
        op.create_table(
            "drafts",
            sa.Column("draft_id", sa.Text(), nullable=False),
            sa.Column("shown_key", sa.Text(), nullable=False),
            sa.Column("full_text", sa.Text(), nullable=False),
            sa.Column("created_at", Moment(), nullable=False),
            sa.PrimaryKeyConstraint("draft_id", "shown_key"),
        )

    indexes = {
        index["name"]
        for table in ("timeline_entries", "drafts")
        if table in tables
        for index in inspector.get_indexes(table)
    }
    if "entries_due" not in indexes:
        op.create_index("entries_due", "timeline_entries", ["state", "next_attempt_at"])
    if "entries_owed" not in indexes:
        op.create_index(
            "entries_owed", "timeline_entries", ["next_attempt_at"], sqlite_where=OWED, postgresql_where=OWED
        )
    if "entries_by_age" not in indexes:
        op.create_index("entries_by_age", "timeline_entries", ["updated_at"])
    if "drafts_by_age" not in indexes:
        op.create_index("drafts_by_age", "drafts", ["created_at"])


def downgrade() -> None:
    # The first revision: going below it means no bot schema at all.
    for table in ("drafts", "timeline_entries", "bindings"):
        op.drop_table(table)
