"""Block Kit views as pure functions (built with slack_sdk's models, which enforce Slack's limits)."""

from __future__ import annotations

import hashlib
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

from bot.domain.timeline import EventType, utf16_length
from bot.presentation.ids import ActionId, BlockId, CallbackId
from bot.presentation.messages import capture as says

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


@dataclass(frozen=True)
class CaptureContext:
    """What the "Add to timeline" modal carries between opening and submit (in private_metadata).

    The message itself is not re-read at submit: what the modal showed is what lands.
    """

    team_id: str
    channel_id: str
    incident_arn: str
    message_ts: str
    author_id: str | None
    author_label: str
    # Keys (see `text_key`) of prefills that show only the message's beginning: submitting one of them
    # unchanged means "the whole message", kept in the store under `draft_id`.
    shortened_keys: tuple[str, ...] = ()
    draft_id: str | None = None
    # How far the whole message is over Incident Manager's limit (0 when it fits; known after enrichment).
    over_by: int = 0
    permalink: str | None = None
    response_url: str | None = None

    def to_metadata(self) -> str:
        data: dict[str, Any] = {
            "team": self.team_id,
            "channel": self.channel_id,
            "incident": self.incident_arn,
            "ts": self.message_ts,
            "author": self.author_id,
            "label": self.author_label[:80],
            "keys": list(self.shortened_keys),
            "draft": self.draft_id,
            "over": self.over_by,
            "link": self.permalink,
            "reply": self.response_url,
        }
        metadata = json.dumps(data, separators=(",", ":"))
        if len(metadata) > METADATA_LIMIT:
            # Both are looked up again (or replaced by chat.postEphemeral) when missing.
            data["link"] = data["reply"] = None
            metadata = json.dumps(data, separators=(",", ":"))
        if len(metadata) > METADATA_LIMIT:
            raise ValueError("private_metadata over Slack's limit")
        return metadata

    @staticmethod
    def from_metadata(metadata: str) -> CaptureContext:
        data = json.loads(metadata)

        def optional(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value else None

        return CaptureContext(
            team_id=str(data["team"]),
            channel_id=str(data["channel"]),
            incident_arn=str(data["incident"]),
            message_ts=str(data["ts"]),
            author_id=optional("author"),
            author_label=str(data.get("label") or ""),
            shortened_keys=tuple(str(key) for key in data.get("keys") or ()),
            draft_id=optional("draft"),
            over_by=int(data.get("over") or 0),
            permalink=optional("link"),
            response_url=optional("reply"),
        )


def text_key(text: str) -> str:
    """A short fingerprint of a prefilled text, to tell at submit whether the person changed it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


@dataclass(frozen=True)
class BoxText:
    """What the text box shows for a message, and whether that is only its beginning."""

    shown: str
    truncated: bool


def fit_text_box(full: str) -> BoxText:
    """The message's text as the box can hold it (Slack counts in UTF-16 units, like the input limit)."""
    if utf16_length(full) <= TEXT_INPUT_LIMIT:
        return BoxText(full, False)
    kept: list[str] = []
    used = 0
    for char in full:
        width = utf16_length(char)
        if used + width > TEXT_INPUT_LIMIT - 1:  # one unit left for the ellipsis
            break
        kept.append(char)
        used += width
    return BoxText("".join(kept) + "…", True)


def _type_option(event_type: EventType) -> Option:
    return Option(value=event_type.value, text=event_type.value)


def _type_input() -> InputBlock:
    return InputBlock(
        block_id=BlockId.TYPE,
        label="Type",
        element=RadioButtonsElement(
            action_id=ActionId.TYPE,
            options=[_type_option(EventType.NOTE), _type_option(EventType.CUSTOM_EVENT)],
            initial_option=_type_option(EventType.NOTE),
        ),
    )


def _text_input(block_id: BlockId, initial: str | None, hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label="What happened",
        hint=hint,
        element=PlainTextInputElement(
            action_id=ActionId.TEXT,
            multiline=True,
            max_length=TEXT_INPUT_LIMIT,
            initial_value=initial or None,
            focus_on_load=True,
        ),
    )


def _time_input(moment: datetime) -> InputBlock:
    return InputBlock(
        block_id=BlockId.TIME,
        label="When (your local time)",
        element=DateTimePickerElement(action_id=ActionId.TIME, initial_date_time=int(moment.timestamp())),
    )


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _modal(callback_id: CallbackId, metadata: str, blocks: list[Any]) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback_id,
        title="Add to timeline",
        submit="Add",
        close="Cancel",
        private_metadata=metadata,
        blocks=blocks,
    )
    view.validate_json()
    return view.to_dict()


def compose_modal(context: ComposeContext, incident_title: str, now: datetime) -> dict[str, Any]:
    """The compose form: type, multi-line text, time (defaults to now), and where it goes."""
    return _modal(
        CallbackId.COMPOSE,
        context.to_metadata(),
        [
            _context(says.goes_to(incident_title)),
            _type_input(),
            _text_input(BlockId.TEXT, None),
            _time_input(now),
        ],
    )


def capture_modal(
    context: CaptureContext,
    incident_title: str,
    box: BoxText,
    message_time: datetime,
    full_length: int,
) -> dict[str, Any]:
    """The "Add to timeline" form for a message: prefilled from it, at its own time.

    Block ids never change between versions of the form: Slack keeps what the person typed across
    views.update only while an input's block_id stays the same.
    """
    blocks: list[Any] = [
        _context(says.goes_to(incident_title)),
        _context(says.message_source(context.author_id, context.author_label, message_time)),
        _type_input(),
        _text_input(BlockId.TEXT, box.shown, hint=says.capture_text_hint()),
    ]
    if context.over_by > 0:
        blocks.append(_context(says.capture_message_too_long(full_length, context.over_by)))
    elif box.truncated:
        blocks.append(_context(says.capture_message_long(full_length)))
    blocks.append(_time_input(message_time))
    return _modal(CallbackId.CAPTURE, context.to_metadata(), blocks)


@dataclass(frozen=True)
class ComposeSubmission:
    event_type: EventType
    text: str
    event_time: datetime | None


def read_compose_submission(state_values: dict[str, Any]) -> ComposeSubmission:
    """Pull the person's choices out of view.state.values; missing pieces come back empty."""
    chosen = ((state_values.get(BlockId.TYPE) or {}).get(ActionId.TYPE) or {}).get("selected_option") or {}
    event_type = (
        EventType.CUSTOM_EVENT if chosen.get("value") == EventType.CUSTOM_EVENT.value else EventType.NOTE
    )
    text = ((state_values.get(BlockId.TEXT) or {}).get(ActionId.TEXT) or {}).get("value") or ""
    picked = ((state_values.get(BlockId.TIME) or {}).get(ActionId.TIME) or {}).get("selected_date_time")
    return ComposeSubmission(event_type=event_type, text=str(text), event_time=_picked_time(picked))


def _picked_time(picked: Any) -> datetime | None:
    """The picker's epoch seconds as UTC; None when missing or not a time at all (never raises)."""
    if not (isinstance(picked, int | str) and str(picked).isdigit()):
        return None
    try:
        return datetime.fromtimestamp(int(picked), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
