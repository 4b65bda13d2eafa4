"""A second reply that offers *Undo* ("Now on the timeline" of an entry that waited for Incident Manager),
kept as text in the store until it reaches its person: the reply and the button's token and deadline are
written as one JSON text, and the blocks are built when it is told, without the button once the window
has passed (a click would be refused anyway)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.presentation.views import undo_blocks

_MARK = '{"offer_undo":'


def offer_undo(text: str, client_token: str, until: datetime) -> str:
    """The reply as the store keeps it."""
    return json.dumps(
        {"offer_undo": {"token": client_token, "until": until.isoformat()}, "text": text},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def as_told(reply: str, now: datetime) -> tuple[str, list[dict[str, Any]] | None]:
    """(text, blocks) to send: any kept reply, with the button while `now` is before its deadline."""
    if not reply.startswith(_MARK):
        return reply, None  # a plain reply (every other kind, and those kept by earlier versions)
    try:
        kept = json.loads(reply)
        text = str(kept["text"])
        offer = kept["offer_undo"]
        token, until = str(offer["token"]), datetime.fromisoformat(str(offer["until"]))
    except (ValueError, KeyError, TypeError):
        return reply, None
    if now >= until:
        return text, None
    return text, undo_blocks(text, token, until)
