"""Who may bind, re-bind and unbind: everyone, unless BIND_ALLOWED_USERS/USERGROUPS name someone
(user groups are resolved with usergroups.users.list)."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import slack_error_code
from bot.usecases.errors import BindNotAllowed, BindPermissionUnknown


class SlackBindPermission:
    def __init__(self, client: AsyncWebClient, users: frozenset[str], usergroups: frozenset[str]) -> None:
        self._client = client
        self._users = users
        self._usergroups = usergroups

    async def check(self, user_id: str) -> None:
        if not (self._users or self._usergroups) or user_id in self._users:
            return
        for group in sorted(self._usergroups):
            try:
                response = await self._client.usergroups_users_list(usergroup=group)
            except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
                code = slack_error_code(error) if isinstance(error, SlackApiError) else "unreachable"
                raise BindPermissionUnknown(code) from error
            if user_id in (response.get("users") or []):
                return
        raise BindNotAllowed(self._users, self._usergroups)
