from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.shortcuts.add_to_timeline import handle_add_to_timeline
from bot.listeners.tracking import tracked

CALLBACK_ID = "add_to_timeline"


def register(app: AsyncApp) -> None:
    app.message_shortcut(CALLBACK_ID)(tracked(handle_add_to_timeline))
