"""What versions before the owed_replies table left on an entry, moved to where this version looks."""

from __future__ import annotations

from sqlalchemy import Connection, text

# Each reply kept on its entry becomes an owed reply (id "entry:<token>", so moving twice moves it once),
# due when its teller's hold ended (or at once), and the entry's column is emptied. Through the partial
# index entries_owed, so it costs nothing when there is nothing to move.
_MOVE = (
    "INSERT INTO owed_replies (id, client_token, notice, reply, landed, due_at, attempts, owed_since) "
    "SELECT 'entry:' || client_token, client_token, notice, reply_pending, state = 'sent', "
    "COALESCE(next_attempt_at, updated_at), 0, updated_at FROM timeline_entries "
    "WHERE reply_pending IS NOT NULL AND state != 'pending' ON CONFLICT DO NOTHING"
)
_EMPTY = (
    "UPDATE timeline_entries SET reply_pending = NULL, next_attempt_at = NULL "
    "WHERE reply_pending IS NOT NULL AND state != 'pending'"
)


def move_replies_left_on_entries(connection: Connection) -> int:
    """In the caller's transaction; returns how many entries had one."""
    connection.execute(text(_MOVE))
    return connection.execute(text(_EMPTY)).rowcount
