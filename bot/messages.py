"""Every sentence the bot says to a person, in one place. Slack mrkdwn; user text is always escaped."""

from __future__ import annotations

import re
from datetime import datetime

from bot.domain.timeline import EVENT_DATA_LIMIT, EventType

COMMAND = "/incident-note"
# Slack reads a raw "<" as the start of a link or mention, even inside `code`: placeholders are escaped.
TEXT = "&lt;text&gt;"
ARN = "&lt;incident-record-arn&gt;"
BIND_FORM = f"`{COMMAND} bind {ARN}`"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

IMPACT_NAMES = {1: "Critical", 2: "High", 3: "Medium", 4: "Low", 5: "No impact"}


def escape(text: str) -> str:
    """Slack mrkdwn escaping, so user text can never become a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    return f"<{url}|{escape(label).replace('|', '¦')}>"


def quoted(text: str) -> str:
    return "\n".join("> " + line for line in escape(text).split("\n"))


def your_text(text: str) -> str:
    """The person's own words, given back so nothing they typed is lost."""
    if not text.strip():
        return ""
    safe = escape(text).replace("```", "'''")
    return f"\nHere is your text so you can send it again:\n```{safe}```"


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


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
            f"• {BIND_FORM} — tie this channel to an incident",
            f"• `{COMMAND} unbind` — untie this channel",
            f"• `{COMMAND} status` — which incident this channel is tied to",
            f"• `{COMMAND} help` — this list",
            "The ARN looks like `arn:aws:ssm-incidents::111122223333:incident-record/plan/id`; copy it from "
            "the incident's page in the Incident Manager console.",
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


def malformed(problem: str, original: str) -> str:
    return f"{problem}\n\n{help_text()}{your_text(original)}"


def entry_empty(event_type: EventType) -> str:
    keyword = "note" if event_type is EventType.NOTE else "event"
    return (
        f"There is nothing to add: the {event_type.noun} is empty. "
        f"Type the text after the command, for example `{COMMAND} {keyword} DB failover finished`."
    )


def entry_too_long(over_by: int, text: str) -> str:
    return (
        f"Nothing was added: Incident Manager takes at most {EVENT_DATA_LIMIT:,} characters per timeline "
        f"event (counted after encoding, including the author line; an emoji counts as two), and this one is "
        f"{over_by:,} over. "
        f"Shorten it by at least {over_by:,} characters, or split it into several notes." + your_text(text)
    )


