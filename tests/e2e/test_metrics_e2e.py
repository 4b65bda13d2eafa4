"""GET /metrics: Prometheus text that counts what really happened."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.bot_server import http
from tests.support.harness import Harness


def samples(bot: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = http("GET", bot.url + "/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(response.body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_commands_events_failures_and_aws_latency(bot: Harness) -> None:
    bot.bound_incident()
    assert "Added a note" in bot.run("db is back")
    assert "Added a custom event" in bot.run("event failover started")
    bot.aws.fail_next("CreateTimelineEvent", "AccessDeniedException")
    assert "isn't allowed" in bot.run("refused one")
    assert "nothing to add" in bot.command("note").ack.body  # answered on the ack

    seen = samples(bot)
    assert seen[("incident_bot_commands_total", (("form", "bind"),))] == 1
    assert seen[("incident_bot_commands_total", (("form", "note"),))] == 2
    assert seen[("incident_bot_commands_total", (("form", "event"),))] == 1
    assert seen[("incident_bot_commands_total", (("form", "empty"),))] == 1
    assert seen[("incident_bot_slack_requests_total", (("kind", "command"),))] == 5
    assert seen[("incident_bot_events_created_total", (("event_type", "Note"),))] == 1
    assert seen[("incident_bot_events_created_total", (("event_type", "Custom Event"),))] == 1
    assert seen[("incident_bot_failures_total", (("kind", "access_denied"),))] == 1
    assert seen[("incident_bot_outbox_attempts_total", (("outcome", "refused"), ("source", "request")))] == 1
    assert seen[("incident_bot_outbox_depth", ())] == 0
    created = (("operation", "create_timeline_event"), ("outcome", "ok"))
    assert seen[("incident_bot_aws_call_seconds_count", created)] == 2
    assert seen[("incident_bot_aws_call_seconds_sum", created)] > 0
    lookups = (("operation", "get_incident_record"), ("outcome", "ok"))
    assert seen[("incident_bot_aws_call_seconds_count", lookups)] == 1


def test_queued_entries_show_in_the_outbox_depth_until_they_land(bot: Harness) -> None:
    arn = bot.bound_incident()
    bot.aws.set_down(True)
    try:
        results = [bot.command(f"queued {i}") for i in range(3)]
        for result in results:
            bot.replies(result, 1, timeout=20)
        seen = samples(bot)
        assert seen[("incident_bot_outbox_depth", ())] == 3
        assert (
            seen[("incident_bot_outbox_attempts_total", (("outcome", "queued"), ("source", "request")))] == 3
        )
    finally:
        bot.aws.set_down(False)
    for result in results:
        bot.replies(result, 2, timeout=30)
    seen = samples(bot)
    assert seen[("incident_bot_outbox_depth", ())] == 0
    assert (
        seen[("incident_bot_outbox_attempts_total", (("outcome", "landed"), ("source", "background")))] == 3
    )
    assert len(bot.aws.events(arn)) == 3
