"""Binding a channel: bind, re-bind, unbind, status, and who may do it."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.harness import Harness

RESPONSE_PLAN_ARN = "arn:aws:ssm-incidents::111122223333:response-plan/db-plan"


def test_bind_replies_with_title_status_and_console_link_and_announces(bot: Harness) -> None:
    arn = bot.new_incident("Checkout DB down")
    reply = bot.bind(arn)
    assert "now bound" in reply and "Checkout DB down" in reply
    assert "OPEN" in reply and "impact 2 (High)" in reply
    assert (
        "https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home?region=eu-west-1#" in reply
    )
    (call,) = bot.aws.calls_to("GetIncidentRecord")
    assert call.params["arn"] == arn
    assert call.region == "eu-west-1"
    (announcement,) = bot.slack.calls_to("chat.postMessage")
    assert announcement.params["channel"] == "C0001"
    assert "<@U0001> bound this channel" in announcement.params["text"]
    assert "Checkout DB down" in bot.run("status")


def test_rebind_replaces_and_says_so(bot: Harness) -> None:
    first = bot.bound_incident("First incident")
    second = bot.new_incident("Second incident")
    reply = bot.bind(second)
    assert "now bound" in reply and "Second incident" in reply
    assert "It was bound to *First incident* before; that binding is replaced." in reply
    status = bot.run("status")
    assert "Second incident" in status and "First incident" not in status
    assert second in status and first not in status


def test_rebind_to_the_same_incident_says_nothing_changed(bot: Harness) -> None:
    arn = bot.bound_incident("Same incident")
    assert "already bound to" in bot.bind(arn)


def test_resolved_incident_is_refused_and_nothing_is_bound(bot: Harness) -> None:
    arn = bot.new_incident("Old incident", status="RESOLVED")
    reply = bot.bind(arn)
    assert "*Old incident* is already resolved" in reply
    assert "isn't bound" in bot.run("status")


def test_malformed_arn_is_answered_in_the_ack_without_calling_aws(bot: Harness) -> None:
    result = bot.command("bind not-an-arn")
    assert result.ack.status == 200
    assert "That isn't an incident record ARN: it is not an ARN" in result.ack_text
    assert result.ack.json()["response_type"] == "ephemeral"
    assert bot.aws.calls_to("GetIncidentRecord") == []


def test_arn_of_another_resource_type_is_named(bot: Harness) -> None:
    result = bot.command(f"bind {RESPONSE_PLAN_ARN}")
    assert "it is the ARN of a response-plan, not of an incident record" in result.ack_text
    assert bot.aws.calls == []


def test_unknown_incident_is_explained_and_nothing_is_bound(bot: Harness) -> None:
    missing = (
        "arn:aws:ssm-incidents::111122223333:incident-record/db-plan/00000000-0000-0000-0000-000000000000"
    )
    reply = bot.bind(missing)
    assert "Incident Manager has no incident record with that ARN in eu-west-1" in reply
    assert "The channel was not bound." in reply
    assert "isn't bound" in bot.run("status")


def test_bind_takes_one_arn(bot: Harness) -> None:
    result = bot.command("bind arn:one arn:two")
    assert "`bind` takes exactly one incident record ARN (or nothing, to pick from the open incidents)." in (
        result.ack_text
    )
    assert bot.aws.calls == []


def test_unbind_and_unbind_again(bot: Harness) -> None:
    bot.bound_incident("To be unbound")
    assert "no longer bound to *To be unbound*" in bot.run("unbind")
    assert "nothing to unbind" in bot.run("unbind")
    assert "isn't bound" in bot.run("status")


def test_binding_is_per_channel_and_team(bot: Harness) -> None:
    bot.bound_incident("Channel one incident", channel_id="C0001")
    assert "isn't bound" in bot.run("status", channel_id="C0002")
    # Another workspace is refused outright (one workspace means one workspace); that bindings are keyed by
    # (team, channel) is the store's contract (tests/unit/test_store.py).
    assert "serves only the Slack workspace" in bot.command("status", team_id="T0002").ack.body
    assert "Channel one incident" in bot.run("status", channel_id="C0001")


def test_status_shows_live_state_from_incident_manager(bot: Harness) -> None:
    arn = bot.bound_incident("Live state")
    bot.aws.resolve_incident(arn)
    reply = bot.run("status")
    assert "Status in Incident Manager: RESOLVED" in reply
    assert "Bound by <@U0001>" in reply


def test_status_still_shows_binding_when_aws_fails(bot: Harness) -> None:
    bot.bound_incident("Flaky lookup")
    bot.aws.fail_next("GetIncidentRecord", "AccessDeniedException", times=5)
    reply = bot.run("status")
    assert "This channel is bound to" in reply and "Flaky lookup" in reply
    assert "I couldn't fetch its current status" in reply
    assert "ssm-incidents:GetIncidentRecord" in reply


def test_announcement_failure_is_explained_but_binding_stands(bot: Harness) -> None:
    bot.slack.fail_next("chat.postMessage", "not_in_channel")
    reply = bot.bind(bot.new_incident("Quiet bind"))
    assert "now bound" in reply
    assert "I couldn't announce the binding in the channel: I'm not a member of this channel." in reply
    assert "/invite" in reply
    assert "Quiet bind" in bot.run("status")


def test_announcement_channel_not_found_and_rate_limit(bot: Harness) -> None:
    bot.slack.fail_next("chat.postMessage", "channel_not_found")
    assert "I can't see this channel" in bot.bind(bot.new_incident("One"))
    bot.slack.rate_limit_next("chat.postMessage", times=5, retry_after=0)
    assert "Slack is rate-limiting the bot right now" in bot.bind(bot.new_incident("Two"))


def test_only_allowed_users_may_bind_and_unbind(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(BIND_ALLOWED_USERS="U0002")
    arn = bot.new_incident("Restricted")
    refused = bot.bind(arn, user_id="U0001")
    assert "You aren't allowed to bind or unbind this channel" in refused and "<@U0002>" in refused
    assert bot.aws.calls_to("GetIncidentRecord") == []
    assert "now bound" in bot.bind(arn, user_id="U0002", user_name="bob")
    assert "You aren't allowed" in bot.run("unbind", user_id="U0001")
    # Notes and status stay open to everyone in the channel.
    assert "Added a note" in bot.run("anyone may add notes", user_id="U0001")
    assert "Restricted" in bot.run("status", user_id="U0003")


def test_usergroup_members_may_bind(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(BIND_ALLOWED_USERGROUPS="S0001")
    bot.slack.add_usergroup("S0001", ["U0003"])
    arn = bot.new_incident("Group bind")
    assert "You aren't allowed" in bot.bind(arn, user_id="U0001")
    assert "now bound" in bot.bind(arn, user_id="U0003")
    (lookup, *_) = bot.slack.calls_to("usergroups.users.list")
    assert lookup.params["usergroup"] == "S0001"


def test_failed_usergroup_lookup_refuses_and_says_why(make_bot: Callable[..., Harness]) -> None:
    bot = make_bot(BIND_ALLOWED_USERGROUPS="S0001")
    bot.slack.add_usergroup("S0001", ["U0001"])
    bot.slack.fail_next("usergroups.users.list", "missing_scope")
    reply = bot.bind(bot.new_incident("Lookup fails"))
    assert "I couldn't check yours because Slack answered 'missing_scope'" in reply
    assert "The channel was not bound." in reply
    assert "isn't bound" in bot.run("status")
