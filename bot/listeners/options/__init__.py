from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.options.incident_search import handle_incident_search
from bot.listeners.tracking import tracked
from bot.presentation.ids import ActionId


def register(app: AsyncApp) -> None:
    app.options(ActionId.INCIDENT_SEARCH)(tracked(handle_incident_search))
