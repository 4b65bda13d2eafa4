"""Replies to the person who acted: response_url first, then chat.postEphemeral in the channel, then a
direct message from the app (when the bot cannot post in the channel), so an outcome is never lost."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

logger = logging.getLogger(__name__)


async def respond(response_url: str, text: str, session: aiohttp.ClientSession | None = None) -> bool:
    """An ephemeral reply through the request's response_url; False (and a log line) if Slack refused it."""
    try:
        webhook = AsyncWebhookClient(response_url, session=session)
        response = await webhook.send(text=text, response_type="ephemeral", replace_original=False)
        if response.status_code == 200:
            return True
        logger.info("response_url refused", extra={"status": response.status_code, "body": response.body})
    except Exception as error:  # noqa: BLE001 - the caller falls back to the next way, if any
        logger.info("response_url failed", extra={"error": str(error)[:200]})
    return False


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

    async def send(self, text: str) -> bool:
        """Deliver the reply; return False (and log) when no way reached the person."""
        if self._response_url and await respond(self._response_url, text, self._session):
            return True
        try:
            await self._client.chat_postEphemeral(channel=self._channel_id, user=self._user_id, text=text)
            return True
        except Exception as error:  # noqa: BLE001 - e.g. not_in_channel: a direct message still reaches them
            logger.info("chat.postEphemeral failed", extra={"error": str(error)[:200]})
        try:
            await self._client.chat_postMessage(channel=self._user_id, text=text)
            return True
        except Exception as error:  # noqa: BLE001 - nothing else to try; the log keeps the reply
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
