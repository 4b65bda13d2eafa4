"""Every reply is valid Slack mrkdwn: a raw "<" only ever opens a mention or link the bot built itself."""

from __future__ import annotations

import inspect
import pkgutil
import re
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

import pytest

from bot.domain.commands import MalformedReason
from bot.domain.timeline import EventType
from bot.presentation import messages
from bot.presentation.messages.problems import Action, Failure, outcome_of

# The bot's own markup: mentions of known ids, user groups, links, and dates shown in each reader's zone.
ALLOWED_CONTROL = re.compile(
    r"<(@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+|https://[^|>\s]+\|[^<>]*|!date\^\d+\^[^|<>]*\|[^<>]*)>"
)
HOSTILE = "<!channel> & <@U1> <https://evil.example|click> ```"

SAMPLES: dict[str, Any] = {
    "str": HOSTILE,
    "int": 7,
    "int | None": 2,
    "bool": False,
    "datetime": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    "datetime | None": datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    "EventType": EventType.NOTE,
    "EventType | None": EventType.CUSTOM_EVENT,
    "frozenset[str]": frozenset({"U0001"}),
    "str | None": HOSTILE,
    "tuple[str, int | None] | None": ("OPEN", 2),
    "timedelta": timedelta(hours=3),
    "MalformedReason": MalformedReason.TAKES_NOTHING,
    "Action": Action.ADD,
}


# Parameters that take text the bot already rendered as mrkdwn (the composition helpers); every other
# string parameter gets hostile raw input.
PRE_RENDERED = {
    ("with_reference", "text"),
    ("with_reference", "reference"),
    ("announcement_failed", "reason"),
    ("malformed", "problem"),
    ("link_failed", "reason"),
    ("unlink_failed", "reason"),
    ("thread_failed", "explanation"),
}


def _sample(function: str, name: str, annotation: str) -> Any:
    if (function, name) in PRE_RENDERED:
        return "already *rendered* <@U0001>"
    if name == "url":
        return "https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home#/incidents/p/i"
    if name in ("user_id", "bound_by"):
        return "U0001"
    if name == "allowed_usergroups":
        return frozenset({"S0001"})
    return SAMPLES[annotation]


def _all_replies() -> list[tuple[str, str]]:
    replies: list[tuple[str, str]] = []
    for module_info in pkgutil.iter_modules(messages.__path__):
        module = import_module(f"{messages.__name__}.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name in ("escape", "link", "quoted"):
                continue
            parameters = inspect.signature(function).parameters.values()
            result = function(*(_sample(name, p.name, str(p.annotation)) for p in parameters))
            if isinstance(result, Failure):
                texts: tuple[str, ...] = (
                    result.what,
                    result.todo,
                    result.render(outcome_of(Action.ADD), HOSTILE),
                )
            else:
                texts = (result,)
            replies.extend((name, text) for text in texts)
    return replies


@pytest.mark.parametrize(("name", "text"), _all_replies())
def test_reply_has_no_stray_slack_control_characters(name: str, text: str) -> None:
    stray = ALLOWED_CONTROL.sub("", text)
    assert "<" not in stray, f"{name}: {text!r}"  # a ">" alone is harmless (it quotes a line)
    assert "<!channel>" not in text and "<@U1>" not in text  # hostile input never becomes live markup
