"""The payload filter of pins and un-pins (bot/domain/reactions.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.reactions import PinReaction, pin_reaction

BOT = "UBOT"


def reaction(name: str = "pushpin", *, user: str = "U0001", kind: str = "message", ts: str = "1.2") -> Any:
    return {"type": "reaction_added", "user": user, "reaction": name, "item": {"type": kind, "ts": ts}}


def test_a_persons_pin_on_a_message_is_a_pin_skin_tones_included() -> None:
    assert pin_reaction(reaction(), "pushpin", BOT) == PinReaction("1.2", "U0001")
    assert pin_reaction(reaction("pushpin::skin-tone-3"), "pushpin", BOT) == PinReaction("1.2", "U0001")


@pytest.mark.parametrize(
    "event",
    [
        reaction("eyes"),
        reaction("pushpin_extra"),
        reaction(kind="file"),
        reaction(ts=""),
        reaction(user=""),
        reaction(user=BOT),
        {"type": "reaction_added"},
    ],
    ids=["other emoji", "longer name", "file", "no ts", "no user", "the bot's own", "empty"],
)
def test_anything_else_is_not_a_pin(event: Any) -> None:
    assert pin_reaction(event, "pushpin", BOT) is None
