from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.actions.timeline_more import handle_timeline_more
from bot.listeners.actions.undo_entry import handle_undo_entry
from bot.listeners.tracking import tracked
from bot.presentation.ids import ActionId


def register(app: AsyncApp) -> None:
    app.action(ActionId.TIMELINE_MORE)(tracked(handle_timeline_more))
    app.action(ActionId.UNDO_ENTRY)(tracked(handle_undo_entry))
