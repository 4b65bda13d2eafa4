"""`reaction_added`: acknowledged so Slack does not retry; pinning a message by reaction is not built yet
(see the capture issue)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

logger = logging.getLogger(__name__)


async def handle_reaction_added(event: dict[str, Any], context: AsyncBoltContext) -> None:
    logger.debug("reaction ignored", extra={"reaction": event.get("reaction")})
