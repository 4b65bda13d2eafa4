from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.shortcuts.add_to_timeline import handle_add_to_timeline

CALLBACK_ID = "add_to_timeline"


def register(app: AsyncApp) -> None:
    app.message_shortcut(CALLBACK_ID)(handle_add_to_timeline)
