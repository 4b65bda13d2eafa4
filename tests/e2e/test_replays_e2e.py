"""A signed bind or unbind replayed within Slack's five-minute window is carried out once: no second
announcement, and an old unbind cannot undo a newer bind."""

from __future__ import annotations

from tests.conftest import SIGNING_SECRET
from tests.support import slack_requests
from tests.support.harness import Harness


def signed(bot: Harness, text: str) -> tuple[str, dict[str, str], str]:
    response_url = bot.slack.new_response_url()
    body, headers = slack_requests.slash_command(
        SIGNING_SECRET, text=text, response_url=response_url, trigger_id=bot.slack.issue_trigger_id("U0001")
    )
    return body, headers, response_url


def test_a_replayed_bind_is_not_carried_out_again(bot: Harness) -> None:
    arn = bot.new_incident("Checkout DB down")
    body, headers, response_url = signed(bot, f"bind {arn}")
    assert bot.post(body, headers).status == 200
    assert bot.post(body, headers).status == 200  # the very same signed request, again
    texts = sorted(str(reply["text"]) for reply in bot.slack.wait_for_responses(response_url, 2, timeout=10))
    # The replay is answered at once, the first after Incident Manager: in either order.
    assert texts[0].startswith("That `bind` was already carried out") and "now bound" in texts[1]
    assert len(bot.slack.calls_to("chat.postMessage")) == 1  # announced once
    assert len(bot.aws.calls_to("GetIncidentRecord")) == 1


def test_an_old_unbind_replayed_cannot_undo_a_newer_bind(bot: Harness) -> None:
    bot.bound_incident("Checkout DB down")
    body, headers, response_url = signed(bot, "unbind")
    bot.post(body, headers)
    assert "no longer bound" in str(bot.slack.wait_for_responses(response_url, 1, timeout=10)[0]["text"])
    bot.bound_incident("Payments degraded")
    bot.post(body, headers)  # the replay
    assert "was already carried out" in str(
        bot.slack.wait_for_responses(response_url, 2, timeout=10)[1]["text"]
    )
    assert "Payments degraded" in bot.run("status")
