"""Failures, said one way: what happened, what it means for what the person was doing, what they can do,
and their text given back. The mapping layer (`bot.presentation.failures`) picks which."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.domain.timeline import EVENT_DATA_LIMIT, EventType
from bot.presentation.ids import COMMAND
from bot.presentation.messages.common import BIND_FORM, BIND_HOW, escape, your_text
from bot.presentation.messages.help import help_text


class Action(StrEnum):
    """What the person was doing when it failed."""

    ADD = "add"
    BIND = "bind"
    UNBIND = "unbind"
    STATUS = "status"
    ANNOUNCE = "announce"
    COMPOSE = "compose"
    CAPTURE = "capture"
    PIN = "pin"
    # Listing the open incidents for the picker (and its search); seeing the timeline.
    PICK = "pick"
    TIMELINE = "timeline"
    # Putting the channel on its incident's related items, or taking it off (the binding stands).
    RELATE = "relate"
    # An entry following Slack: the Undo button, a 📌 taken off, a message edited or deleted.
    UNDO = "undo"
    UNPIN = "unpin"
    EDIT = "edit"
    DELETE = "delete"


_OUTCOMES = {
    Action.ADD: "Nothing was added to the timeline.",
    Action.BIND: "The channel was not bound.",
    Action.UNBIND: "Nothing was changed.",
    Action.PIN: "The message was not added to the timeline.",
    Action.UNDO: "It is still on the timeline.",
    Action.UNPIN: "It is still on the timeline.",
    Action.EDIT: "The timeline still shows the message as it was.",
    Action.DELETE: "It is still on the timeline.",
}


def outcome_of(action: Action) -> str:
    """What a failure means for the action ("Nothing was added to the timeline."), where it says more."""
    return _OUTCOMES.get(action, "")


@dataclass(frozen=True)
class Failure:
    """A failure as the person reads it: what happened, then what they can do."""

    what: str
    todo: str = ""

    def render(self, outcome: str = "", text: str = "") -> str:
        """The reply: what happened, the outcome for the action (when given), what to do, and the
        person's text given back (when given)."""
        return " ".join(part for part in (self.what, outcome, self.todo) if part) + your_text(text)


# The person's own doing, or the channel's state


def malformed(problem: str) -> Failure:
    return Failure(f"{problem}\n\n{help_text()}")


def entry_empty(event_type: EventType) -> Failure:
    keyword = "note" if event_type is EventType.NOTE else "event"
    return Failure(
        f"There is nothing to add: the {event_type.noun} is empty. "
        f"Type the text after the command, for example `{COMMAND} {keyword} DB failover finished`."
    )


def entry_too_long(over_by: int) -> Failure:
    return Failure(
        f"Nothing was added: Incident Manager takes at most {EVENT_DATA_LIMIT:,} characters per timeline "
        f"event (counted after encoding, including the author line; an emoji counts as two), and this one is "
        f"{over_by:,} over.",
        f"Shorten it by at least {over_by:,} characters, or split it into several notes.",
    )


def channel_not_bound() -> Failure:
    return Failure("This channel isn't bound to an incident yet, so nothing was added.", f"{BIND_HOW}.")


def binding_changed(current_title: str) -> Failure:
    return Failure(
        f"Nothing was added: while the form was open, this channel was bound to *{escape(current_title)}*, "
        "a different incident from the one the form showed.",
        "Check it's the right one and add it again.",
    )


def invalid_arn(reason: str) -> Failure:
    return Failure(
        f"That isn't an incident record ARN: {escape(reason)}. Nothing was changed.",
        "It looks like `arn:aws:ssm-incidents::111122223333:incident-record/plan-name/id`.",
    )


def incident_resolved(title: str) -> Failure:
    return Failure(
        f"*{escape(title)}* is already resolved, so this channel was not bound to it.",
        "Bind the channel to an open incident instead.",
    )


def incident_not_open(reference: str, region: str | None) -> Failure:
    return Failure(
        f"There is no open incident `{escape(reference)}` in Incident Manager{_in_region(region)}, so the "
        "channel was not bound.",
        "A resolved incident can't be bound; otherwise check the address, or paste the incident's ARN.",
    )


