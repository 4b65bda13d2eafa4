"""Reading an event's eventData back: the bot's own notes, Incident Manager's objects, anything else."""

from __future__ import annotations

import json

from bot.domain.events import EventText, read_event_data
from bot.domain.timeline import Attribution, compose_event_text, encode_event_data

PERMALINK = "https://acme.slack.com/archives/C0123/p1764150000123456"


def test_the_bots_own_note_reads_back_with_its_link_apart() -> None:
    data = encode_event_data(compose_event_text("failover done", Attribution("bob", "alice", PERMALINK)))
    assert read_event_data(data) == EventText("failover done\n\n— bob, via Slack (added by alice)", PERMALINK)


def test_a_note_without_a_message_has_no_link() -> None:
    data = encode_event_data(compose_event_text("typed", Attribution("alice")))
    assert read_event_data(data) == EventText("typed\n\n— alice, via Slack")


def test_a_link_in_the_middle_of_the_text_stays_text() -> None:
    text = f"see {PERMALINK}\nthen restart"
    assert read_event_data(json.dumps(text)) == EventText(text)


def test_incident_managers_own_objects_are_spelled_out() -> None:
    data = json.dumps({"title": "Checkout DB down", "impact": 2, "resolved": False, "tags": ["db", None]})
    assert read_event_data(data).text == "title: Checkout DB down, impact: 2, resolved: no, tags: [db, none]"
    nested = json.dumps({"modifiedAttributes": [{"attributeName": "status", "newValue": "RESOLVED"}]})
    assert read_event_data(nested).text == "modifiedAttributes: [(attributeName: status, newValue: RESOLVED)]"


def test_data_that_is_not_json_is_shown_as_it_is_and_control_characters_go() -> None:
    assert read_event_data("plain words\x00").text == "plain words"
    assert read_event_data("").text == ""
    assert read_event_data('"\\ud800 lone"').text == "\ufffd lone"


def test_deep_or_wide_objects_are_cut_short() -> None:
    deep: object = "bottom"
    for _ in range(10):
        deep = {"k": deep}
    assert "…" in read_event_data(json.dumps(deep)).text
    wide = {f"k{i}": i for i in range(100)}
    assert read_event_data(json.dumps(wide)).text.endswith("k39: 39, …")
