"""Typed failures the use cases raise or see. Each carries what the reply needs; the wording lives in
`bot.presentation.messages`, and the mapping layer (`bot.presentation.failures`) picks it."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.commands import MalformedReason
from bot.domain.timeline import EventType

# Incident Manager, as the gateway reports it (the SDK's own exception is kept as `__cause__`).


class IncidentManagerError(Exception):
    """A call to Incident Manager did not do what was asked."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        status: int = 0,
        retryable: bool = False,
        may_have_landed: bool = False,
    ) -> None:
        super().__init__(message or code)
        self.code = code
        self.status = status
        # Worth sending again later with the same token: AWS was busy, failing or not answering.
        self.retryable = retryable
        # An attempt may have reached AWS (it timed out mid-request): the write may have happened.
        self.may_have_landed = may_have_landed


class IncidentNotFound(IncidentManagerError):
    """No such incident record (deleted, or in another region)."""


class OutcomeUnknown(IncidentManagerError):
    """A write may have reached AWS (an attempt timed out mid-request) and no later attempt settled it."""

    def __init__(self, message: str = "", *, code: str = "", status: int = 0) -> None:
        super().__init__(message, code=code, status=status, retryable=True, may_have_landed=True)


class NotSent(Exception):
    """The caller withdrew when its turn under the rate limit came (another worker holds the entry)."""


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, IncidentManagerError) and error.retryable


def is_not_found(error: BaseException) -> bool:
    """AWS answered that what was named (the event, or its incident) does not exist."""
    return isinstance(error, IncidentManagerError) and error.code == "ResourceNotFoundException"


class ChangeRefused(Exception):
    """A change of an entry that cannot be made as asked (its event is not one the bot can change)."""


# What the person or the channel's state caused


class ChannelNotBound(Exception):
    pass


class EntryEmpty(Exception):
    def __init__(self, event_type: EventType) -> None:
        super().__init__(f"empty {event_type.noun}")
        self.event_type = event_type


class IncidentResolved(Exception):
    def __init__(self, title: str, arn: str) -> None:
        super().__init__(f"incident {arn} is resolved")
        self.title = title
        self.arn = arn


class IncidentNotOpen(Exception):
    """`bind plan/id` (or a console address) named no incident among the open ones."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"no open incident {reference}")
        self.reference = reference


class BindNotAllowed(Exception):
    def __init__(self, allowed_users: frozenset[str], allowed_usergroups: frozenset[str]) -> None:
        super().__init__("user may not bind this channel")
        self.allowed_users = allowed_users
        self.allowed_usergroups = allowed_usergroups


class BindPermissionUnknown(Exception):
    """The user-group lookup failed, so we cannot tell whether the person may bind."""

    def __init__(self, slack_error: str) -> None:
        super().__init__(f"usergroups.users.list failed: {slack_error}")
        self.slack_error = slack_error


class BoundIncidentMissing(Exception):
    """The channel's incident no longer exists in Incident Manager (deleted, or another region)."""

    def __init__(self, title: str, arn: str) -> None:
        super().__init__(f"incident {arn} not found")
        self.title = title
        self.arn = arn


class BindingChanged(Exception):
    """The channel was bound to another incident while the person was composing."""

    def __init__(self, current_title: str) -> None:
        super().__init__("binding changed since the form was opened")
        self.current_title = current_title


class MalformedCommand(Exception):
    """A keyword used the wrong way (`status now`, `bind` without an ARN)."""

    def __init__(self, reason: MalformedReason, keyword: str, original: str) -> None:
        super().__init__(f"{keyword}: {reason}")
        self.reason = reason
        self.keyword = keyword
        self.original = original


class MessageNotFound(Exception):
    """The reacted-to message is gone (deleted) or Slack does not return it."""


class MessageUnreadable(Exception):
    """Slack would not let the bot read the message (scope, membership, token type)."""

    def __init__(self, slack_error: str) -> None:
        super().__init__(slack_error)
        self.slack_error = slack_error


class DraftMissing(Exception):
    """The whole text behind a modal's shortened box is no longer stored."""


class GaveUp(Exception):
    """Incident Manager kept failing (throttling, 5xx, no answer) for longer than the outbox retries."""

    def __init__(self, last_error: str, uncertain: bool, waited: timedelta) -> None:
        super().__init__(last_error)
        self.last_error = last_error
        # One attempt may have reached AWS (it timed out mid-request), so it may be on the timeline.
        self.uncertain = uncertain
        self.waited = waited
