"""Message shortcut "Add to timeline".

The capture modal is not built yet (see the capture issue); until then the shortcut acks and tells the
person plainly how to add the message today, instead of failing with Slack's generic error.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deps import deps_of
from bot.slack.replies import Replier


async def handle_add_to_timeline(
    ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    channel_id = str((shortcut.get("channel") or {}).get("id") or "")
    user_id = str((shortcut.get("user") or {}).get("id") or "")
    replier = Replier(
        client, channel_id, user_id, response_url=shortcut.get("response_url"), session=deps_of(context).http
    )
    await replier.send(messages.shortcut_not_available())
