"""Turn Slack's escaped message markup into text a person reads on the AWS timeline.

Slack sends mentions and links as `<@U123>`, `<#C123|name>`, `<!subteam^S1|@oncall>`, `<https://x|label>`
and escapes `&`, `<`, `>` as HTML entities. Nothing here calls Slack: names are looked up by the caller
(see `referenced_user_ids`) and passed in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from bot.domain.slack_user import USER_ID

# Slack escapes literal < and >, so a bracketed run is markup: a mention, a special, or a link.
# A link's target stops at its first `|` (the label may hold more): were `|` allowed in both, a long run of
# pipes with no closing `>` would backtrack quadratically (20,000 pipes: seconds on the event loop).
_TOKEN = re.compile(r"<([@#!][^<>]*|[a-zA-Z][a-zA-Z0-9+.-]*:[^<>\s|]*(?:\|[^<>]*)?)>")
_USER_ID = re.compile(rf"^@({USER_ID.pattern})$")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
_SPECIALS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def escape_markup(text: str) -> str:
    """Plain text -> Slack markup (`&`, `<`, `>` as entities): it can never become a mention or a link, and
    `readable` gives the same text back."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], text)


def referenced_user_ids(text: str) -> set[str]:
    """User ids mentioned in the text, whose display names the caller should look up (a mention's own
    label is the legacy handle, used only when the name is unknown)."""
    ids: set[str] = set()
    for inner in _TOKEN.findall(text):
        match = _USER_ID.match(inner.split("|", 1)[0])
        if match:
            ids.add(match.group(1))
    return ids


def _render_token(inner: str, user_names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    label = _unescape(label)
    if target.startswith("@"):
        user_id = target[1:]
        return "@" + (user_names.get(user_id) or label.lstrip("@") or user_id)
    if target.startswith("#"):
        return "#" + (label.lstrip("#") or target[1:])
    if target.startswith("!subteam^"):
        return label or "@" + target.removeprefix("!subteam^")
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):
        keyword = target[1:]
        return label or _SPECIALS.get(keyword, "@" + keyword)
    url = _unescape(target)
    if url.startswith("mailto:"):
        return label or url.removeprefix("mailto:")
    if label and label != url:
        return f"{label} ({url})"
    return url


def render_readable(text: str, user_names: Mapping[str, str] | None = None) -> str:
    """Slack markup -> plain readable text (mentions by name, links as `label (url)`, entities decoded)."""
    names = user_names or {}
    parts: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        parts.append(_unescape(text[last : match.start()]))
        parts.append(_render_token(match.group(1), names))
        last = match.end()
    parts.append(_unescape(text[last:]))
    return "".join(parts)


_KEPT_CONTROLS = {"\n", "\t"}


def clean_text(text: str) -> str:
    """Make any input safe to store and send: no control characters, no lone surrogates.

    Newlines and tabs stay; RTL marks, zero-width joiners and emoji stay (they are format characters, not
    control characters). A lone surrogate cannot be encoded as UTF-8 and becomes U+FFFD.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for char in text:
        if char in _KEPT_CONTROLS:
            out.append(char)
        elif "\ud800" <= char <= "\udfff":
            out.append("\ufffd")
        elif unicodedata.category(char) == "Cc":
            continue
        else:
            out.append(char)
    return "".join(out)


def readable(text: str, user_names: Mapping[str, str] | None = None) -> str:
    """Slack markup -> clean, readable text: what the person meant, safe to send anywhere."""
    return clean_text(render_readable(text, user_names)).strip()
