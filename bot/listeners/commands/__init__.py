from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.commands.incident_note import handle_incident_note
from bot.listeners.tracking import tracked
from bot.presentation.ids import COMMAND


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(tracked(handle_incident_note))
