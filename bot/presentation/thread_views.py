""" "Add thread to timeline": what the person reads while the thread goes in and once it is in, as text
paragraphs (an ephemeral reply, when the modal could not open) and as the modal (a pure function, built
with slack_sdk's models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.domain.threads import LeftOut
from bot.domain.timeline import from_slack_ts
from bot.presentation.failures import Action, FailureContext, explain
from bot.presentation.ids import CallbackId
from bot.presentation.messages import threads as says
from bot.presentation.outcomes import queued_reason
from bot.usecases.threads import MessageFailure, ThreadTally

# Slack's limits: a section's text holds 3,000 characters, a modal 100 blocks.
SECTION_TEXT_LIMIT = 3000
MODAL_BLOCKS_LIMIT = 100
# Failed messages listed per reason; the rest are counted.
FAILED_LISTED = 10


def reading_text() -> list[str]:
    return [says.thread_reading()]


def progress_text(tally: ThreadTally, title: str, url: str) -> list[str]:
    """While it goes in: how many, how far."""
    return [
        says.thread_starting(tally.total, title, url, tally.skipped),
        says.thread_progress(tally.done, tally.total, tally.added, len(tally.queued), len(tally.failed)),
    ]


def report_text(tally: ThreadTally, title: str, url: str, region: str | None) -> list[str]:
    """The one confirmation: every count, then what was left out, queued, failed or not reached."""
    if tally.total == 0 and not tally.failed and tally.skipped:
        paragraphs = [says.thread_all_there(title, url, tally.skipped)]
    else:
        paragraphs = [
            says.thread_counts(title, url, tally.added, tally.skipped, len(tally.failed), len(tally.queued))
        ]
        if tally.added:
            paragraphs.append(says.thread_how_added())
    if tally.left_out:
        paragraphs.append(
            says.thread_left_out(
                tally.left_out.get(LeftOut.OWN, 0),
                tally.left_out.get(LeftOut.NOTICE, 0),
                tally.left_out.get(LeftOut.EMPTY, 0),
            )
        )
    if tally.queued:
        why = queued_reason(tally.queued_reason, tally.queued_waiting_for_turn)
        paragraphs.append(says.thread_queued(len(tally.queued), why))
    paragraphs += _failures(tally.failed, title, region)
    if tally.over_cap:
        paragraphs.append(says.thread_over_cap(len(tally.over_cap), from_slack_ts(tally.over_cap[0].ts)))
    return paragraphs


def whole_failure_text(error: BaseException, title: str | None, region: str | None, operation: str) -> str:
    """Nothing could be done (the thread could not be read): the mapping layer's reply."""
    context = FailureContext(action=Action.THREAD, operation=operation, incident_title=title, region=region)
    return explain(error, context).text


def _failures(failed: list[MessageFailure], title: str, region: str | None) -> list[str]:
    """Failed messages grouped by what went wrong, each group explained once (its reference in the log
    with every message of the group's own line)."""
    groups: dict[str, tuple[str, list[MessageFailure]]] = {}
    context = FailureContext(action=Action.PIN, incident_title=title, region=region)
    for failure in sorted(failed, key=lambda failure: failure.message.ts):
        explanation = explain(failure.error, context)
        groups.setdefault(explanation.kind, (explanation.text, []))[1].append(failure)
    paragraphs = []
    for text, members in groups.values():
        lines = [says.thread_failed(len(members), text)]
        for failure in members[:FAILED_LISTED]:
            message = failure.message
            posted: datetime = from_slack_ts(message.ts)
            lines.append(says.failed_message(message.author_label, posted, message.markup, failure.permalink))
        if len(members) > FAILED_LISTED:
            lines.append(says.and_more(len(members) - FAILED_LISTED))
        paragraphs.append("\n".join(lines))
    return paragraphs


def as_reply(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def thread_modal(paragraphs: list[str]) -> dict[str, Any]:
    """The progress (then the result) modal: text only, nothing to submit."""
    blocks = [SectionBlock(text=MarkdownTextObject(text=text)) for text in _sections(paragraphs)]
    view = View(
        type="modal",
        callback_id=CallbackId.THREAD_PROGRESS,
        title=says.MODAL_TITLE,
        close=says.MODAL_CLOSE,
        blocks=blocks[:MODAL_BLOCKS_LIMIT],
    )
    view.validate_json()
    return view.to_dict()


def _sections(paragraphs: list[str]) -> list[str]:
    """Paragraphs cut to what a section holds: a long one at its line breaks, a long line at its end."""
    sections: list[str] = []
    for paragraph in paragraphs:
        current = ""
        for line in paragraph.split("\n"):
            if len(line) > SECTION_TEXT_LIMIT:
                line = line[: SECTION_TEXT_LIMIT - 1] + "…"
            if current and len(current) + 1 + len(line) > SECTION_TEXT_LIMIT:
                sections.append(current)
                current = line
            else:
                current = f"{current}\n{line}" if current else line
        if current.strip():
            sections.append(current)
    return sections
