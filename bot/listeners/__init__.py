"""Bolt listeners, one plain handler per module, registered here."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, events, options, shortcuts, views


def register_listeners(app: AsyncApp) -> None:
    commands.register(app)
    shortcuts.register(app)
    events.register(app)
    views.register(app)
    options.register(app)
    actions.register(app)
