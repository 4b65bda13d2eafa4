"""`/incident-note help`, and what a command used the wrong way is told."""

from __future__ import annotations

from bot.domain.commands import TIMELINE_DEFAULT, TIMELINE_MAX, MalformedReason
from bot.presentation.ids import COMMAND
from bot.presentation.messages.common import BIND_FORM, PICK_FORM, TEXT, escape, your_text


def help_text() -> str:
    return "\n".join(
        [
            "*Add to this incident's timeline in AWS Incident Manager:*",
            f"• `{COMMAND} {TEXT}` — add a note",
            f"• `{COMMAND} note {TEXT}` — add a note (use this when your text starts with a keyword)",
            f"• `{COMMAND} event {TEXT}` — add a custom event",
            f"• `{COMMAND}` alone — a form: type, text and time",
            "• a message's ⋮ menu → *Add to timeline* — a form prefilled from that message, at its time",
            "• react to a message with the timeline emoji (:pushpin: unless your admins chose "
            "another) — adds it as a note at its time",
            f"• {PICK_FORM} — tie this channel to an incident: pick it from the open ones",
            f"• {BIND_FORM} — tie this channel to that incident (its ARN, console address or `plan/id`)",
            f"• `{COMMAND} unbind` — untie this channel",
            f"• `{COMMAND} status` — which incident this channel is tied to",
            f"• `{COMMAND} timeline` — the incident's latest {TIMELINE_DEFAULT} timeline events "
            f"(`timeline 25`: up to {TIMELINE_MAX})",
            f"• `{COMMAND} help` — this list",
            "The ARN looks like `arn:aws:ssm-incidents::111122223333:incident-record/plan/id`; copy it (or the "
            "page's address) from the incident's page in the Incident Manager console.",
        ]
    )


def help_reply(trailing: str) -> str:
    if not trailing:
        return help_text()
    return (
        help_text()
        + f"\nTo add a note that starts with “help”, use `{COMMAND} note help …`."
        + your_text(f"help {trailing}")
    )


def command_incomplete() -> str:
    return (
        "Slack sent this command without saying who sent it or from which channel, so nothing was done. "
        "Try again; if it keeps happening, tell the bot's operators."
    )


def other_workspace() -> str:
    return (
        "This bot serves only the Slack workspace it is installed in, and this request came from another "
        "one, so nothing was done. Ask your Slack admins to install it in your workspace."
    )


def malformed_problem(reason: MalformedReason, keyword: str) -> str:
    """What is wrong with a keyword used the wrong way (`status now`, `bind` without an ARN)."""
    match reason:
        case MalformedReason.BIND_TAKES_ONE_ARN:
            return (
                "`bind` takes exactly one incident record ARN (or nothing, to pick from the open incidents)."
            )
        case MalformedReason.TIMELINE_COUNT:
            return (
                f"`timeline` takes how many events to show, from 1 to {TIMELINE_MAX} (nothing: the latest "
                f"{TIMELINE_DEFAULT}). To add a note that starts with “timeline”, use `{COMMAND} note timeline …`."
            )
        case MalformedReason.TAKES_NOTHING:
            return f"`{escape(keyword)}` takes nothing after it."
