"""Who the bot is in Slack: one auth.test at start, reused for every request.

Bolt's single-workspace mode calls auth.test lazily on the first request, i.e. on that request's ack path.
Checking at start also turns a revoked or mistyped token into a one-line start-up error instead of a
broken bot that looks healthy.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

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


class TokenRejected(Exception):
    """Slack refused a configured token; the message is one line for the operator."""


class SlackIdentity:
    def __init__(self, client: AsyncWebClient, bot_token: str) -> None:
        self._client = client
        self._bot_token = bot_token
        self._result: AuthorizeResult | None = None

    async def verify(self) -> None:
        """auth.test now: raise TokenRejected if Slack refuses the token; if Slack cannot be reached, log
        and let the first request try again."""
        try:
            await asyncio.wait_for(self._load(), CHECK_TIMEOUT_SECONDS)
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in REJECTED_TOKEN_ERRORS:
                raise TokenRejected(
                    f"Slack rejected SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token (xoxb-…) again "
                    "from the app's OAuth & Permissions page, and check SLACK_API_URL"
                ) from error
            logger.warning(
                "auth.test failed at start; will retry on the first request", extra={"error": code}
            )
        except (TimeoutError, SlackClientError, OSError) as error:
            logger.warning(
                "Slack not reachable at start; will retry on the first request",
                extra={"error": str(error)[:200]},
            )

    async def _load(self) -> AuthorizeResult:
        response = await self._client.auth_test()
        self._result = AuthorizeResult.from_auth_test_response(
            auth_test_response=response, bot_token=self._bot_token
        )
        return self._result

    async def authorize(self) -> AuthorizeResult:
        """Bolt's authorize hook: the cached identity, loaded now only if the start-up check could not."""
        return self._result or await self._load()
