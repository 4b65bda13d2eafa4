"""Binding a channel to an incident: bound, unbound, status."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.presentation.ids import COMMAND
from bot.presentation.messages.common import (
    BIND_FORM,
    BIND_HOW,
    TEXT,
    escape,
    impact_name,
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


def linked() -> str:
    return " Responders in the console find this channel under the incident's *Related items*."


def unlinked() -> str:
    return " It is off the incident's *Related items* in the console too."


def link_failed(reason: str) -> str:
    return f"\n(The binding stands, but this channel isn't on the incident's *Related items* in the console: {reason})"


def unlink_failed(title: str, reason: str) -> str:
    return (
        f"\n(I couldn't take this channel off the *Related items* of *{escape(title)}*, which it no longer "
        f"serves: {reason})"
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


def no_open_incidents(region: str | None) -> str:
    where = f" in {escape(region)}" if region else ""
    return (
        f"There are no open incidents in Incident Manager{where}, so there is nothing to pick. To bind this "
        f"channel to a particular incident, use {BIND_FORM} (the incident's console address, or its "
        "`plan/id`, works too)."
    )


# The picker form (`bind` alone).

PICKER_TITLE = "Bind this channel"
PICKER_SUBMIT = "Bind"
PICKER_LABEL = "Incident"


def picker_intro(region: str | None, count: int, complete: bool, searchable: bool) -> str:
    where = f" in {escape(region)}" if region else ""
    if not searchable:
        return f"The open incidents in Incident Manager{where}, newest first. Bind this channel to:"
    many = f"{count:,}" if complete else f"more than {count:,}"
    return (
        f"There are {many} open incidents in Incident Manager{where}: type part of a title to find one "
        "(newest first)."
    )


def picker_by_arn() -> str:
    return f"Not listed? Use {BIND_FORM} with its ARN, console address or `plan/id`."


def picker_loading() -> str:
    return "Looking for the open incidents in Incident Manager…"


def picker_search_placeholder() -> str:
    return "Type part of a title"


def pick_one() -> str:
    return "Pick the incident to bind this channel to."


def pick_again() -> str:
    return "The search couldn't list the incidents then: type again, or close this and bind by ARN."


def search_failed_option(reference: str) -> str:
    """What the search menu shows when listing failed (plain text: an option's holds 75 characters)."""
    reference = "".join(char for char in reference if char.isascii() and char.isalnum())[:12]
    return f"Couldn't list incidents, try again (ref {reference})"


def started_ago(started: datetime | None, now: datetime) -> str:
    if started is None:
        return "start unknown"
    elapsed = max(now - started, timedelta(0))
    minutes = int(elapsed.total_seconds() // 60)
    if minutes < 1:
        return "started just now"
    if minutes < 60:
        return f"started {minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"started {hours} h {minutes} min ago" if minutes else f"started {hours} h ago"
    return f"started {hours // 24} days ago"


def incident_option_detail(impact: int | None, started: datetime | None, now: datetime) -> str:
    """What follows an incident's title in the picker's menu (plain text)."""
    return f"{impact_name(impact)} · {started_ago(started, now)}"


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
