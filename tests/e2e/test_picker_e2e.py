"""`/incident-note bind` alone: the picker, its search and its submit, over signed requests against the
fakes; and the channel on its incident's related items."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.slack_api.constants import WORKSPACE_URL
from tests.support import slack_requests
from tests.support.harness import CommandResult, Harness, select_values, submit_view

CHANNEL_URL = f"{WORKSPACE_URL}archives/C0001"


def open_picker(bot: Harness, **kwargs: Any) -> tuple[CommandResult, dict[str, Any]]:
    result = bot.command("bind", **kwargs)
    assert result.ack.status == 200 and result.ack.body == ""
    (call,) = bot.slack.wait_for_calls("views.open", 1, timeout=10)
    assert call.ok, call.response  # the fake validated the view with slack_sdk.models
    assert call.params["trigger_id"] == result.trigger_id
    view = call.response["view"]
    assert isinstance(view, dict)
    return result, view


def menu(view: dict[str, Any]) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == "incident_choice")
    element: dict[str, Any] = block["element"]
    return element


def choose(bot: Harness, view: dict[str, Any], option: dict[str, Any], kind: str = "static_select") -> None:
    element = menu(view)
    values = select_values("incident_choice", element["action_id"], option, kind)
    ack = submit_view(bot, view, values)
    assert ack.status == 200 and ack.body == "", ack


def ephemeral_texts(bot: Harness, count: int = 1) -> list[str]:
    return [str(c.params["text"]) for c in bot.slack.wait_for_calls("chat.postEphemeral", count, timeout=10)]


def test_the_picker_lists_the_open_incidents_and_choosing_one_binds_announces_and_links(bot: Harness) -> None:
    older = bot.new_incident("Checkout DB down", impact=1)
    time.sleep(0.005)  # creation times are kept to the millisecond: these two must differ
    newer = bot.new_incident("Payments degraded", impact=3)
    bot.new_incident("Yesterday's outage", status="RESOLVED")
    _, view = open_picker(bot)
    assert view["title"]["text"] == "Bind this channel" and view["submit"]["text"] == "Bind"
    element = menu(view)
    assert element["type"] == "static_select"
    options = element["options"]
    assert [o["value"] for o in options] == [newer, older]
    assert options[1]["text"]["text"].startswith("Checkout DB down · Critical · started ")
    (listed,) = bot.aws.calls_to("ListIncidentRecords")
    assert listed.params["filters"] == [
        {"key": "status", "condition": {"equals": {"stringValues": ["OPEN"]}}}
    ]

    choose(bot, view, options[1])
    (reply,) = ephemeral_texts(bot)
    assert "This channel is now bound to <" in reply and "Checkout DB down" in reply
    assert "find this channel under the incident's *Related items*" in reply
    (announcement,) = bot.slack.wait_for_calls("chat.postMessage", 1, timeout=10)
    assert "<@U0001> bound this channel to the incident" in announcement.params["text"]
    (item,) = bot.aws.related_items(older)
    assert item["identifier"] == {"type": "OTHER", "value": {"url": CHANNEL_URL}}
    assert item["title"] == "Slack: #inc-db"
    assert "Checkout DB down" in bot.run("status")


def test_no_open_incident_is_a_reply_saying_how_to_bind_by_arn(bot: Harness) -> None:
    bot.new_incident("All done", status="RESOLVED")
    reply = bot.run("bind")
    assert reply.startswith("There are no open incidents in Incident Manager in eu-west-1")
    assert "/incident-note bind &lt;incident-record-arn&gt;" in reply
    assert bot.slack.calls_to("views.open") == []


def test_more_open_incidents_than_a_menu_holds_are_searched_by_title(bot: Harness) -> None:
    arns = [bot.new_incident(f"Service {i} down") for i in range(105)]
    _, view = open_picker(bot)
    element = menu(view)
    assert element["type"] == "external_select" and element["action_id"] == "incident_search"
    answer = bot.options(view, "incident_search", "incident_choice", "SERVICE 10")
    assert answer.status == 200
    options = answer.json()["options"]
    titles = [o["text"]["text"].split(" · ")[0] for o in options]
    assert sorted(titles) == sorted(["Service 10 down", *(f"Service {i} down" for i in range(100, 105))])
    everything = bot.options(view, "incident_search", "incident_choice", "").json()["options"]
    assert len(everything) == 100
    chosen = next(o for o in options if o["text"]["text"].startswith("Service 10 down"))
    assert chosen["value"] == arns[10]
    choose(bot, view, chosen, kind="external_select")
    assert "now bound" in ephemeral_texts(bot)[0]
    assert len(bot.aws.related_items(arns[10])) == 1


def test_a_slow_listing_opens_a_placeholder_while_the_trigger_is_good_then_fills_it_in(bot: Harness) -> None:
    arn = bot.new_incident("Slow to list")
    bot.aws.set_latency(2.5, "ListIncidentRecords")
    _, placeholder = open_picker(bot)
    assert "Looking for the open incidents" in json.dumps(placeholder["blocks"])
    (update,) = bot.slack.wait_for_calls("views.update", 1, timeout=10)
    assert update.ok, update.response
    view = update.response["view"]
    assert menu(view)["options"][0]["value"] == arn
    bot.aws.set_latency(0, "ListIncidentRecords")
    choose(bot, view, menu(view)["options"][0])
    assert "now bound" in ephemeral_texts(bot)[0]


def test_an_incident_resolved_while_the_form_was_open_is_refused(bot: Harness) -> None:
    arn = bot.new_incident("Resolved meanwhile")
    _, view = open_picker(bot)
    bot.aws.resolve_incident(arn)
    choose(bot, view, menu(view)["options"][0])
    assert "*Resolved meanwhile* is already resolved" in ephemeral_texts(bot)[0]
    assert "isn't bound" in bot.run("status")
    assert bot.slack.calls_to("chat.postMessage") == []


def test_someone_not_allowed_to_bind_gets_no_form(make_bot: Any) -> None:
    bot: Harness = make_bot(BIND_ALLOWED_USERS="U0009")
    bot.new_incident("Guarded")
    reply = bot.run("bind")
    assert "You aren't allowed to bind or unbind this channel" in reply
    assert bot.slack.calls_to("views.open") == [] and bot.aws.calls_to("ListIncidentRecords") == []


def test_a_replayed_submit_binds_and_announces_once(bot: Harness) -> None:
    bot.new_incident("Once")
    _, view = open_picker(bot)
    option = menu(view)["options"][0]
    values = select_values("incident_choice", "incident_select", option)
    submitted = json.loads(json.dumps(view))
    for _ in range(2):
        payload = slack_requests.view_submission_payload(submitted, values=values)
        body, headers = slack_requests.interactivity(bot.secret, payload)
        assert bot.post(body, headers).status == 200
    texts = ephemeral_texts(bot, 2)
    assert sum("now bound" in text for text in texts) == 1
    assert sum("was already carried out" in text for text in texts) == 1
    assert len(bot.slack.calls_to("chat.postMessage")) == 1


def test_a_listing_refused_by_aws_is_explained(bot: Harness) -> None:
    bot.aws.fail_next("ListIncidentRecords", "AccessDeniedException", times=3)
    reply = bot.run("bind")
    assert "isn't allowed to call `ssm-incidents:ListIncidentRecords`." in reply
    assert "_Reference: " in reply


def test_related_items_follow_rebind_and_unbind_by_arn(bot: Harness) -> None:
    first = bot.bound_incident("First")
    (item,) = bot.aws.related_items(first)
    assert item["identifier"]["value"]["url"] == CHANNEL_URL
    second = bot.new_incident("Second")
    reply = bot.bind(second)
    assert "It was bound to *First* before" in reply
    assert bot.aws.related_items(first) == [] and len(bot.aws.related_items(second)) == 1
    assert "off the incident's *Related items* in the console too" in bot.run("unbind")
    assert bot.aws.related_items(second) == []
    tokens = [call.params["clientToken"] for call in bot.aws.calls_to("UpdateRelatedItems")]
    assert len(tokens) == len(set(tokens)) == 4  # two adds, two removals: one token each


def test_a_refused_related_item_leaves_the_binding_and_names_the_permission(bot: Harness) -> None:
    arn = bot.new_incident("No related items")
    bot.aws.fail_next("UpdateRelatedItems", "AccessDeniedException", times=3)
    reply = bot.bind(arn)
    assert reply.startswith("This channel is now bound to <")
    assert "The binding stands, but this channel isn't on the incident's *Related items*" in reply
    assert "isn't allowed to call `ssm-incidents:UpdateRelatedItems` on this incident" in reply
    assert "No related items" in bot.run("status")


def test_bind_takes_the_incidents_console_address(bot: Harness) -> None:
    arn = bot.new_incident("Pasted from the console")
    path = arn.split(":incident-record/")[1]
    console = f"https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home?region=eu-west-1#/incidents/{path}"
    reply = bot.run(f"bind <{console}>")
    assert "now bound" in reply and "Pasted from the console" in reply
    missing = bot.run("bind no-such-plan/00000000-0000-0000-0000-000000000000")
    assert "There is no open incident `no-such-plan/00000000-0000-0000-0000-000000000000`" in missing