def bind_not_allowed(allowed_users: frozenset[str], allowed_usergroups: frozenset[str]) -> Failure:
    who = [f"<@{user}>" for user in sorted(allowed_users)]
    who += [f"<!subteam^{group}>" for group in sorted(allowed_usergroups)]
    return Failure(
        "You aren't allowed to bind or unbind this channel, so nothing was changed.",
        f"Ask one of these: {', '.join(who)}. Notes, `status` and `help` are open to everyone.",
    )


def draft_missing() -> Failure:
    return Failure(
        "I no longer have the whole text of that message (the form was open for days, or the bot's storage "
        "was reset), so nothing was added.",
        "Use *Add to timeline* on the message again.",
    )


def message_empty() -> Failure:
    return Failure(
        "That message has no text, attachments or files I can put on the timeline, so nothing was added."
    )


def message_too_long(over_by: int) -> Failure:
    return Failure(
        f"Nothing was added: that message is {over_by:,} characters over what one timeline event can hold "
        f"(Incident Manager's limit is {EVENT_DATA_LIMIT:,}, counted with the author line).",
        "Use *Add to timeline* from the message's menu to shorten it first.",
    )


def message_not_found() -> Failure:
    return Failure(
        "I couldn't find that message (it may have been deleted).",
        "If it still exists, use *Add to timeline* from the message's menu instead.",
    )


# Faults: Incident Manager


def gave_up(waited: timedelta, uncertain: bool) -> Failure:
    how_long = escape(_duration(waited))
    if uncertain:
        return Failure(
            f"Incident Manager kept failing or not answering for {how_long}, so I stopped trying; one try "
            "timed out, so I can't tell whether it was added.",
            "Check the incident's timeline in the console before adding it again.",
        )
    return Failure(
        f"Incident Manager kept failing or not answering for {how_long}, so I stopped trying.",
        "Add it again once Incident Manager is back.",
    )


