"""A responder's-eye view of the running bot: send signed Slack requests, read what comes back."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.bot_server import BotServer, HttpResult, http

_counter = itertools.count(1)


@dataclass(frozen=True)
class CommandResult:
    ack: HttpResult
    response_url: str
    trigger_id: str

    @property
    def ack_text(self) -> str:
        payload = self.ack.json()
        return str(payload.get("text", "")) if isinstance(payload, dict) else ""


class Harness:
    def __init__(self, server: BotServer, secret: str, slack: FakeSlack, aws: FakeIncidentManager) -> None:
        self.server = server
        self.secret = secret
        self.slack = slack
        self.aws = aws

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, body: str, headers: dict[str, str]) -> HttpResult:
        return http("POST", self.url + "/slack/events", body, headers)

    def healthz(self) -> HttpResult:
        return http("GET", self.url + "/healthz")

    def command(
        self,
        text: str,
        *,
        channel_id: str = "C0001",
        user_id: str = "U0001",
        user_name: str = "alice",
        team_id: str = "T0001",
        trigger_id: str | None = None,
        response_url: str | None = None,
        **extra: Any,
    ) -> CommandResult:
        trigger_id = trigger_id or self.slack.issue_trigger_id(user_id)
        response_url = response_url or self.slack.new_response_url()
        body, headers = slack_requests.slash_command(
            self.secret,
            text=text,
            response_url=response_url,
            trigger_id=trigger_id,
            channel_id=channel_id,
            user_id=user_id,
            user_name=user_name,
            team_id=team_id,
            **extra,
        )
        return CommandResult(self.post(body, headers), response_url, trigger_id)

    def replies(self, result: CommandResult, count: int = 1, timeout: float = 15.0) -> list[str]:
        payloads = self.slack.wait_for_responses(result.response_url, count, timeout=timeout)
        return [str(payload.get("text", "")) for payload in payloads]

    def reply(self, result: CommandResult, timeout: float = 15.0) -> str:
        """The one reply the person got after the ack (response_url)."""
        replies = self.replies(result, 1, timeout)
        assert len(replies) == 1, replies
        payload = self.slack.responses(result.response_url)[0]
        assert payload.get("response_type", "ephemeral") == "ephemeral", payload
        return replies[0]

    def run(self, text: str, **kwargs: Any) -> str:
        """Send a command that is answered after the ack; return that answer."""
        result = self.command(text, **kwargs)
        assert result.ack.status == 200, result.ack
        assert result.ack.body == "", f"expected an empty ack, got {result.ack.body!r}"
        return self.reply(result)

    def shortcut(
        self,
        message: dict[str, Any],
        *,
        channel_id: str = "C0001",
        user_id: str = "U0001",
        user_name: str = "alice",
        team_id: str = "T0001",
        callback_id: str = "add_to_timeline",
    ) -> CommandResult:
        """Pick "Add to timeline" (or the shortcut `callback_id` names) on `message` (ideally one seeded in
        the fake, as Slack would send it)."""
        trigger_id = self.slack.issue_trigger_id(user_id)
        response_url = self.slack.new_response_url()
        payload = slack_requests.message_shortcut_payload(
            callback_id,
            message=message,
            channel_id=channel_id,
            user_id=user_id,
            user_name=user_name,
            team_id=team_id,
            trigger_id=trigger_id,
            response_url=response_url,
        )
        body, headers = slack_requests.interactivity(self.secret, payload)
        return CommandResult(self.post(body, headers), response_url, trigger_id)

    def react(
        self,
        ts: str,
        *,
        reaction: str = "pushpin",
        channel_id: str = "C0001",
        user_id: str = "U0002",
        item_user: str = "U0001",
        team_id: str = "T0001",
        authorizing_team_id: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> HttpResult:
        """Deliver a signed `reaction_added` event, as Slack's Events API does (retries included)."""
        event = slack_requests.reaction_added_event(user_id, reaction, channel_id, ts, item_user)
        body, headers = slack_requests.event_callback(
            self.secret,
            event,
            team_id=team_id,
            authorizing_team_id=authorizing_team_id,
            event_id=event_id,
            retry_num=retry_num,
        )
        return self.post(body, headers)

    def unreact(
        self, ts: str, *, reaction: str = "pushpin", channel_id: str = "C0001", user_id: str = "U0002"
    ) -> HttpResult:
        """Deliver a signed `reaction_removed` event: `user_id` took their reaction off."""
        event = slack_requests.reaction_removed_event(user_id, reaction, channel_id, ts, "U0001")
        body, headers = slack_requests.event_callback(self.secret, event)
        return self.post(body, headers)

    def deliver(self, event: dict[str, Any], *, event_id: str | None = None) -> HttpResult:
        """Deliver any inner event signed, as the Events API does (e.g. the fake's `edit_message` answer)."""
        body, headers = slack_requests.event_callback(self.secret, event, event_id=event_id)
        return self.post(body, headers)

    def edit(self, ts: str, text: str, channel_id: str = "C0001") -> HttpResult:
        """The message's author edits it in Slack; the bot gets Slack's `message_changed`."""
        return self.deliver(self.slack.edit_message(channel_id, ts, text))

    def delete(self, ts: str, channel_id: str = "C0001") -> HttpResult:
        """The message is deleted in Slack; the bot gets Slack's event for it."""
        return self.deliver(self.slack.delete_message(channel_id, ts))

    def options(self, view: dict[str, Any], action_id: str, block_id: str, value: str) -> HttpResult:
        """An external_select's options request, as Slack sends it while the person types `value`."""
        payload = slack_requests.block_suggestion_payload(
            view, action_id=action_id, block_id=block_id, value=value
        )
        body, headers = slack_requests.interactivity(self.secret, payload)
        return self.post(body, headers)

    def click(
        self, action: dict[str, Any], *, user_id: str = "U0001", channel_id: str = "C0001"
    ) -> CommandResult:
        """A click on `action` (a button as the bot sent it) in an ephemeral message in the channel."""
        response_url = self.slack.new_response_url()
        trigger_id = self.slack.issue_trigger_id(user_id)
        payload = slack_requests.block_actions_payload(
            action, response_url=response_url, trigger_id=trigger_id, user_id=user_id, channel_id=channel_id
        )
        body, headers = slack_requests.interactivity(self.secret, payload)
        return CommandResult(self.post(body, headers), response_url, trigger_id)

    def bind(self, arn: str, **kwargs: Any) -> str:
        return self.run(f"bind {arn}", **kwargs)

    def new_incident(self, title: str = "Checkout DB down", **kwargs: Any) -> str:
        return self.aws.add_incident(title=f"{title}", **kwargs)

    def bound_incident(self, title: str = "Checkout DB down", **kwargs: Any) -> str:
        arn = self.new_incident(title)
        reply = self.bind(arn, **kwargs)
        assert "now bound" in reply, reply
        return arn

    @staticmethod
    def event_text(event: dict[str, Any]) -> str:
        decoded = json.loads(event["eventData"])
        assert isinstance(decoded, str)
        return decoded


