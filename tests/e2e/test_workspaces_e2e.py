"""One workspace means one workspace: a signed request from another workspace (another Enterprise Grid
workspace, or an app distributed later) is refused before any listener runs — no store write, no AWS
call — while a pin in a Slack Connect channel, whose event body names the other side, still counts."""

from __future__ import annotations

import json
import sqlite3
import time

from tests.support.harness import Harness

CHANNEL = "C0001"
OTHER_TEAM = "T0OTHER9"


def rows(bot: Harness, table: str) -> int:
    path = bot.server.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_a_command_from_another_workspace_is_refused_on_the_ack_and_changes_nothing(bot: Harness) -> None:
    arn = bot.new_incident("Checkout DB down")
    result = bot.command(f"bind {arn}", team_id=OTHER_TEAM)
    assert result.ack.status == 200
    reply = json.loads(result.ack.body)
    assert reply["response_type"] == "ephemeral"
    assert "serves only the Slack workspace it is installed in" in reply["text"]
    note = bot.command("the DB failover finished", team_id=OTHER_TEAM)
    assert "nothing was done" in json.loads(note.ack.body)["text"]
    time.sleep(0.5)  # long enough for a listener to have done anything it was going to do
    assert rows(bot, "bindings") == 0 and rows(bot, "timeline_entries") == 0
    assert bot.aws.calls_to("GetIncidentRecord") == [] and bot.aws.calls_to("CreateTimelineEvent") == []
    assert bot.slack.responses(result.response_url) == []  # the ack said it all


def test_a_shortcut_from_another_workspace_is_told_and_opens_no_form(bot: Harness) -> None:
    bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica promoted"})
    message = next(m for m in bot.slack.messages(CHANNEL) if m["ts"] == ts)
    result = bot.shortcut(message, team_id=OTHER_TEAM)
    assert result.ack.status == 200
    [told] = bot.replies(result)
    assert "serves only the Slack workspace it is installed in" in told
    assert bot.slack.calls_to("views.open") == []


def test_an_event_from_another_workspace_is_acked_and_ignored(bot: Harness) -> None:
    arn = bot.bound_incident()
    # Even were the channel bound under the other workspace's id (an earlier version let anyone bind).
    path = bot.server.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO bindings SELECT ?, channel_id, incident_arn, incident_title, bound_by, bound_at "
            "FROM bindings WHERE team_id = 'T0001'",
            (OTHER_TEAM,),
        )
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica promoted"})
    entries_before = rows(bot, "timeline_entries")
    result = bot.react(ts, user_id="U0001", team_id=OTHER_TEAM)
    assert result.status == 200
    time.sleep(0.5)
    assert bot.aws.events(arn) == [] and rows(bot, "timeline_entries") == entries_before
    assert bot.slack.calls_to("conversations.history") == []


def test_a_pin_in_a_slack_connect_channel_uses_the_workspace_bolt_resolved(bot: Harness) -> None:
    # The event body's team_id is the other organisation's; authorizations[0] names this workspace.
    arn = bot.bound_incident()
    ts = bot.slack.add_message(CHANNEL, {"user": "U0002", "text": "replica promoted"})
    result = bot.react(ts, user_id="U0001", team_id=OTHER_TEAM, authorizing_team_id="T0001")
    assert result.status == 200
    bot.slack.wait_for_calls("reactions.add", 1, timeout=10)
    [event] = bot.aws.events(arn)
    assert bot.event_text(event).startswith("replica promoted\n\n— bob, via Slack (added by alice)")
