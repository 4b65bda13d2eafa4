"""Typed, expected failures. Each carries what the reply needs; the wording lives in bot.messages."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.timeline import EventType


class BotError(Exception):
    """A failure we expected and can explain to the person who acted."""


class ChannelNotBound(BotError):
    pass


class EntryEmpty(BotError):
    def __init__(self, event_type: EventType) -> None:
        super().__init__(f"empty {event_type.noun}")
        self.event_type = event_type


class IncidentResolved(BotError):
    def __init__(self, title: str, arn: str) -> None:
        super().__init__(f"incident {arn} is resolved")
        self.title = title
        self.arn = arn


class BindNotAllowed(BotError):
    def __init__(self, allowed_users: frozenset[str], allowed_usergroups: frozenset[str]) -> None:
        super().__init__("user may not bind this channel")
        self.allowed_users = allowed_users
        self.allowed_usergroups = allowed_usergroups


class BindPermissionUnknown(BotError):
    """The user-group lookup failed, so we cannot tell whether the person may bind."""

    def __init__(self, slack_error: str) -> None:
        super().__init__(f"usergroups.users.list failed: {slack_error}")
        self.slack_error = slack_error


class BoundIncidentMissing(BotError):
    """The channel's incident no longer exists in Incident Manager (deleted, or another region)."""

    def __init__(self, title: str, arn: str) -> None:
        super().__init__(f"incident {arn} not found")
        self.title = title
        self.arn = arn


class BindingChanged(BotError):
    """The channel was bound to another incident while the person was composing."""

    def __init__(self, current_title: str) -> None:
        super().__init__("binding changed since the form was opened")
        self.current_title = current_title


class MalformedCommand(BotError):
    """A keyword used the wrong way (`status now`, `bind` without an ARN)."""

    def __init__(self, problem: str, original: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.original = original


class MessageNotFound(BotError):
    """The reacted-to message is gone (deleted) or Slack does not return it."""


class MessageUnreadable(BotError):
    """Slack would not let the bot read the message (scope, membership, token type)."""

    def __init__(self, slack_error: str) -> None:
        super().__init__(slack_error)
        self.slack_error = slack_error


class DraftMissing(BotError):
    """The whole text behind a modal's shortened box is no longer stored."""


class GaveUp(BotError):
    """Incident Manager kept failing (throttling, 5xx, no answer) for longer than the outbox retries."""

    def __init__(self, last_error: str, uncertain: bool, waited: timedelta) -> None:
        super().__init__(last_error)
        self.last_error = last_error
        # One attempt may have reached AWS (it timed out mid-request), so it may be on the timeline.
        self.uncertain = uncertain
        self.waited = waited
