"""The confirmation's blocks with the Undo button: pure builders, valid for Slack (slack_sdk.models)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, SectionBlock

from bot.presentation.ids import ActionId
from bot.presentation.outcomes import undo_until
from bot.presentation.views import SECTION_TEXT_LIMIT, text_blocks, undo_blocks

UNTIL = datetime(2026, 11, 26, 9, 50, tzinfo=UTC)


def parsed(blocks: list[dict[str, object]]) -> list[Block]:
    out = []
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()
        out.append(block)
    return out


def test_the_blocks_show_the_text_the_deadline_and_the_button() -> None:
    section, hint, actions = parsed(undo_blocks("Added a note:\n> hi", "slack-abc", UNTIL))
    assert isinstance(section, SectionBlock) and section.text is not None
    assert section.text.text == "Added a note:\n> hi"
    assert isinstance(hint, ContextBlock)
    assert f"<!date^{int(UNTIL.timestamp())}^{{time}}|09:50 UTC>" in hint.elements[0].text  # type: ignore[union-attr]
    assert isinstance(actions, ActionsBlock)
    [button] = actions.elements
    assert isinstance(button, ButtonElement)
    assert (button.action_id, button.value, button.text.text) == (ActionId.UNDO_ENTRY, "slack-abc", "Undo")  # type: ignore[union-attr]


@pytest.mark.parametrize("length", [1, 2999, 3000, 3001, 12_500])
def test_any_length_is_cut_into_valid_sections_that_keep_every_character(length: int) -> None:
    text = ("word " * length)[:length].strip() or "x"
    sections = [b for b in parsed(text_blocks(text)) if isinstance(b, SectionBlock)]
    shown = [b.text.text for b in sections if b.text is not None]
    assert all(len(part) <= SECTION_TEXT_LIMIT for part in shown)
    assert "".join(shown) == text  # one line: cut, never lost


def test_lines_are_kept_whole_where_they_fit() -> None:
    text = "\n".join(f"line {n} " + "y" * 200 for n in range(40))
    shown = [b.text.text for b in parsed(text_blocks(text)) if isinstance(b, SectionBlock) and b.text]
    assert "\n".join(shown) == text and all(part.startswith("line ") for part in shown)


def test_the_deadline_shown_never_promises_more_than_the_window() -> None:
    asked = datetime(2026, 11, 26, 9, 40, 59, 999999, tzinfo=UTC)
    assert undo_until(asked, timedelta(minutes=10)) == datetime(2026, 11, 26, 9, 50, tzinfo=UTC)
