""" "Add thread to timeline": while a thread goes in, and the one confirmation at the end."""

from __future__ import annotations

import re
from datetime import datetime

from bot.domain.threads import THREAD_CAP
from bot.presentation.messages.common import BIND_HOW, escape, link, utc

SHORTCUT = "*Add thread to timeline*"
MODAL_TITLE = "Add thread to timeline"  # Slack: a modal's title holds 24 characters
MODAL_CLOSE = "Close"
# A failed message's text, given back this long at most (the message itself is still in Slack).
EXCERPT_LENGTH = 150
_PLAIN_URL = re.compile(r"https://[^\s|<>]+")


def _messages(count: int) -> str:
    return f"{count:,} message" if count == 1 else f"{count:,} messages"


def thread_not_bound() -> str:
    return (
        "This channel isn't bound to an incident, so there is no timeline to add this thread to. "
        f"{BIND_HOW}, then use {SHORTCUT} on the message again."
    )


def thread_reading() -> str:
    return "Reading the thread…"


def thread_starting(total: int, title: str, url: str, skipped: int) -> str:
    there = f" ({skipped:,} more already on the timeline are skipped)" if skipped else ""
    return f"Adding {_messages(total)} of this thread to {link(url, title)}…{there}"


def thread_progress(done: int, total: int, added: int, queued: int, failed: int) -> str:
    parts = [f"{added:,} added"]
    if queued:
        parts.append(f"{queued:,} saved for later")
    if failed:
        parts.append(f"{failed:,} failed")
    return f"{done:,} of {total:,} done: {', '.join(parts)}. You can close this; it carries on."


def thread_counts(title: str, url: str, added: int, skipped: int, failed: int, queued: int) -> str:
    """The confirmation's first line: every count, zeros too, so two runs read alike."""
    return (
        f"Thread added to {link(url, title)}: *{added:,} added*, {skipped:,} skipped (already on the "
        f"timeline), {failed:,} failed, {queued:,} queued (saved, will land when Incident Manager answers)."
    )


def thread_all_there(title: str, url: str, skipped: int) -> str:
    return (
        f"Every message of this thread is already on the timeline of {link(url, title)}: "
        f"*0 added*, {skipped:,} skipped (already on the timeline), 0 failed, 0 queued."
    )


def thread_how_added() -> str:
    return "Each added message is a note at its own time, by its own author, and has the ✅ in the thread."


def thread_left_out(own: int, notices: int, empty: int) -> str:
    parts = []
    if own:
        parts.append(f"{own:,} of this bot's own")
    if notices:
        parts.append(f"{notices:,} of Slack's notices (joins, a deleted message)")
    if empty:
        parts.append(f"{empty:,} with nothing to add (no text, file or attachment)")
    return f"Left out: {'; '.join(parts)}."


def thread_queued(count: int, why: str) -> str:
    return (
        f"{_messages(count)} saved but not on the timeline yet: {escape(why)}. They are added as soon as "
        "Incident Manager answers, each gets the ✅ when it lands (I tell you about any that can't), and "
        "you don't need to run it again."
    )


def thread_failed(count: int, explanation: str) -> str:
    """A group of messages that failed alike; `explanation` is the mapping layer's (with its reference)."""
    return f"{_messages(count)} not added. {explanation}"


def failed_message(author: str, posted_at: datetime, text: str, permalink: str | None) -> str:
    """One failed message, its text given back (in part: the message is still in the thread)."""
    excerpt = text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"
    # Slack's own link (chat.getPermalink); anything that could end the link early is left out.
    safe = permalink is not None and _PLAIN_URL.fullmatch(permalink) is not None
    where = f" ({link(permalink, 'the message')})" if safe and permalink else ""
    return f"• {escape(author)}, {utc(posted_at)}{where}: “{escape(excerpt)}”"


def and_more(count: int) -> str:
    return f"• and {_messages(count)} more"


def thread_over_cap(count: int, first_at: datetime) -> str:
    return (
        f"{_messages(count)} of this thread, from {utc(first_at)} on, were *not* added: one run adds at most "
        f"{THREAD_CAP} messages. Use {SHORTCUT} on the thread again to add the next ones (those already on "
        "the timeline are skipped), or 📌 the ones that matter."
    )
