"""An entry's lifecycle: the Slack message it was made from (and, while it is live, a key unique per
incident), how it was rendered, its origin and pin generation, the change it owes AWS (an update with its
revision, or a delete), whether an attempt is in flight, and who pins it (entry_pinners).

Existing rows keep everything they had. Entries a pin or the shortcut made before this version are given
their message back from their notice (which names it), so an un-pin or a delete in Slack reaches them too;
they do not follow edits (how their text was rendered is not known), and a pin's pinner is its notice's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.store.schema import Moment

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("message_team", sa.Text()),
    sa.Column("message_channel", sa.Text()),
    sa.Column("message_ts", sa.Text()),
    sa.Column("live_message", sa.Text()),
    sa.Column("origin", sa.Text()),
    sa.Column("follows_edits", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("generation", sa.Integer()),
    sa.Column("render", sa.Text()),
    sa.Column("revision", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("change", sa.Text()),
    sa.Column("change_type", sa.Text()),
    sa.Column("change_time", Moment()),
    sa.Column("change_data", sa.Text()),
    sa.Column("change_notice", sa.Text()),
    sa.Column("change_since", Moment()),
    sa.Column("in_flight", sa.Boolean(), nullable=False, server_default=sa.false()),
)
# The notice kinds (bot.usecases.outbox.NoticeKind) that name the message an entry was made from.
_ORIGIN_OF_NOTICE = {"pin": "pin", "capture": "shortcut"}
_LIVE = ("pending", "sent")


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column("timeline_entries", column)
    op.create_table(
        "entry_pinners",
        sa.Column("client_token", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("pinned_at", Moment(), nullable=False),
    )
    _give_messages_back(op.get_bind())
    op.create_index("entries_live", "timeline_entries", ["live_message", "incident_arn"], unique=True)
    op.create_index(
        "entries_by_message", "timeline_entries", ["message_team", "message_channel", "message_ts"]
    )


def _give_messages_back(connection: sa.Connection) -> None:
    """Entries made from a message before this revision: their message, origin, live key and pinner."""
    rows = connection.execute(
        sa.text(
            "SELECT client_token, incident_arn, notice, state, created_at FROM timeline_entries "
            "WHERE notice LIKE :named ORDER BY created_at, client_token"
        ),
        {"named": '%"message_ts":"%'},
    ).all()
    taken: set[tuple[str, str]] = set()
    for row in rows:
        try:
            notice: dict[str, Any] = json.loads(row.notice)
        except ValueError:
            continue
        origin = _ORIGIN_OF_NOTICE.get(str(notice.get("kind")))
        team, channel, ts = notice.get("team_id"), notice.get("channel_id"), notice.get("message_ts")
        if origin is None or not all(isinstance(part, str) and part for part in (team, channel, ts)):
            continue
        key = f"{team}/{channel}/{ts}"
        # The first live one of a message keeps the key (shortcut-then-pin made two before this version).
        live = row.state in _LIVE and (key, row.incident_arn) not in taken
        if live:
            taken.add((key, row.incident_arn))
        connection.execute(
            sa.text(
                "UPDATE timeline_entries SET message_team = :team, message_channel = :channel, "
                "message_ts = :ts, origin = :origin, generation = :generation, live_message = :live "
                "WHERE client_token = :token"
            ),
            {
                "team": team,
                "channel": channel,
                "ts": ts,
                "origin": origin,
                "generation": 0 if origin == "pin" else None,
                "live": key if live else None,
                "token": row.client_token,
            },
        )
        user = notice.get("user_id")
        if origin == "pin" and isinstance(user, str) and user:
            connection.execute(
                sa.text(
                    "INSERT INTO entry_pinners (client_token, user_id, pinned_at) "
                    "VALUES (:token, :user, :at) ON CONFLICT DO NOTHING"
                ),
                {"token": row.client_token, "user": user, "at": row.created_at},
            )


def downgrade() -> None:
    op.drop_index("entries_by_message", "timeline_entries")
    op.drop_index("entries_live", "timeline_entries")
    op.drop_table("entry_pinners")
    with op.batch_alter_table("timeline_entries") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column.name)