def entry_added(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    return f"Added a {event_type.noun} to {link(url, title)} at {utc(event_time)}:\n{quoted(text)}"


def entry_already_added(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    return (
        f"Already on the timeline of {link(url, title)}, as a {event_type.noun} at {utc(event_time)} "
        f"(added once, however often it is asked for):\n{quoted(text)}"
    )


def entry_queued(
    event_type: EventType, title: str, url: str, event_time: datetime, text: str, why: str, pin: bool
) -> str:
    """Saved while Incident Manager is busy, failing or slow; a second reply follows."""
    what = "This message is saved" if pin else f"Your {event_type.noun} is saved"
    then = (
        "it gets the ✅ when it lands (or I tell you if it can't)"
        if pin
        else "I'll tell you here when it lands (or if it can't)"
    )
    return (
        f"{what} but not on the timeline yet: {escape(why)}. It will be added to "
        f"{link(url, title)} at {utc(event_time)} as soon as Incident Manager answers, and {then}. "
        f"You don't need to send it again:\n{quoted(text)}"
    )


def entry_landed_later(event_type: EventType, title: str, url: str, event_time: datetime, text: str) -> str:
    return (
        f"Now on the timeline: the {event_type.noun} that was waiting for Incident Manager was added to "
        f"{link(url, title)} at {utc(event_time)}:\n{quoted(text)}"
    )


def gave_up(waited: str, uncertain: bool) -> tuple[str, str]:
    if uncertain:
        return (
            f"Incident Manager kept failing or not answering for {escape(waited)}, so I stopped trying; one try "
            "timed out, so I can't tell whether it was added.",
            "Check the incident's timeline in the console before adding it again.",
        )
    return (
        f"Incident Manager kept failing or not answering for {escape(waited)}, so I stopped trying.",
        "Add it again once Incident Manager is back.",
    )


# How to bind, as every "not bound" reply says it.
BIND_HOW = f"Bind it with {BIND_FORM} (copy the ARN from the incident's page in the Incident Manager console)"


def not_bound() -> str:
    return f"This channel isn't bound to an incident yet, so nothing was added. {BIND_HOW}."


def status_not_bound() -> str:
    return f"This channel isn't bound to an incident. {BIND_HOW}."


def not_bound_with_text(text: str) -> str:
    return not_bound() + your_text(text)


def binding_changed(current_title: str, text: str) -> str:
    return (
        f"Nothing was added: while the form was open, this channel was bound to *{escape(current_title)}*, "
        "a different incident from the one the form showed. Check it's the right one and add it again."
        + your_text(text)
    )


def compose_text_empty() -> str:
    return "Type what happened: the text can't be empty."


def compose_time_in_future() -> str:
    return "That time is in the future. Pick when it happened."


def invalid_arn(reason: str) -> str:
    return (
        f"That isn't an incident record ARN: {escape(reason)}. Nothing was changed. "
        "It looks like `arn:aws:ssm-incidents::111122223333:incident-record/plan-name/id`."
    )


def incident_resolved(title: str) -> str:
    return (
        f"*{escape(title)}* is already resolved, so this channel was not bound to it. "
        "Bind the channel to an open incident instead."
    )


def bind_not_allowed(allowed_users: frozenset[str], allowed_usergroups: frozenset[str]) -> str:
    who = [f"<@{user}>" for user in sorted(allowed_users)]
    who += [f"<!subteam^{group}>" for group in sorted(allowed_usergroups)]
    return (
        "You aren't allowed to bind or unbind this channel, so nothing was changed. "
        f"Ask one of these: {', '.join(who)}. Notes, `status` and `help` are open to everyone."
    )


def bind_permission_unknown(reason: str) -> tuple[str, str]:
    return (
        f"Binding is limited to certain user groups, and I couldn't check yours because {escape(reason)}.",
        "Try again in a minute.",
    )


def incident_label(status: str, impact: int | None) -> str:
    label = escape(status)
    if impact is not None:
        label += f", impact {impact} ({IMPACT_NAMES.get(impact, 'unknown')})"
    return label


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


def with_reference(text: str, reference: str) -> str:
    return f"{text}\n_Reference: {reference}_"


# Failures: what happened, then what the person can do. Chosen by bot.failures.


def outcome_of(action: str) -> str:
    return {
        "add": "Nothing was added to the timeline.",
        "bind": "The channel was not bound.",
        "unbind": "Nothing was changed.",
        "status": "",
        "announce": "",
        "compose": "",
        "capture": "",
        "pin": "The message was not added to the timeline.",
    }.get(action, "")


def failure(what_happened: str, action: str, what_to_do: str, text: str = "") -> str:
    parts = [what_happened, outcome_of(action), what_to_do]
    return " ".join(part for part in parts if part) + your_text(text)


def throttled() -> tuple[str, str]:
    return (
        "Incident Manager is throttling requests right now and still refused after several tries.",
        "Try again in a minute.",
    )


def incident_missing_for_add(title: str | None, region: str | None) -> tuple[str, str]:
    name = f"*{escape(title)}*" if title else "The incident this channel is bound to"
    return (
        f"{name} no longer exists in Incident Manager{_in_region(region)} (it may have been deleted).",
        f"Bind the channel to the current incident with {BIND_FORM}.",
    )


def incident_missing_for_bind(region: str | None) -> tuple[str, str]:
    return (
        f"Incident Manager has no incident record with that ARN{_in_region(region)}.",
        "Check the ARN, and that the bot runs in the incident's region.",
    )


def _in_region(region: str | None) -> str:
    return f" in {escape(region)}" if region else ""


def access_denied(operation: str) -> tuple[str, str]:
    return (
        f"The bot's AWS role isn't allowed to call `ssm-incidents:{escape(operation)}` on this incident.",
        "Ask your AWS administrator to grant it (README.md has the IAM policy the bot needs).",
    )


def request_rejected(constraint: str) -> tuple[str, str]:
    return (
        f"Incident Manager rejected the request: {escape(constraint)}.",
        "Change the text or the ARN accordingly and try again.",
    )


def conflict() -> tuple[str, str]:
    return (
        "Incident Manager refused it as a repeat of an earlier request that had different details.",
        "If you meant to add something new, send it again as a new command.",
    )


def aws_internal_error() -> tuple[str, str]:
    return ("Incident Manager had an internal error.", "Try again in a minute.")


def aws_refused() -> tuple[str, str]:
    return (
        "Incident Manager refused the request.",
        "Try again; if it keeps failing, give the reference below to the bot's operators.",
    )


def no_credentials() -> tuple[str, str]:
    return (
        "The bot has no AWS credentials.",
        "An operator needs to give it credentials (environment variables, a profile or a role).",
    )


def bad_credentials(expired: bool) -> tuple[str, str]:
    problem = "have expired" if expired else "were not accepted"
    return (
        f"The bot's AWS credentials {problem}.",
        "An operator needs to renew or fix the bot's AWS credentials.",
    )


def no_region() -> tuple[str, str]:
    return (
        "The bot has no AWS region configured.",
        "An operator needs to set AWS_REGION to the region of your Incident Manager replication set.",
    )


def aws_unreachable() -> tuple[str, str]:
    return (
        "The bot couldn't reach Incident Manager.",
        "Try again in a minute; if it keeps failing, an operator should check the bot's network and endpoint.",
    )


def aws_outcome_unknown() -> tuple[str, str]:
    return (
        "Incident Manager didn't answer in time, so I can't tell whether it was added.",
        "Check the incident's timeline in the console before adding it again.",
    )


def aws_timed_out() -> tuple[str, str]:
    return ("Incident Manager didn't answer in time.", "Try again in a minute.")


def timed_out() -> tuple[str, str]:
    return ("A service the bot depends on didn't answer in time.", "Try again in a minute.")


def bot_bug() -> tuple[str, str]:
    return (
        "The bot built a request that Incident Manager would reject; that is a bug in the bot.",
        "Please tell the bot's operators and give them the reference below.",
    )


def slack_not_in_channel() -> tuple[str, str]:
    return ("I'm not a member of this channel.", "Invite me with `/invite @Incident Timeline` and try again.")


def slack_channel_not_found() -> tuple[str, str]:
    return (
        "I can't see this channel (private channels need an invitation).",
        "Invite me with `/invite @Incident Timeline` and try again.",
    )


def slack_trigger_expired() -> tuple[str, str]:
    return ("Slack took too long to open the form.", "Please try again.")


def slack_rate_limited() -> tuple[str, str]:
    return ("Slack is rate-limiting the bot right now.", "Try again in a few seconds.")


def slack_refused(error: str) -> tuple[str, str]:
    return (
        f"Slack refused the bot's request ({escape(error)}).",
        "Try again; if it keeps failing, tell the bot's operators.",
    )


def slack_unavailable() -> tuple[str, str]:
    return ("Slack is having trouble right now.", "Try again in a minute.")


def slack_unreachable() -> tuple[str, str]:
    return ("The bot couldn't reach Slack.", "Try again in a minute.")


def internal_error() -> tuple[str, str]:
    return (
        "Something went wrong inside the bot.",
        "Try again; if it keeps happening, give the reference below to the bot's operators.",
    )


# The "Add to timeline" modal, the shortcut and the pin reaction.


def goes_to(incident_title: str) -> str:
    return f"Goes to the incident *{escape(incident_title)}*"


def message_source(author_id: str | None, author_label: str, posted_at: datetime) -> str:
    # Slack shows a mention as the person's current name; anything not shaped like a user id is text.
    author = f"<@{author_id}>" if author_id and _USER_ID.match(author_id) else f"*{escape(author_label)}*"
    seconds = int(posted_at.timestamp())
    # Slack shows <!date^…> in each reader's own time zone; the fallback is UTC.
    when = f"<!date^{seconds}^{{date_short_pretty}} at {{time}}|{utc(posted_at)}>"
    return f"Message by {author}, posted {when}"


def capture_text_hint() -> str:
    return "Prefilled from the message. What is in this box is what goes on the timeline."


def capture_message_long(full_length: int) -> str:
    return (
        f"This message has {full_length:,} characters, more than this box holds, so the box shows only the "
        "beginning. *Leave it unchanged and the whole message is added*; edit it and exactly what is in the "
        "box is added."
    )


def capture_message_too_long(full_length: int, over_by: int) -> str:
    return (
        f"This message has {full_length:,} characters: {over_by:,} more than one timeline event can hold "
        f"(Incident Manager's limit is {EVENT_DATA_LIMIT:,}, counted with the author line). "
        "*Edit the box down to what matters*: what is in the box is what is added."
    )


def capture_too_long_error(over_by: int) -> str:
    return (
        f"The whole message is {over_by:,} characters over Incident Manager's limit. "
        "Edit this box down to what matters; what is in the box is what is added."
    )


def capture_not_bound() -> str:
    return (
        "This channel isn't bound to an incident, so there is no timeline to add this message to. "
        f"{BIND_HOW}, then use *Add to timeline* on the message again."
    )


def draft_missing() -> str:
    return (
        "I no longer have the whole text of that message (the form was open for days, or the bot's storage "
        "was reset), so nothing was added. Use *Add to timeline* on the message again."
    )


def message_empty() -> str:
    return "That message has no text, attachments or files I can put on the timeline, so nothing was added."


def message_too_long(over_by: int) -> str:
    return (
        f"Nothing was added: that message is {over_by:,} characters over what one timeline event can hold "
        f"(Incident Manager's limit is {EVENT_DATA_LIMIT:,}, counted with the author line). "
        "Use *Add to timeline* from the message's menu to shorten it first."
    )


def message_not_found() -> tuple[str, str]:
    return (
        "I couldn't find that message (it may have been deleted).",
        "If it still exists, use *Add to timeline* from the message's menu instead.",
    )


def message_unreadable(reason: str) -> tuple[str, str]:
    return (
        f"I couldn't read that message ({escape(reason)}).",
        "Use *Add to timeline* from the message's menu instead; it needs no access to the channel's history.",
    )
