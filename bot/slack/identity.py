"""Who the bot is in Slack: one auth.test at start, reused for every request.

Bolt's single-workspace mode calls auth.test lazily on the first request, i.e. on that request's ack path.
Checking at start also turns a revoked or mistyped token into a one-line start-up error instead of a
broken bot that looks healthy. The authorize hook never waits on Slack: if the start-up check could not
reach Slack, requests are served with the configured token while one background auth.test fills in the
rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import slack_error_code

logger = logging.getLogger(__name__)

# Slack's answers that mean "this token will never work" (as opposed to Slack being unreachable).
REJECTED_TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "invalid_token",
    }
)
CHECK_TIMEOUT_SECONDS = 5.0
# Anything that means "could not ask Slack right now": worth a warning, never a crash.
_UNREACHABLE = (SlackClientError, aiohttp.ClientError, OSError, TimeoutError, ValueError)


@dataclass(frozen=True)
class Workspace:
    """Where the app is installed. Until multi-workspace install exists, the only one it serves."""

    team_id: str | None
    enterprise_id: str | None

    def serves(self, team_id: str | None, enterprise_id: str | None) -> bool:
        """A request names the workspace Bolt resolved for it (for events: `authorizations[0]`)."""
        if self.team_id and team_id != self.team_id:
            return False
        # The same team id in another Enterprise Grid org is another workspace.
        return not (self.enterprise_id and enterprise_id and enterprise_id != self.enterprise_id)


class TokenRejected(Exception):
    """Slack refused a configured token; the message is one line for the operator."""


class SlackIdentity:
    def __init__(self, client: AsyncWebClient, bot_token: str) -> None:
        self._client = client
        self._bot_token = bot_token
        self._result: AuthorizeResult | None = None
        self._refreshing: asyncio.Task[None] | None = None

    async def verify(self) -> None:
        """auth.test now: raise TokenRejected if Slack refuses the token; if Slack cannot be reached, log
        and let requests be served meanwhile."""
        await _check_token(
            self._load(),
            "SLACK_BOT_TOKEN",
            "copy the Bot User OAuth Token (xoxb-…) again from the app's OAuth & Permissions page, "
            "and check SLACK_API_URL",
        )

    async def _load(self) -> None:
        response = await self._client.auth_test()
        self._result = AuthorizeResult.from_auth_test_response(
            auth_test_response=response, bot_token=self._bot_token
        )

    def workspace(self) -> Workspace | None:
        """The workspace (and Enterprise Grid org) the token belongs to, once auth.test has answered."""
        if self._result is None:
            return None
        return Workspace(team_id=self._result.team_id, enterprise_id=self._result.enterprise_id)

    async def authorize(self, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        """Bolt's authorize hook: never raises, never waits on Slack."""
        if self._result is not None:
            return self._result
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh())
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=self._bot_token)

    async def _refresh(self) -> None:
        try:
            await asyncio.wait_for(self._load(), CHECK_TIMEOUT_SECONDS)
        except (SlackApiError, *_UNREACHABLE) as error:
            logger.warning("auth.test still failing", extra={"error": str(error)[:200]})


async def verify_app_token(app_token: str, api_url: str) -> None:
    """Socket Mode: a rejected app-level token would otherwise make slack_sdk retry forever."""
    await _check_token(
        AsyncWebClient(base_url=api_url).apps_connections_open(app_token=app_token),
        "SLACK_APP_TOKEN",
        "create an app-level token with connections:write on the app's Basic Information page",
    )


async def _check_token(call: Awaitable[object], variable: str, remedy: str) -> None:
    try:
        await asyncio.wait_for(call, CHECK_TIMEOUT_SECONDS)
    except SlackApiError as error:
        code = slack_error_code(error)
        if code in REJECTED_TOKEN_ERRORS:
            raise TokenRejected(f"Slack rejected {variable} ({code}): {remedy}") from error
        logger.warning("Slack refused the start-up check; serving meanwhile", extra={"error": code})
    except _UNREACHABLE as error:
        logger.warning("Slack not reachable at start; serving meanwhile", extra={"error": str(error)[:200]})
