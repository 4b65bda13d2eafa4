"""Turn a Slack message object into what the bot puts on a timeline: who wrote it, where it sits in its
thread, and everything it says as Slack markup.

The message comes from a message-shortcut payload or from `conversations.history` / `.replies`, so any
field may be missing or oddly typed (apps post strange things). Only a bad `ts` is an error: without it
there is no message to point at. Everything else is skipped when it doesn't fit.

The result is Slack's escaped markup (`<@U1>`, `<https://x|label>`, `&amp;` ...), the same form as a
message's own `text`, so the caller turns every message into readable text the same way, with
`bot.domain.slack_text.readable`. Nothing here calls Slack or AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.slack_text import escape_markup
from bot.domain.slack_user import display_name_of
from bot.domain.timeline import UNKNOWN_AUTHOR

# Slack timestamps are "seconds.micros"; ASCII digits only (`\d` would accept any script's digits).
_TS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Ids go inside `<...>` markup, so they must not carry `|`, `<`, `>` or spaces that would break it.
_ID = re.compile(r"[A-Za-z0-9_-]+")
_HEX = re.compile(r"[0-9a-fA-F]{1,6}")
# An `&` that already starts one of Slack's three entities, so escaping a URL twice changes nothing.
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")
_BROADCASTS = frozenset({"here", "channel", "everyone"})
_GONE_FILE_MODES = frozenset({"tombstone", "hidden_by_limit"})
_GONE_FILE = "• (a file that is no longer available)"


@dataclass(frozen=True)
class SlackMessage:
    """What the bot needs from one Slack message to put it on a timeline."""

    ts: str
    author_id: str | None
    author_label: str
    markup: str


def is_slack_ts(value: object) -> bool:
    """A Slack message timestamp ("1712345678.123456")."""
    return isinstance(value, str) and _TS.fullmatch(value) is not None


def parse_message(message: Mapping[str, Any]) -> SlackMessage:
    """Read a Slack message object; raises `ValueError` only when its `ts` is missing or malformed."""
    if not isinstance(message, Mapping):
        raise ValueError("a Slack message must be an object")
    ts = message.get("ts")
    if not isinstance(ts, str) or not is_slack_ts(ts):
        raise ValueError(f"a Slack message needs a ts like '1712345678.123456', got {repr(ts)[:40]}")
    return SlackMessage(
        ts=ts,
        author_id=_text(message.get("user")) or None,
        author_label=_author_label(message),
        # An edited message already carries its current text.
        markup=_markup(message),
    )


# --- tolerant accessors: an unexpected type reads as empty ---------------------------------------------


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _raw(value: object) -> str:
    """A string as it is (preformatted text keeps its spaces), anything else as empty."""
    return value if isinstance(value, str) else ""


def _safe_url(url: str) -> str:
    """A URL that can sit inside `<url|label>`: escaped (idempotently: Slack may have done it already)
    and without the `|` that would end it early."""
    return _BARE_AMP.sub("&amp;", url).replace("<", "&lt;").replace(">", "&gt;").replace("|", "%7C")


def _paragraphs(parts: Sequence[str], sep: str = "\n\n") -> str:
    return sep.join(stripped for part in parts if (stripped := part.strip()))


# --- author ----------------------------------------------------------------------------------------------


def _author_label(message: Mapping[str, Any]) -> str:
    """A name to show when the caller can't look the author up: Slack's own profile copy first, then
    what apps call themselves, then the bare ids."""
    profile = _obj(message.get("user_profile"))
    if label := display_name_of({"profile": profile}):
        return label
    for candidate in (
        _obj(message.get("bot_profile")).get("name"),
        message.get("username"),
        profile.get("name"),
        message.get("user"),
    ):
        if label := _text(candidate):
            return label
    if bot_id := _text(message.get("bot_id")):
        return f"an app ({bot_id})"
    return UNKNOWN_AUTHOR


# --- markup ----------------------------------------------------------------------------------------------


def _markup(message: Mapping[str, Any]) -> str:
    text = _text(message.get("text"))
    blocks = message.get("blocks")
    # Apps often send a short notification `text` and lay the real content out in blocks: people see the
    # blocks then. A person's own message has rich_text blocks that say what its text says.
    parts = [(_blocks(blocks) if _has_layout(blocks) else "") or text or _blocks(blocks)]
    for attachment in _items(message.get("attachments")):
        rendered = _attachment(attachment)
        if rendered and rendered != text:  # Slack repeats the text as an attachment's fallback at times
            parts.append(rendered)
    parts.append(_files(message.get("files")))
    return _paragraphs(parts)


def _attachment(value: object) -> str:
    attachment = _obj(value)
    title = _text(attachment.get("title"))
    link = _text(attachment.get("title_link"))
    lines = [
        _text(attachment.get("pretext")),
        f"<{_safe_url(link)}|{title}>" if title and link else title,
        _text(attachment.get("text")),
        *(_field(field) for field in _items(attachment.get("fields"))),
        _blocks(attachment.get("blocks")),
    ]
    return _paragraphs(lines, "\n") or _text(attachment.get("fallback"))


def _field(value: object) -> str:
    field = _obj(value)
    title, text = _text(field.get("title")), _text(field.get("value"))
    return f"{title}: {text}" if title and text else title or text


def _files(value: object) -> str:
    lines = [line for file in _items(value) if (line := _file(file))]
    return "\n".join(["Files:", *lines]) if lines else ""


def _file(value: object) -> str:
    if not isinstance(value, Mapping):
        return ""
    if _text(value.get("mode")) in _GONE_FILE_MODES:
        return _GONE_FILE
    name = _text(value.get("name")) or _text(value.get("title")) or _text(value.get("id")) or "a file"
    # The name becomes a link label, where `|` would be read as the end of the URL by some readers.
    label = escape_markup(name).replace("|", "¦")
    permalink = _text(value.get("permalink"))
    return f"• <{_safe_url(permalink)}|{label}>" if permalink else f"• {label}"


# --- blocks ----------------------------------------------------------------------------------------------


_LAYOUT_BLOCKS = {"section", "header", "context"}


def _has_layout(value: object) -> bool:
    return any(_text(_obj(block).get("type")) in _LAYOUT_BLOCKS and _block(block) for block in _items(value))


def _blocks(value: object) -> str:
    return _paragraphs([_block(block) for block in _items(value)], "\n")


def _block(value: object) -> str:
    block = _obj(value)
    kind = block.get("type")
    if kind == "rich_text":
        # Unknown elements render as "" and are left out; a section of just "\n" is a deliberate blank line.
        rendered = [_rich_element(element) for element in _items(block.get("elements"))]
        return "\n".join(text.rstrip("\n") for text in rendered if text)
    if kind == "section":
        fields = [_text_object(field) for field in _items(block.get("fields"))]
        return _paragraphs([_text_object(block.get("text")), *fields], "\n")
    if kind == "header":
        return _text_object(block.get("text"))
    if kind == "context":
        return " ".join(text for element in _items(block.get("elements")) if (text := _text_object(element)))
    return ""


def _text_object(value: object) -> str:
    """A Block Kit text object: mrkdwn is markup already, plain_text is escaped into markup."""
    obj = _obj(value)
    text = _text(obj.get("text"))
    if obj.get("type") == "mrkdwn":
        return text
    if obj.get("type") == "plain_text":
        return escape_markup(text)
    return ""


def _rich_element(value: object) -> str:
    element = _obj(value)
    kind = element.get("type")
    if kind in ("rich_text_section", "rich_text_preformatted"):
        return _inline_run(element.get("elements"))
    if kind == "rich_text_quote":
        return "\n".join("&gt; " + line for line in _inline_run(element.get("elements")).split("\n"))
    if kind == "rich_text_list":
        return _rich_list(element)
    return ""


def _rich_list(element: Mapping[str, Any]) -> str:
    indent = element.get("indent")
    depth = indent if isinstance(indent, int) and not isinstance(indent, bool) and 0 <= indent <= 8 else 0
    offset = element.get("offset")
    first = offset + 1 if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0 else 1
    ordered = element.get("style") == "ordered"
    lines: list[str] = []
    for number, item in enumerate(_items(element.get("elements")), start=first):
        marker = f"{number}. " if ordered else "• "
        lines.append("  " * depth + marker + _rich_element(item).strip())
    return "\n".join(lines)


def _inline_run(value: object) -> str:
    return "".join(_inline(element) for element in _items(value))


def _inline(value: object) -> str:
    element = _obj(value)
    kind = element.get("type")
    if kind == "text":
        return escape_markup(_raw(element.get("text")))
    if kind == "link":
        url, label = _text(element.get("url")), escape_markup(_raw(element.get("text")))
        if not url:
            return label
        return f"<{_safe_url(url)}|{label}>" if label.strip() else f"<{_safe_url(url)}>"
    if kind == "user":
        return _mention("@", element.get("user_id"))
    if kind == "channel":
        return _mention("#", element.get("channel_id"))
    if kind == "usergroup":
        return _mention("!subteam^", element.get("usergroup_id"))
    if kind == "broadcast":
        target = _text(element.get("range"))
        return f"<!{target}>" if target in _BROADCASTS else ""
    if kind == "emoji":
        return _emoji(element)
    if kind == "date":
        return _date(element)
    if kind == "color":
        return escape_markup(_text(element.get("value")))
    return ""


def _mention(prefix: str, value: object) -> str:
    ident = _text(value)
    return f"<{prefix}{ident}>" if _ID.fullmatch(ident) else ""


def _emoji(element: Mapping[str, Any]) -> str:
    """The emoji itself when Slack gives its code points (`1f1ec-1f1e7`), else its `:name:`."""
    points = _text(element.get("unicode")).split("-")
    if all(_HEX.fullmatch(point) for point in points):
        codes = [int(point, 16) for point in points]
        if all(code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF for code in codes):
            return "".join(map(chr, codes))
    name = _text(element.get("name"))
    return f":{escape_markup(name)}:" if name else ""


def _date(element: Mapping[str, Any]) -> str:
    if fallback := _text(element.get("fallback")):
        return escape_markup(fallback)
    timestamp = element.get("timestamp")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return str(timestamp)
    return escape_markup(_text(timestamp))


@dataclass(frozen=True)
class MessageRef:
    """One Slack message, wherever it is referred to from: its workspace, channel and ts."""

    team_id: str
    channel_id: str
    ts: str
