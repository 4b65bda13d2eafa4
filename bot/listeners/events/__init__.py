from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.events.reaction_added import handle_reaction_added
from bot.listeners.tracking import tracked


def register(app: AsyncApp) -> None:
    app.event("reaction_added")(tracked(handle_reaction_added))
