"""Reading a message (or a whole thread) back from Slack, linking to it, and marking it once it is on
the timeline."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import slack_error_code
from bot.usecases.errors import MessageNotFound, MessageUnreadable

logger = logging.getLogger(__name__)

_GONE = {"message_not_found", "thread_not_found"}
# Slack would answer the same way every time: the token cannot read this channel's history.
_NOT_PERMITTED = {"missing_scope", "not_allowed_token_type", "no_permission", "access_denied"}
# conversations.replies' page size: Slack's default and most (internal apps; Marketplace-less commercial
# apps get 15 a page, at one call a minute, since 2025: a thread is read the same way, just slower).
THREAD_PAGE_SIZE = 1000
_TS = re.compile(r"\d{1,12}\.\d{1,9}")


def _exactly(messages: Any, ts: str) -> dict[str, Any] | None:
    for message in messages or []:
        if isinstance(message, dict) and message.get("ts") == ts:
            return message
    return None


def _read_error(error: SlackApiError) -> Exception:
    code = slack_error_code(error)
    if code in _GONE:
        return MessageNotFound()
    if code in _NOT_PERMITTED:
        return MessageUnreadable(code)
    return error


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
        mapped = _read_error(error)
        if mapped is error:
            raise
        raise mapped from error
    found = _exactly(thread.get("messages"), ts)
    if found is None:
        raise MessageNotFound()
    return found


@dataclass(frozen=True)
class Thread:
    """A thread as Slack holds it now: the parent first, then every reply oldest first, each once."""

    messages: list[dict[str, Any]]
    # More pages than `max_pages` allowed were left unread (a thread longer than anyone adds at once).
    truncated: bool = False


async def read_thread(client: AsyncWebClient, channel_id: str, ts: str, *, max_pages: int = 10) -> Thread:
    """The thread `ts` is in (its parent or any reply; a message with no thread is a thread of one), read
    page by page with Slack's cursor. Slack heads every page with the parent: it is kept once."""
    seen: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    for _ in range(max_pages):
        try:
            page = await client.conversations_replies(
                channel=channel_id, ts=ts, limit=THREAD_PAGE_SIZE, cursor=cursor
            )
        except SlackApiError as error:
            mapped = _read_error(error)
            if mapped is error:
                raise
            raise mapped from error
        for message in page.get("messages") or []:
            if isinstance(message, dict) and _TS.fullmatch(str(message.get("ts") or "")):
                seen.setdefault(message["ts"], message)
        metadata = page.get("response_metadata") or {}
        cursor = str(metadata.get("next_cursor") or "") or None
        if not page.get("has_more") or cursor is None:
            return Thread(_in_order(seen))
    return Thread(_in_order(seen), truncated=True)


def _in_order(messages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    # Slack's ts is seconds.micros with six digits: as a Decimal it orders exactly, as a float it may not.
    return sorted(messages.values(), key=lambda message: Decimal(message["ts"]))


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
