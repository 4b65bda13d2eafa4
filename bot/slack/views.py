"""Block Kit views as pure functions (built with slack_sdk's models, which enforce Slack's limits)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
)
from slack_sdk.models.views import View

from bot.domain.timeline import EventType
from bot.messages import escape

COMPOSE_CALLBACK_ID = "compose_timeline_entry"
TYPE_BLOCK, TYPE_ACTION = "entry_type", "entry_type_choice"
TEXT_BLOCK, TEXT_ACTION = "entry_text", "entry_text_input"
TIME_BLOCK, TIME_ACTION = "entry_time", "entry_time_picker"
# Slack's limits: plain_text_input holds 3,000 characters; private_metadata 3,000.
TEXT_INPUT_LIMIT = 3000
METADATA_LIMIT = 3000


@dataclass(frozen=True)
class ComposeContext:
    """What the modal carries between opening and submit (in private_metadata)."""

    team_id: str
    channel_id: str
    incident_arn: str

    def to_metadata(self) -> str:
        metadata = json.dumps(
            {"team": self.team_id, "channel": self.channel_id, "incident": self.incident_arn}
        )
        if len(metadata) > METADATA_LIMIT:
            raise ValueError("private_metadata over Slack's limit")
        return metadata

    @staticmethod
    def from_metadata(metadata: str) -> ComposeContext:
        data = json.loads(metadata)
        return ComposeContext(str(data["team"]), str(data["channel"]), str(data["incident"]))


def _type_option(event_type: EventType) -> Option:
    return Option(value=event_type.value, text=event_type.value)


def compose_modal(context: ComposeContext, incident_title: str, now: datetime) -> dict[str, Any]:
    """The compose form: type, multi-line text, time (defaults to now), and where it goes."""
    view = View(
        type="modal",
        callback_id=COMPOSE_CALLBACK_ID,
        title="Add to timeline",
        submit="Add",
        close="Cancel",
        private_metadata=context.to_metadata(),
        blocks=[
            ContextBlock(
                elements=[MarkdownTextObject(text=f"Goes to the incident *{escape(incident_title)}*")]
            ),
            InputBlock(
                block_id=TYPE_BLOCK,
                label="Type",
                element=RadioButtonsElement(
                    action_id=TYPE_ACTION,
                    options=[_type_option(EventType.NOTE), _type_option(EventType.CUSTOM_EVENT)],
                    initial_option=_type_option(EventType.NOTE),
                ),
            ),
            InputBlock(
                block_id=TEXT_BLOCK,
                label="What happened",
                element=PlainTextInputElement(
                    action_id=TEXT_ACTION, multiline=True, max_length=TEXT_INPUT_LIMIT, focus_on_load=True
                ),
            ),
            InputBlock(
                block_id=TIME_BLOCK,
                label="When (your local time)",
                element=DateTimePickerElement(action_id=TIME_ACTION, initial_date_time=int(now.timestamp())),
            ),
        ],
    )
    view.validate_json()
    return view.to_dict()


@dataclass(frozen=True)
class ComposeSubmission:
    event_type: EventType
    text: str
    event_time: datetime | None


def read_compose_submission(state_values: dict[str, Any]) -> ComposeSubmission:
    """Pull the person's choices out of view.state.values; missing pieces come back empty."""
    chosen = ((state_values.get(TYPE_BLOCK) or {}).get(TYPE_ACTION) or {}).get("selected_option") or {}
    event_type = (
        EventType.CUSTOM_EVENT if chosen.get("value") == EventType.CUSTOM_EVENT.value else EventType.NOTE
    )
    text = ((state_values.get(TEXT_BLOCK) or {}).get(TEXT_ACTION) or {}).get("value") or ""
    picked = ((state_values.get(TIME_BLOCK) or {}).get(TIME_ACTION) or {}).get("selected_date_time")
    event_time = (
        datetime.fromtimestamp(int(picked), tz=UTC)
        if isinstance(picked, int | str) and str(picked).isdigit()
        else None
    )
    return ComposeSubmission(event_type=event_type, text=str(text), event_time=event_time)
