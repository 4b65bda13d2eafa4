from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.shortcuts.add_thread_to_timeline import handle_add_thread_to_timeline
from bot.listeners.shortcuts.add_to_timeline import handle_add_to_timeline
from bot.listeners.tracking import tracked
from bot.presentation.ids import CallbackId


def register(app: AsyncApp) -> None:
    app.message_shortcut(CallbackId.ADD_TO_TIMELINE)(tracked(handle_add_to_timeline))
    app.message_shortcut(CallbackId.ADD_THREAD_TO_TIMELINE)(tracked(handle_add_thread_to_timeline))
