"""Block Kit views as pure functions (built with slack_sdk's models, which enforce Slack's limits)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DateTimePickerElement,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.commands import TIMELINE_MAX
from bot.domain.events import ReadEvent
from bot.domain.timeline import EventType, utf16_length
from bot.presentation.ids import ActionId, BlockId, CallbackId
from bot.presentation.messages import binding as binding_says
from bot.presentation.messages import capture as says
from bot.presentation.messages import lifecycle as lifecycle_says
from bot.presentation.messages import timeline as timeline_says
from bot.usecases.binding import OpenIncidents
from bot.usecases.ports import IncidentSummary
from bot.usecases.timeline_events import TimelinePage

# Slack's limits: plain_text_input holds 3,000 characters; private_metadata 3,000.
TEXT_INPUT_LIMIT = 3000
METADATA_LIMIT = 3000
# A select menu holds 100 options; an option's text 75 characters, its value 150; a button's value 2,000.
OPTIONS_LIMIT = 100
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
BUTTON_VALUE_LIMIT = 2000
# A section's text holds 3,000 characters; a message 50 blocks.
SECTION_TEXT_LIMIT = 3000
MESSAGE_BLOCKS_LIMIT = 50
# The option the search shows when it could not list the incidents (never a reference bind accepts).
SEARCH_FAILED_VALUE = "search-failed"


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


def _modal(
    callback_id: CallbackId,
    metadata: str,
    blocks: list[Any],
    *,
    title: str = "Add to timeline",
    submit: str | None = "Add",
    close: str = "Cancel",
) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback_id,
        title=title,
        submit=submit,
        close=close,
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


# The picker: `bind` alone.


@dataclass(frozen=True)
class PickerContext:
    """What the picker carries between opening and submit (in private_metadata): where it was opened,
    and what the channel's related item on the incident is made of."""

    team_id: str
    channel_id: str
    channel_name: str
    workspace_url: str | None

    def to_metadata(self) -> str:
        data = {
            "team": self.team_id,
            "channel": self.channel_id,
            "name": self.channel_name[:100],
            "url": (self.workspace_url or "")[:300] or None,
        }
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def from_metadata(metadata: str) -> PickerContext:
        data = json.loads(metadata)
        url = data.get("url")
        return PickerContext(
            str(data["team"]), str(data["channel"]), str(data.get("name") or ""), str(url) if url else None
        )


def incident_option_value(arn: str) -> str | None:
    """What an option carries: the ARN, or (when longer than a value holds) the `plan/id` bind resolves."""
    if len(arn) <= OPTION_VALUE_LIMIT:
        return arn
    path = arn.partition(":incident-record/")[2]
    return path if 0 < len(path) <= OPTION_VALUE_LIMIT else None


def incident_option(incident: IncidentSummary, now: datetime) -> Option | None:
    """Title, impact and how long ago it started, in the 75 characters an option shows."""
    value = incident_option_value(incident.arn)
    if value is None:
        return None
    detail = " · " + binding_says.incident_option_detail(incident.impact, incident.creation_time, now)
    room = OPTION_TEXT_LIMIT - len(detail)
    title = incident.title.strip() or "(untitled)"
    if len(title) > room:
        title = title[: room - 1] + "…"
    return Option(value=value, text=title + detail)


def incident_options(incidents: list[IncidentSummary], now: datetime) -> list[Option]:
    options = [option for incident in incidents if (option := incident_option(incident, now))]
    return options[:OPTIONS_LIMIT]


def options_payload(options: list[Option]) -> list[dict[str, Any]]:
    """Options as an external_select's options request is answered."""
    return [option.to_dict() for option in options]


def search_failed_options(reference: str) -> list[dict[str, Any]]:
    failed = Option(value=SEARCH_FAILED_VALUE, text=binding_says.search_failed_option(reference))
    return options_payload([failed])


def picker_modal(
    context: PickerContext, listing: OpenIncidents, region: str | None, now: datetime
) -> dict[str, Any]:
    """Every open incident in one menu when they fit; else a search over titles (app.options)."""
    options = incident_options(listing.incidents, now)
    searchable = not listing.complete or len(listing.incidents) > OPTIONS_LIMIT
    element: StaticSelectElement | ExternalDataSelectElement
    if searchable:
        element = ExternalDataSelectElement(
            action_id=ActionId.INCIDENT_SEARCH,
            placeholder=binding_says.picker_search_placeholder(),
            min_query_length=0,
        )
    else:
        element = StaticSelectElement(
            action_id=ActionId.INCIDENT, placeholder=binding_says.pick_one()[:150], options=options
        )
    intro = binding_says.picker_intro(region, len(listing.incidents), listing.complete, searchable)
    blocks: list[Any] = [
        _context(intro),
        InputBlock(block_id=BlockId.INCIDENT, label=binding_says.PICKER_LABEL, element=element),
        _context(binding_says.picker_by_arn()),
    ]
    return _modal(
        CallbackId.BIND_PICKER,
        context.to_metadata(),
        blocks,
        title=binding_says.PICKER_TITLE,
        submit=binding_says.PICKER_SUBMIT,
    )


def picker_notice_modal(context: PickerContext, text: str) -> dict[str, Any]:
    """The picker's place while the incidents are listed, or when there is nothing to pick."""
    shown = text if len(text) <= SECTION_TEXT_LIMIT else text[: SECTION_TEXT_LIMIT - 1] + "…"
    return _modal(
        CallbackId.BIND_PICKER,
        context.to_metadata(),
        [SectionBlock(text=MarkdownTextObject(text=shown))],
        title=binding_says.PICKER_TITLE,
        submit=None,
        close="Close",
    )


