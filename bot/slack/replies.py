"""Replies to the person who acted: response_url first, then chat.postEphemeral in the channel, then a
direct message from the app (when the bot cannot post in the channel), so an outcome is never lost."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

logger = logging.getLogger(__name__)


def retry_after(status: int, headers: Mapping[str, Any] | None) -> float | None:
    """Seconds Slack asked to wait before trying again (a 429's Retry-After), if it asked."""
    if status != 429 or not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(text))
            except (TypeError, ValueError):
                return None
    return None


async def respond(
    response_url: str,
    text: str,
    session: aiohttp.ClientSession | None = None,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> bool:
    """An ephemeral reply through the request's response_url; False (and a log line) if Slack refused it."""
    reached, _ = await _respond(response_url, text, session, blocks)
    return reached


async def replace_original(
    response_url: str,
    text: str,
    session: aiohttp.ClientSession | None = None,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> bool:
    """Replace the message the person acted on (a button's) with this one; False if Slack refused it."""
    reached, _ = await _respond(response_url, text, session, blocks, replace=True)
    return reached


async def _respond(
    response_url: str,
    text: str,
    session: aiohttp.ClientSession | None,
    blocks: Sequence[dict[str, Any]] | None = None,
    *,
    replace: bool = False,
) -> tuple[bool, float | None]:
    """Whether the reply got through, and when it did not, Slack's Retry-After (if it gave one)."""
    try:
        webhook = AsyncWebhookClient(response_url, session=session)
        response = await webhook.send(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=replace
        )
        if response.status_code == 200:
            return True, None
        logger.info("response_url refused", extra={"status": response.status_code, "body": response.body})
        return False, retry_after(response.status_code, response.headers)
    except Exception as error:  # noqa: BLE001 - the caller falls back to the next way, if any
        logger.info("response_url failed", extra={"error": str(error)[:200]})
    return False, None


def _api_retry_after(error: Exception) -> float | None:
    if isinstance(error, SlackApiError) and error.response is not None:
        return retry_after(error.response.status_code, error.response.headers)
    return None


class Replier:
    def __init__(
        self,
        client: AsyncWebClient,
        channel_id: str,
        user_id: str,
        *,
        response_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._client = client
        self._channel_id = channel_id
        self._user_id = user_id
        self._response_url = response_url
        # A shared session: one kept-alive connection for many replies instead of one handshake each.
        self._session = session
        # After a send that reached no one: the longest wait Slack asked for (rate limited), if any.
        self.retry_after: float | None = None

    def _asked_to_wait(self, seconds: float | None) -> None:
        if seconds is not None:
            self.retry_after = max(self.retry_after or 0.0, seconds)

    async def replace(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> bool:
        """Put the reply in place of the message the person acted on (through the response_url); when that
        is not possible, deliver it as a new reply."""
        self.retry_after = None
        if self._response_url:
            reached, wait = await _respond(self._response_url, text, self._session, blocks, replace=True)
            if reached:
                return True
            self._asked_to_wait(wait)
        return await self.send(text, blocks)

    async def send(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> bool:
        """Deliver the reply (`text` is the notification's when there are `blocks`); return False (and log)
        when no way reached the person."""
        self.retry_after = None
        if self._response_url:
            reached, wait = await _respond(self._response_url, text, self._session, blocks)
            if reached:
                return True
            self._asked_to_wait(wait)
        try:
            await self._client.chat_postEphemeral(
                channel=self._channel_id, user=self._user_id, text=text, blocks=blocks
            )
            return True
        except Exception as error:  # noqa: BLE001 - e.g. not_in_channel: a direct message still reaches them
            self._asked_to_wait(_api_retry_after(error))
            logger.info("chat.postEphemeral failed", extra={"error": str(error)[:200]})
        try:
            await self._client.chat_postMessage(channel=self._user_id, text=text, blocks=blocks)
            return True
        except Exception as error:  # noqa: BLE001 - nothing else to try; the log keeps the reply
            self._asked_to_wait(_api_retry_after(error))
            logger.warning(
                "could not deliver a reply",
                extra={
                    "channel": self._channel_id,
                    "user": self._user_id,
                    "error": str(error)[:200],
                    "reply": text,
                },
            )
            return False