def _duration(waited: timedelta) -> str:
    minutes = int(waited.total_seconds() // 60)
    if minutes < 120:
        return f"{max(minutes, 1)} minute{'s' if minutes != 1 else ''}"
    return f"{minutes // 60} hours"


def throttled() -> Failure:
    return Failure(
        "Incident Manager is throttling requests right now and still refused after several tries.",
        "Try again in a minute.",
    )


def incident_missing_for_add(title: str | None, region: str | None) -> Failure:
    name = f"*{escape(title)}*" if title else "The incident this channel is bound to"
    return Failure(
        f"{name} no longer exists in Incident Manager{_in_region(region)} (it may have been deleted).",
        f"Bind the channel to the current incident with {BIND_FORM}.",
    )


def event_missing(title: str | None) -> Failure:
    name = f"*{escape(title)}*" if title else "the incident"
    return Failure(
        f"The event is no longer on the timeline of {name} (it was deleted in the console, say), so it "
        "could not be changed.",
        "Add the message again if it should be on the timeline.",
    )


def incident_missing_for_bind(region: str | None) -> Failure:
    return Failure(
        f"Incident Manager has no incident record with that ARN{_in_region(region)}.",
        "Check the ARN, and that the bot runs in the incident's region.",
    )


def _in_region(region: str | None) -> str:
    return f" in {escape(region)}" if region else ""


# Operations whose IAM action takes no resource: their refusal is not about one incident.
_NO_RESOURCE = {"ListIncidentRecords"}


def access_denied(operation: str) -> Failure:
    where = "" if operation in _NO_RESOURCE else " on this incident"
    return Failure(
        f"The bot's AWS role isn't allowed to call `ssm-incidents:{escape(operation)}`{where}.",
        "Ask your AWS administrator to grant it (README.md has the IAM policy the bot needs).",
    )


# Names of CreateTimelineEvent's and GetIncidentRecord's members, as a ValidationException names them.
FIELD_NAMES = {
    "eventData": "the text",
    "clientToken": "the request id",
    "incidentRecordArn": "the incident ARN",
    "arn": "the incident ARN",
    "eventTime": "the event time",
    "eventType": "the event type",
    "eventReferences": "the event references",
    "eventId": "the event id",
    "relatedItemsUpdate": "the related item",
    "nextToken": "the page token",
    "maxResults": "the page size",
    "filters": "the filters",
}


def request_rejected(field: str, constraint: str) -> Failure:
    """`field` is the request member AWS named (empty when it named none: `constraint` says it all)."""
    said = f"{FIELD_NAMES.get(field, field)} {constraint}" if field else constraint
    return Failure(
        f"Incident Manager rejected the request: {escape(said)}.",
        "Change the text or the ARN accordingly and try again.",
    )


def conflict() -> Failure:
    return Failure(
        "Incident Manager refused it as a repeat of an earlier request that had different details.",
        "If you meant to add something new, send it again as a new command.",
    )


def aws_internal_error() -> Failure:
    return Failure("Incident Manager had an internal error.", "Try again in a minute.")


def aws_refused() -> Failure:
    return Failure(
        "Incident Manager refused the request.",
        "Try again; if it keeps failing, give the reference below to the bot's operators.",
    )


def no_credentials() -> Failure:
    return Failure(
        "The bot has no AWS credentials.",
        "An operator needs to give it credentials (environment variables, a profile or a role).",
    )


def bad_credentials(expired: bool) -> Failure:
    problem = "have expired" if expired else "were not accepted"
    return Failure(
        f"The bot's AWS credentials {problem}.",
        "An operator needs to renew or fix the bot's AWS credentials.",
    )


def no_region() -> Failure:
    return Failure(
        "The bot has no AWS region configured.",
        "An operator needs to set AWS_REGION to the region of your Incident Manager replication set.",
    )


def aws_unreachable() -> Failure:
    return Failure(
        "The bot couldn't reach Incident Manager.",
        "Try again in a minute; if it keeps failing, an operator should check the bot's network and endpoint.",
    )


def aws_outcome_unknown() -> Failure:
    return Failure(
        "Incident Manager didn't answer in time, so I can't tell whether it was added.",
        "Check the incident's timeline in the console before adding it again.",
    )


def aws_timed_out() -> Failure:
    return Failure("Incident Manager didn't answer in time.", "Try again in a minute.")


def timed_out() -> Failure:
    return Failure("A service the bot depends on didn't answer in time.", "Try again in a minute.")


def bot_bug() -> Failure:
    return Failure(
        "The bot built a request that Incident Manager would reject; that is a bug in the bot.",
        "Please tell the bot's operators and give them the reference below.",
    )


# Faults: Slack


def slack_not_in_channel() -> Failure:
    return Failure(
        "I'm not a member of this channel.", "Invite me with `/invite @Incident Timeline` and try again."
    )


def slack_channel_not_found() -> Failure:
    return Failure(
        "I can't see this channel (private channels need an invitation).",
        "Invite me with `/invite @Incident Timeline` and try again.",
    )


def slack_trigger_expired() -> Failure:
    return Failure("Slack took too long to open the form.", "Please try again.")


def slack_rate_limited() -> Failure:
    return Failure("Slack is rate-limiting the bot right now.", "Try again in a few seconds.")


def slack_refused(error: str) -> Failure:
    return Failure(
        f"Slack refused the bot's request ({escape(error)}).",
        "Try again; if it keeps failing, tell the bot's operators.",
    )


def slack_unavailable() -> Failure:
    return Failure("Slack is having trouble right now.", "Try again in a minute.")


def slack_unreachable() -> Failure:
    return Failure("The bot couldn't reach Slack.", "Try again in a minute.")


def message_unreadable(reason: str) -> Failure:
    return Failure(
        f"I couldn't read that message ({escape(reason)}).",
        "Use *Add to timeline* from the message's menu instead; it needs no access to the channel's history.",
    )


def bind_permission_unknown(slack_error: str) -> Failure:
    if slack_error == "ratelimited":
        reason = "Slack is rate-limiting the bot"
    elif slack_error == "unreachable" or slack_error.startswith("http_5"):
        reason = "Slack could not be reached"
    else:
        reason = f"Slack answered '{slack_error}'"
    return Failure(
        f"Binding is limited to certain user groups, and I couldn't check yours because {escape(reason)}.",
        "Try again in a minute.",
    )


def internal_error() -> Failure:
    return Failure(
        "Something went wrong inside the bot.",
        "Try again; if it keeps happening, give the reference below to the bot's operators.",
    )
