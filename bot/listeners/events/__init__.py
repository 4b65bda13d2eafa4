from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.listeners.events.message import handle_message
from bot.listeners.events.reaction_added import handle_reaction_added
from bot.listeners.events.reaction_removed import handle_reaction_removed
from bot.listeners.tracking import tracked

logger = logging.getLogger(__name__)


async def ignore_event(event: dict[str, Any], body: dict[str, Any]) -> None:
    logger.info(
        "event ignored", extra={"event_type": str(event.get("type")), "team": str(body.get("team_id"))}
    )


def register(app: AsyncApp) -> None:
    app.event("reaction_added")(tracked(handle_reaction_added))
    app.event("reaction_removed")(tracked(handle_reaction_removed))
    # Every `message` event, subtypes included (`app.message()` skips message_changed/message_deleted):
    # the listener drops the many that don't concern the timeline before reading anything.
    app.event("message")(tracked(handle_message))
    # Last: any other event is acked 200, so Slack neither retries it nor counts it as a failed delivery
    # (too many of those and Slack turns the app's event subscriptions off, pins included).
    app.event(re.compile(".*"))(ignore_event)
