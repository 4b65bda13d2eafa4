"""Remember Slack deliveries handled lately in the database, so every replica knows a repeat.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import Moment

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("delivery_key", sa.Text(), primary_key=True),
        sa.Column("seen_at", Moment(), nullable=False),
    )
    op.create_index("deliveries_by_age", "deliveries", ["seen_at"])


def downgrade() -> None:
    op.drop_table("deliveries")
