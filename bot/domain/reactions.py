"""Which reactions are pins: the payload filter shared by `reaction_added` (a pin) and `reaction_removed`
(an un-pin), pure so that every other reaction costs nothing but this look."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PinReaction:
    """A person's TIMELINE_REACTION put on (or taken off) a message: its ts, and who."""

    ts: str
    user_id: str


def pin_reaction(
    event: Mapping[str, Any], timeline_reaction: str, bot_user_id: str | None
) -> PinReaction | None:
    """The pin this reaction event is, or None: another emoji, a reaction on a file, no message ts or user,
    or the bot's own reaction."""
    item = event.get("item") or {}
    # Skin-tone variants ("+1::skin-tone-2") are the same emoji.
    reaction = str(event.get("reaction") or "").split("::", 1)[0]
    if reaction != timeline_reaction or item.get("type") != "message":
        return None
    ts = str(item.get("ts") or "")
    user_id = str(event.get("user") or "")
    if not (ts and user_id) or user_id == bot_user_id:
        return None
    return PinReaction(ts, user_id)