def compose_values(text: str | None, event_type: str = "Note", when: int | None = None) -> dict[str, Any]:
    """view.state.values as Slack sends them for the compose modal's three inputs."""
    values: dict[str, Any] = {
        "entry_type": {
            "entry_type_choice": {
                "type": "radio_buttons",
                "selected_option": {"text": {"type": "plain_text", "text": event_type}, "value": event_type},
            }
        },
        "entry_text": {"entry_text_input": {"type": "plain_text_input", "value": text}},
    }
    if when is not None:
        values["entry_time"] = {"entry_time_picker": {"type": "datetimepicker", "selected_date_time": when}}
    return values


def submit_view(
    harness: Harness, view: dict[str, Any], values: dict[str, Any], user_id: str = "U0001"
) -> HttpResult:
    payload = slack_requests.view_submission_payload(view, values=values, user_id=user_id)
    body, headers = slack_requests.interactivity(harness.secret, payload)
    return harness.post(body, headers)


def select_values(
    block_id: str, action_id: str, option: dict[str, Any], kind: str = "static_select"
) -> dict[str, Any]:
    """view.state.values as Slack sends them for one select menu with `option` chosen."""
    return {block_id: {action_id: {"type": kind, "selected_option": option}}}


def values_from_view(view: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """view.state.values as Slack would send them for an untouched form: built from the view's own input
    blocks and their initial values. `changes` maps an action_id to the value the person set instead."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block["element"]
        action_id = element["action_id"]
        kind = element["type"]
        state: dict[str, Any] = {"type": kind}
        if kind == "radio_buttons":
            option = element.get("initial_option")
            if action_id in changes:
                option = next(o for o in element["options"] if o["value"] == changes[action_id])
            state["selected_option"] = option
        elif kind == "plain_text_input":
            state["value"] = changes.get(action_id, element.get("initial_value"))
        elif kind == "datetimepicker":
            state["selected_date_time"] = changes.get(action_id, element.get("initial_date_time"))
        else:
            raise AssertionError(f"unexpected input element {kind}")
        values[block["block_id"]] = {action_id: state}
    return values
