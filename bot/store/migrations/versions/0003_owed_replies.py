"""Owed replies per person (owed_replies) and the people awaiting an entry (awaiting_replies); each reply
kept on its entry by the previous schema moves there. A SQLite file the version before Alembic wrote may
have both tables already: they are adopted as they are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.legacy import move_replies_left_on_entries
from bot.store.schema import Moment

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "owed_replies" not in tables:
        op.create_table(
            "owed_replies",
            sa.Column("id", sa.Text(), primary_key=True),
            sa.Column("client_token", sa.Text(), nullable=False),
            sa.Column("notice", sa.Text(), nullable=False),
            sa.Column("reply", sa.Text(), nullable=False),
            sa.Column("landed", sa.Boolean(), nullable=False),
            sa.Column("due_at", Moment(), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
            sa.Column("owed_since", Moment(), nullable=False),
        )
    if "awaiting_replies" not in tables:
        op.create_table(
            "awaiting_replies",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("client_token", sa.Text(), nullable=False),
            sa.Column("notice", sa.Text(), nullable=False),
            sa.UniqueConstraint("client_token", "notice"),
            sqlite_autoincrement=True,
        )
    indexes = (
        {index["name"] for index in inspector.get_indexes("owed_replies")}
        if "owed_replies" in tables
        else set()
    )
    if "owed_replies_due" not in indexes:
        op.create_index("owed_replies_due", "owed_replies", ["due_at"])
    if "owed_replies_by_entry" not in indexes:
        op.create_index("owed_replies_by_entry", "owed_replies", ["client_token"])
    move_replies_left_on_entries(op.get_bind())


def downgrade() -> None:
    op.drop_table("awaiting_replies")
    op.drop_table("owed_replies")
