"""The replicas serving this database, each seen lately (its heartbeat): the deployment's rate limit
towards Incident Manager is divided among those live. And who holds each held entry and owed reply, so a
replica restarted after `kill -9` takes back at once what its previous run held.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import Moment

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("replica_id", sa.Text(), primary_key=True),
        sa.Column("started_at", Moment(), nullable=False),
        sa.Column("seen_at", Moment(), nullable=False),
    )
    op.create_index("replicas_by_seen", "replicas", ["seen_at"])
    # Added as nullable columns: a replica of the previous version, still running during a rolling
    # deploy, writes rows without them, which only means they are not taken back early.
    op.add_column("timeline_entries", sa.Column("held_by", sa.Text(), nullable=True))
    op.add_column("owed_replies", sa.Column("held_by", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("owed_replies") as table:
        table.drop_column("held_by")
    with op.batch_alter_table("timeline_entries") as table:
        table.drop_column("held_by")
    op.drop_table("replicas")
