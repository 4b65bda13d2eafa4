"""Binding a channel to an incident: bound, unbound, status."""

from __future__ import annotations

from datetime import datetime

from bot.presentation.ids import COMMAND
from bot.presentation.messages.common import (
    BIND_FORM,
    BIND_HOW,
    TEXT,
    escape,
    incident_label,
    link,
    utc,
)


def status_not_bound() -> str:
    return f"This channel isn't bound to an incident. {BIND_HOW}."


def bound(title: str, url: str, status: str, impact: int | None, previous_title: str | None) -> str:
    text = (
        f"This channel is now bound to {link(url, title)} ({incident_label(status, impact)}). "
        f"`{COMMAND} {TEXT}` adds notes to its timeline."
    )
    if previous_title is not None:
        text += f" It was bound to *{escape(previous_title)}* before; that binding is replaced."
    return text


def rebound_same(title: str, url: str, status: str, impact: int | None) -> str:
    return (
        f"This channel was already bound to {link(url, title)} ({incident_label(status, impact)}); "
        "it stays bound to it, with the title refreshed from Incident Manager."
    )


def bind_announcement(user_id: str, title: str, url: str) -> str:
    return (
        f"<@{user_id}> bound this channel to the incident {link(url, title)}. "
        f"Add to its timeline with `{COMMAND} {TEXT}`."
    )


def announcement_failed(reason: str) -> str:
    return f"\n(I couldn't announce the binding in the channel: {reason}.)"


def unbound(title: str) -> str:
    return (
        f"This channel is no longer bound to *{escape(title)}*. Notes won't go anywhere until someone binds "
        f"it again with {BIND_FORM}."
    )


def already_done(keyword: str) -> str:
    return (
        f"That `{escape(keyword)}` was already carried out (Slack delivered the same command twice), so nothing "
        "was done again."
    )


def nothing_to_unbind() -> str:
    return "This channel isn't bound to an incident, so there was nothing to unbind."


def status(
    title: str,
    url: str,
    arn: str,
    bound_by: str,
    bound_at: datetime,
    live: tuple[str, int | None] | None,
    live_error: str | None,
) -> str:
    lines = [f"This channel is bound to {link(url, title)}."]
    if live is not None:
        lines.append(f"Status in Incident Manager: {incident_label(*live)}.")
    elif live_error is not None:
        lines.append(f"I couldn't fetch its current status: {live_error}")
    lines.append(f"Bound by <@{bound_by}> on {utc(bound_at)}. ARN: `{escape(arn)}`")
    return "\n".join(lines)
