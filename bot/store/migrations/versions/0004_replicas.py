"""The replicas serving this database, each seen lately (its heartbeat): the deployment's rate limit
towards Incident Manager is divided among those live.

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


def downgrade() -> None:
    op.drop_table("replicas")
