"""Reading a message back from Slack, linking to it, and marking it once it is on the timeline."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import slack_error_code
from bot.usecases.errors import MessageNotFound, MessageUnreadable

logger = logging.getLogger(__name__)

_GONE = {"message_not_found", "thread_not_found"}
# Slack would answer the same way every time: the token cannot read this channel's history.
_NOT_PERMITTED = {"missing_scope", "not_allowed_token_type", "no_permission", "access_denied"}


def _exactly(messages: Any, ts: str) -> dict[str, Any] | None:
    for message in messages or []:
        if isinstance(message, dict) and message.get("ts") == ts:
            return message
    return None


async def fetch_message(client: AsyncWebClient, channel_id: str, ts: str) -> dict[str, Any]:
    """The message as it is now (edits included), whether top level or a reply in a thread."""
    try:
        # Slack's way to read one top-level message: the range [ts, ts].
        history = await client.conversations_history(
            channel=channel_id, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        found = _exactly(history.get("messages"), ts)
        if found is not None:
            return found
        # Thread replies are not in the channel's history; the thread holds them.
        thread = await client.conversations_replies(
            channel=channel_id, ts=ts, latest=ts, oldest=ts, inclusive=True
        )
    except SlackApiError as error:
        code = slack_error_code(error)
        if code in _GONE:
            raise MessageNotFound() from error
        if code in _NOT_PERMITTED:
            raise MessageUnreadable(code) from error
        raise
    found = _exactly(thread.get("messages"), ts)
    if found is None:
        raise MessageNotFound()
    return found


async def permalink_of(client: AsyncWebClient, channel_id: str, ts: str) -> str | None:
    """A link back to the message; None (and a log line) when Slack can't give one right now."""
    try:
        response = await client.chat_getPermalink(channel=channel_id, message_ts=ts)
    except Exception as error:  # noqa: BLE001 - the entry is worth adding without its link
        logger.warning("no permalink", extra={"channel": channel_id, "ts": ts, "error": str(error)[:200]})
        return None
    permalink = response.get("permalink")
    return permalink if isinstance(permalink, str) and permalink.startswith("https://") else None


async def mark_added(client: AsyncWebClient, channel_id: str, ts: str, reaction: str | None) -> bool:
    """React on the message so the channel sees it is on the timeline; False when it carries no mark
    (turned off, or Slack refused)."""
    if not reaction:
        return False
    try:
        await client.reactions_add(channel=channel_id, timestamp=ts, name=reaction)
    except Exception as error:  # noqa: BLE001 - the entry is on the timeline; the mark is a courtesy
        if isinstance(error, SlackApiError) and slack_error_code(error) == "already_reacted":
            return True
        logger.warning("could not mark the message", extra={"channel": channel_id, "error": str(error)[:200]})
        return False
    return True


async def unmark_added(client: AsyncWebClient, channel_id: str, ts: str, reaction: str | None) -> bool:
    """Take the mark off the message once it is no longer on the timeline; False when it could not be
    taken off (Slack refused; a mark that was not there, or a message that is gone, counts as taken off)."""
    if not reaction:
        return True
    try:
        await client.reactions_remove(channel=channel_id, timestamp=ts, name=reaction)
    except Exception as error:  # noqa: BLE001 - the timeline is right; the mark is a courtesy
        if isinstance(error, SlackApiError) and slack_error_code(error) in {"no_reaction", *_GONE}:
            return True
        logger.warning(
            "could not unmark the message", extra={"channel": channel_id, "error": str(error)[:200]}
        )
        return False
    return True
