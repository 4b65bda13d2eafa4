from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.tracking import tracked
from bot.listeners.views.compose_submission import handle_compose_submission
from bot.slack.views import COMPOSE_CALLBACK_ID


def register(app: AsyncApp) -> None:
    app.view(COMPOSE_CALLBACK_ID)(tracked(handle_compose_submission))