def read_picker_choice(state_values: dict[str, Any]) -> str | None:
    """The chosen option's value (from whichever menu the form had); None when nothing was chosen."""
    block = state_values.get(BlockId.INCIDENT) or {}
    for action_id in (ActionId.INCIDENT, ActionId.INCIDENT_SEARCH):
        chosen = ((block.get(action_id) or {}).get("selected_option") or {}).get("value")
        if isinstance(chosen, str) and chosen:
            return chosen
    return None


# `timeline`: the reply's blocks.


@dataclass(frozen=True)
class MoreTimeline:
    """What the "More" button carries: whose timeline, where the next page starts, how many a page."""

    incident_arn: str
    next_token: str
    count: int

    def to_value(self) -> str:
        return json.dumps(
            {"a": self.incident_arn, "t": self.next_token, "n": self.count}, separators=(",", ":")
        )

    @staticmethod
    def from_value(value: str) -> MoreTimeline:
        data = json.loads(value)
        return MoreTimeline(str(data["a"]), str(data["t"]), max(1, min(TIMELINE_MAX, int(data["n"]))))


# How much of an event's text a line shows, tried in turn until the reply fits Slack's block limit.
_TEXT_CAPS = (600, 300, 120, 40)


def timeline_message(
    title: str, url: str, page: TimelinePage, count: int, arn: str, first_page: bool
) -> tuple[str, list[dict[str, Any]]]:
    """(the notification's text, the blocks) of one page of the timeline."""
    if not page.events and first_page:
        empty: list[Block] = [SectionBlock(text=MarkdownTextObject(text=timeline_says.empty(title, url)))]
        return timeline_says.fallback(title, 0), _valid(empty)
    heading = timeline_says.heading(title, url, len(page.events), first_page)
    sections: list[str] = []
    for cap in _TEXT_CAPS:
        sections = _packed([_event_line(event, cap) for event in page.events])
        if len(sections) + 2 <= MESSAGE_BLOCKS_LIMIT:
            break
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=heading))]
    blocks += [SectionBlock(text=MarkdownTextObject(text=section)) for section in sections]
    if page.next_token is None:
        blocks.append(_context(timeline_says.beginning_reached()))
    else:
        more = MoreTimeline(arn, page.next_token, count).to_value()
        if len(more) <= BUTTON_VALUE_LIMIT:
            button = ButtonElement(
                text=timeline_says.more_button(), action_id=ActionId.TIMELINE_MORE, value=more
            )
            blocks.append(ActionsBlock(elements=[button]))
        else:
            blocks.append(_context(timeline_says.more_by_count(TIMELINE_MAX)))
    return timeline_says.fallback(title, len(page.events)), _valid(blocks)


def _event_line(event: ReadEvent, cap: int) -> str:
    text = event.text.text
    if len(text) > cap:
        text = text[:cap].rstrip() + " …"
    return timeline_says.event_line(event.event_type, event.event_time, text, event.text.permalink)


def _packed(lines: list[str]) -> list[str]:
    """Lines joined into as few sections as Slack's 3,000 characters each allow."""
    sections: list[str] = []
    for line in lines:
        line = line if len(line) <= SECTION_TEXT_LIMIT else line[: SECTION_TEXT_LIMIT - 1] + "…"
        if sections and len(sections[-1]) + 2 + len(line) <= SECTION_TEXT_LIMIT:
            sections[-1] += "\n\n" + line
        else:
            sections.append(line)
    return sections


# The confirmation of an added entry, with its Undo button.


def undo_blocks(text: str, client_token: str, until: datetime) -> list[dict[str, Any]]:
    """The confirmation `text` with an *Undo* button (its value: the entry's token) and how long it works."""
    if len(client_token) > BUTTON_VALUE_LIMIT:
        raise ValueError("a client token longer than a button's value")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=part)) for part in _sections(text)]
    blocks.append(_context(lifecycle_says.undo_hint(until)))
    button = ButtonElement(
        text=lifecycle_says.undo_button(), action_id=ActionId.UNDO_ENTRY, value=client_token
    )
    blocks.append(ActionsBlock(elements=[button]))
    return _valid(blocks)


def text_blocks(text: str) -> list[dict[str, Any]]:
    """`text` alone, as blocks: what replaces a message that had blocks (so none of them stays)."""
    return _valid([SectionBlock(text=MarkdownTextObject(text=part)) for part in _sections(text)])


def _sections(text: str) -> list[str]:
    """`text` cut into as few sections as Slack's 3,000 characters each allow, at line ends where it can
    (a reply quotes up to 12,000 characters of an entry)."""
    sections: list[str] = []
    for line in text.split("\n"):
        while len(line) > SECTION_TEXT_LIMIT:
            sections.append(line[:SECTION_TEXT_LIMIT])
            line = line[SECTION_TEXT_LIMIT:]
        if sections and len(sections[-1]) + 1 + len(line) <= SECTION_TEXT_LIMIT:
            sections[-1] += "\n" + line
        else:
            sections.append(line)
    # A section's text cannot be empty or blank.
    return [section for section in sections if section.strip()] or ["\u200b"]


def _valid(blocks: list[Block]) -> list[dict[str, Any]]:
    if len(blocks) > MESSAGE_BLOCKS_LIMIT:
        raise ValueError("more blocks than a Slack message holds")
    for block in blocks:
        block.validate_json()
    return [block.to_dict() for block in blocks]
