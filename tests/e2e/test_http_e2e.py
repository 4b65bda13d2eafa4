"""The HTTP surface: signatures, health, url_verification, and odd requests."""

from __future__ import annotations

from tests.support import slack_requests
from tests.support.bot_server import http
from tests.support.harness import Harness


def test_healthz(bot: Harness) -> None:
    result = bot.healthz()
    assert result.status == 200 and result.json() == {"ok": True}


def test_unsigned_stale_and_tampered_requests_get_401_and_change_nothing(bot: Harness) -> None:
    arn = bot.new_incident()
    response_url = bot.slack.new_response_url()
    trigger_id = bot.slack.issue_trigger_id()
    body, headers = slack_requests.slash_command(
        bot.secret, text=f"bind {arn}", response_url=response_url, trigger_id=trigger_id
    )
    stale_body, stale_headers = slack_requests.slash_command(
        bot.secret,
        text=f"bind {arn}",
        response_url=response_url,
        trigger_id=trigger_id,
        timestamp=slack_requests.stale_timestamp(),
    )
    wrong_secret_body, wrong_secret_headers = slack_requests.slash_command(
        "not-the-secret", text=f"bind {arn}", response_url=response_url, trigger_id=trigger_id
    )
    for bad_body, bad_headers in (
        (body, slack_requests.unsigned(headers)),
        (body, slack_requests.tampered(headers)),
        (stale_body, stale_headers),
        (wrong_secret_body, wrong_secret_headers),
    ):
        assert bot.post(bad_body, bad_headers).status == 401
    assert bot.aws.calls == []
    assert bot.slack.responses(response_url) == []
    assert "isn't bound" in bot.run("status")


def test_url_verification_echoes_the_challenge(bot: Harness) -> None:
    body, headers = slack_requests.url_verification(bot.secret, "challenge-123")
    result = bot.post(body, headers)
    assert result.status == 200 and "challenge-123" in result.body


def test_reaction_events_are_acknowledged_so_slack_does_not_retry(bot: Harness) -> None:
    event = slack_requests.reaction_added_event(
        user="U0001", reaction="pushpin", channel="C0001", ts="1712345678.000100", item_user="U0002"
    )
    body, headers = slack_requests.event_callback(bot.secret, event)
    result = bot.post(body, headers)
    assert result.status == 200
    # Unbound channel: ignored quietly, nothing asked of AWS or Slack.
    assert bot.aws.calls == []
    assert bot.slack.calls_to("conversations.history") == []


def test_message_shortcut_in_an_unbound_channel_says_how_to_bind(bot: Harness) -> None:
    response_url = bot.slack.new_response_url()
    payload = slack_requests.message_shortcut_payload(
        message={"type": "message", "user": "U0002", "ts": "1712345678.000100", "text": "db ok"},
        trigger_id=bot.slack.issue_trigger_id(),
        response_url=response_url,
    )
    body, headers = slack_requests.interactivity(bot.secret, payload)
    assert bot.post(body, headers).status == 200
    (reply,) = bot.slack.wait_for_responses(response_url, 1)
    assert "isn't bound to an incident" in reply["text"] and "/incident-note bind" in reply["text"]
    assert bot.slack.calls_to("views.open") == []
    assert bot.aws.calls == []


def test_unknown_path_is_404_and_health_stays_green(bot: Harness) -> None:
    assert http("GET", bot.url + "/nope").status == 404
    assert bot.healthz().status == 200
