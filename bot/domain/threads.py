"""A Slack thread put on the timeline: which of its messages go, in what order, and how many at once.

Every message goes as a 📌 would put it: a Note of the message as it is, at its own time, by its own
author. Left out: this bot's own messages (its confirmations and announcements are not the incident's
story), Slack's notices (joins and leaves, the placeholder of a deleted parent) and messages with nothing
to add. Messages from other apps and bots (alerts, deploy notices) do go: in an incident they often say
what happened first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.domain.slack_message import SlackMessage, parse_message

# Messages one run of "Add thread to timeline" puts on the timeline at most. At the bot's default
# 5 Incident Manager calls a second that is 40 s of sending; those already on the timeline don't count,
# so running it again on a longer thread adds the next ones.
THREAD_CAP = 200

# Slack's notices in a conversation, which say nothing about the incident.
_NOTICE_SUBTYPES = frozenset(
    {
        "tombstone",  # what is left of a deleted parent that still has replies
        "channel_join",
        "channel_leave",
        "group_join",
        "group_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "pinned_item",
        "unpinned_item",
        "reminder_add",
    }
)


class LeftOut(StrEnum):
    """Why a message of the thread is not put on the timeline."""

    OWN = "own"  # this bot's own message
    NOTICE = "notice"  # Slack's notice (a join, a deleted parent's placeholder)
    EMPTY = "empty"  # no text, no file, no attachment: nothing to add


@dataclass(frozen=True)
class ThreadMessages:
    """The thread's messages that go on the timeline, the parent first, then the replies oldest first."""

    messages: list[SlackMessage]
    left_out: Counter[LeftOut] = field(default_factory=Counter)

    @property
    def left_out_count(self) -> int:
        return sum(self.left_out.values())


def thread_messages(raw: Sequence[Mapping[str, Any]], *, bot_user_id: str, bot_id: str) -> ThreadMessages:
    """Sort out the thread as Slack returned it (in order, each once)."""
    messages: list[SlackMessage] = []
    left_out: Counter[LeftOut] = Counter()
    for item in raw:
        reason = _left_out(item, bot_user_id, bot_id)
        if reason is None:
            try:
                message = parse_message(item)
            except ValueError:
                reason = LeftOut.NOTICE
            else:
                if message.markup.strip():
                    messages.append(message)
                    continue
                reason = LeftOut.EMPTY
        left_out[reason] += 1
    return ThreadMessages(messages, left_out)


def _left_out(message: Mapping[str, Any], bot_user_id: str, bot_id: str) -> LeftOut | None:
    if (bot_id and message.get("bot_id") == bot_id) or (bot_user_id and message.get("user") == bot_user_id):
        return LeftOut.OWN
    if message.get("subtype") in _NOTICE_SUBTYPES:
        return LeftOut.NOTICE
    return None
