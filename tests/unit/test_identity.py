"""The bot's Slack identity: checked once at start, never waited on by a request."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.identity import SlackIdentity, TokenRejected
from tests.conftest import BOT_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.support.bot_server import free_port


def identity_for(fake_slack: FakeSlack, token: str = BOT_TOKEN) -> SlackIdentity:
    return SlackIdentity(AsyncWebClient(token=token, base_url=fake_slack.api_url), token)


async def test_verified_identity_is_reused_without_another_call(fake_slack: FakeSlack) -> None:
    identity = identity_for(fake_slack)
    await identity.verify()
    results = [await identity.authorize(None, "T0001") for _ in range(20)]
    assert len(fake_slack.calls_to("auth.test")) == 1
    assert all(r.bot_user_id == "UBOT" and r.bot_token == BOT_TOKEN for r in results)


async def test_rejected_token_is_a_start_up_error(fake_slack: FakeSlack) -> None:
    with pytest.raises(TokenRejected, match=r"Slack rejected SLACK_BOT_TOKEN \(invalid_auth\)"):
        await identity_for(fake_slack, "xoxb-wrong").verify()


@pytest.mark.parametrize("outage", ["http_503", "unreachable"])
async def test_unreachable_slack_at_start_is_survived_and_filled_in_later(
    fake_slack: FakeSlack, outage: str
) -> None:
    if outage == "http_503":
        fake_slack.fail_next_http("auth.test", status=503, body="upstream connect error")
        identity = identity_for(fake_slack)
    else:
        dead = f"http://127.0.0.1:{free_port()}/api/"
        identity = SlackIdentity(AsyncWebClient(token=BOT_TOKEN, base_url=dead), BOT_TOKEN)
    await identity.verify()  # logs, does not raise
    # Fifty requests at once: each is served at once with the configured token, and at most one
    # auth.test runs in the background.
    results = await asyncio.gather(*(identity.authorize(None, "T0001") for _ in range(50)))
    assert all(r.bot_token == BOT_TOKEN and r.team_id == "T0001" for r in results)
    await asyncio.sleep(0.3)
    if outage == "http_503":
        assert len(fake_slack.calls_to("auth.test")) == 2  # the failed start-up check, then one refresh
        assert (await identity.authorize(None, "T0001")).bot_user_id == "UBOT"
