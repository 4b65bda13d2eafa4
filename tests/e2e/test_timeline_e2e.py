"""`/incident-note timeline [n]` and its "More" button, over signed requests against the fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.harness import Harness

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PERMALINK = "https://acme.slack.com/archives/C0001/p1764150000123456"


def shown(payload: dict[str, Any]) -> str:
    return "\n".join(block["text"]["text"] for block in payload["blocks"] if block["type"] == "section")


def timeline(bot: Harness, text: str = "timeline") -> dict[str, Any]:
    result = bot.command(text)
    assert result.ack.status == 200 and result.ack.body == ""
    (payload,) = bot.slack.wait_for_responses(result.response_url, 1, timeout=10)
    assert payload["response_type"] == "ephemeral"
    assert isinstance(payload, dict)
    return payload


def test_timeline_lists_the_latest_events_newest_first_readably(bot: Harness) -> None:
    arn = bot.bound_incident("Checkout DB down")
    bot.aws.add_event(
        arn, "SSM Incident Trigger", json.dumps({"title": "Checkout DB down", "impact": 1}), START
    )
    pinned = json.dumps(f"failed over\n\n— bob, via Slack (added by alice)\n{PERMALINK}")
    bot.aws.add_event(arn, "Note", pinned, START + timedelta(minutes=5), [{"resource": arn}])
    assert "Added a note" in bot.run("the DB failover finished")
    payload = timeline(bot)
    assert payload["text"] == "The latest 3 timeline events on Checkout DB down"
    text = shown(payload)
    lines = [line for line in text.splitlines() if " · " in line]
    assert [line.rsplit(" · ", 1)[1] for line in lines] == ["Note", "Note", "SSM Incident Trigger"]
    at = int((START + timedelta(minutes=5)).timestamp())
    assert f"*<!date^{at}^{{date_short_pretty}} {{time_secs}}|2026-11-26 09:05:00 UTC>* · Note" in text
    assert "> the DB failover finished\n> \n> — alice, via Slack" in text
    assert (
        f"> failed over\n> \n> — bob, via Slack (added by alice)\n<{PERMALINK}|the message in Slack>" in text
    )
    assert "> title: Checkout DB down, impact: 1" in text
    assert "That is the beginning of the timeline." in json.dumps(payload["blocks"])
    assert len(bot.aws.calls_to("GetTimelineEvent")) == 3
    (listed,) = bot.aws.calls_to("ListTimelineEvents")
    assert listed.params["maxResults"] == 10 and listed.params["sortOrder"] == "DESCENDING"


def test_more_pages_back_through_the_timeline(bot: Harness) -> None:
    arn = bot.bound_incident("Long incident")
    for i in range(5):
        bot.aws.add_event(arn, "Custom Event", json.dumps(f"step {i}"), START + timedelta(minutes=i))
    payload = timeline(bot, "timeline 2")
    assert "> step 4" in shown(payload) and "> step 3" in shown(payload) and "step 2" not in shown(payload)
    [button] = payload["blocks"][-1]["elements"]
    assert button["text"]["text"] == "More"
    for expected in (["step 2", "step 1"], ["step 0"]):
        click = bot.click(button)
        assert click.ack.status == 200 and click.ack.body == ""
        (page,) = bot.slack.wait_for_responses(click.response_url, 1, timeout=10)
        assert [line[2:] for line in shown(page).splitlines() if line.startswith("> ")] == expected
        if expected == ["step 0"]:
            assert "That is the beginning of the timeline." in json.dumps(page["blocks"])
        else:
            [button] = page["blocks"][-1]["elements"]


def test_a_timeline_refusal_is_explained_by_the_mapping_layer(bot: Harness) -> None:
    arn = bot.bound_incident("Guarded timeline")
    bot.aws.add_event(arn, "Note", json.dumps("secret"), START)
    bot.aws.fail_next("GetTimelineEvent", "AccessDeniedException", times=3)
    reply = bot.run("timeline")
    assert "isn't allowed to call `ssm-incidents:GetTimelineEvent` on this incident" in reply
    assert "_Reference: " in reply


def test_timeline_in_an_unbound_channel_and_a_note_that_starts_with_timeline(bot: Harness) -> None:
    assert "so there is no timeline to show" in bot.run("timeline")
    result = bot.command("timeline is wrong")
    assert "`/incident-note note timeline …`" in result.ack_text
    arn = bot.bound_incident()
    assert "Added a note" in bot.run("note timeline is wrong")
    assert bot.event_text(bot.aws.events(arn)[0]).startswith("timeline is wrong")
