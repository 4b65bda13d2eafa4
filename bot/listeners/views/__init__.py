from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.tracking import tracked
from bot.listeners.views.bind_picker_submission import handle_bind_picker_submission
from bot.listeners.views.capture_submission import handle_capture_submission
from bot.listeners.views.compose_submission import handle_compose_submission
from bot.presentation.ids import CallbackId


def register(app: AsyncApp) -> None:
    app.view(CallbackId.COMPOSE)(tracked(handle_compose_submission))
    app.view(CallbackId.CAPTURE)(tracked(handle_capture_submission))
    app.view(CallbackId.BIND_PICKER)(tracked(handle_bind_picker_submission))
