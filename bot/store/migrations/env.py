"""Alembic's entry point. The bot runs it on a connection it has already locked (see
`bot.store.migrate`), inside that connection's transaction, so a migration is all or nothing."""

from __future__ import annotations

from alembic import context

from bot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m bot migrate`: it takes the lock first")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
