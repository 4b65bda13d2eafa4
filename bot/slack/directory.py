"""Slack user names, looked up once and cached (responders mention the same few people all incident)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.slack_user import display_name_of

logger = logging.getLogger(__name__)

NAME_TTL_SECONDS = 3600.0


class UserDirectory:
    def __init__(self, client: AsyncWebClient, ttl: float = NAME_TTL_SECONDS) -> None:
        self._client = client
        self._ttl = ttl
        self._names: dict[str, tuple[str, float]] = {}
        self._in_flight: dict[str, asyncio.Future[str | None]] = {}

    async def name(self, user_id: str) -> str | None:
        cached = self._names.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        pending = self._in_flight.get(user_id)
        if pending is None:
            # One users.info per user even when fifty notes by the same person arrive at once.
            pending = asyncio.ensure_future(self._fetch(user_id))
            self._in_flight[user_id] = pending
            pending.add_done_callback(lambda _: self._in_flight.pop(user_id, None))
        return await asyncio.shield(pending)

    async def _fetch(self, user_id: str) -> str | None:
        try:
            response = await self._client.users_info(user=user_id)
        except (TimeoutError, SlackApiError, SlackClientError, OSError) as error:
            # A missing name is not worth failing a note for: the caller falls back to the handle or id.
            logger.info("users.info failed", extra={"user": user_id, "error": str(error)[:200]})
            return None
        user = response.get("user")
        name = display_name_of(user) if isinstance(user, dict) else None
        if name is not None:
            self._names[user_id] = (name, time.monotonic() + self._ttl)
        return name

    def cached_names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The names known right now, without asking Slack (for a form that must open at once)."""
        now = time.monotonic()
        found = {user_id: self._names.get(user_id) for user_id in set(user_ids)}
        return {user_id: hit[0] for user_id, hit in found.items() if hit is not None and hit[1] > now}

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(user_ids))
        found = await asyncio.gather(*(self.name(user_id) for user_id in ids))
        return {user_id: name for user_id, name in zip(ids, found, strict=True) if name is not None}
