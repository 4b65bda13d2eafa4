"""Configuration from the environment (and `.env`), checked once at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import botocore.session
from botocore.exceptions import BotoCoreError

from bot.domain.slack_user import USER_ID
from bot.store import validate_database_url
from bot.usecases.changes import DEFAULT_UNDO_WINDOW, DeletedMessageAction

__all__ = ["ConfigError", "DeletedMessageAction", "Settings", "load_settings"]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///incident-bot.db"
DEFAULT_REACTION = "pushpin"
# Marks a message once it is on the timeline; "none" turns the mark off.
DEFAULT_ADDED_REACTION = "white_check_mark"
DEFAULT_PORT = 3000
DEFAULT_AWS_READ_TIMEOUT = 10.0
# Client-side ceiling on calls to Incident Manager (all operations together): a burst of pins during a big
# incident is smoothed to this rate instead of being thrown back as throttling.
DEFAULT_AWS_CALLS_PER_SECOND = 5.0
# Settled timeline entries (and who was told about them, response_url included) are deleted after this.
DEFAULT_ENTRY_RETENTION_DAYS = 30
_RETRY_MODES = ("standard", "adaptive")

_WHERE = {
    "SLACK_BOT_TOKEN": "from Slack app settings > OAuth & Permissions > Bot User OAuth Token, starts with xoxb-",
    "SLACK_SIGNING_SECRET": "from Slack app settings > Basic Information > App Credentials > Signing Secret",
    "SLACK_APP_TOKEN": "from Slack app settings > Basic Information > App-Level Tokens (connections:write), xapp-",
    "AWS_REGION": "the region of your Incident Manager replication set, e.g. us-east-1; AWS_DEFAULT_REGION or "
    "a region in the AWS profile's config file also do",
}
# Every variable the bot reads itself, and boto3's that it relies on: checked for an env file's inline comment.
_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SSM_INCIDENTS",
    "AWS_RETRY_MODE",
    "DATABASE_URL",
    "ENTRY_RETENTION_DAYS",
    "TIMELINE_REACTION",
    "TIMELINE_ADDED_REACTION",
    "BIND_ALLOWED_USERS",
    "BIND_ALLOWED_USERGROUPS",
    "PORT",
    "INCIDENT_MANAGER_READ_TIMEOUT",
    "INCIDENT_MANAGER_CALLS_PER_SECOND",
    "LOG_LEVEL",
    "UNDO_WINDOW_MINUTES",
    "DELETED_MESSAGE_ACTION",
)
# `docker run --env-file` (unlike python-dotenv) keeps everything after `=`: `PORT=3000  # http` arrives whole.
_INLINE_COMMENT = re.compile(r"\s+#.*$", re.DOTALL)


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_USERGROUP_ID = re.compile(r"^S[A-Z0-9]+$")


class ConfigError(Exception):
    """Configuration that cannot work; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    aws_region: str
    database_url: str
    timeline_reaction: str
    bind_allowed_users: frozenset[str]
    bind_allowed_usergroups: frozenset[str]
    port: int
    # Put on a message once it is on the timeline, so the channel sees it; None when turned off.
    added_reaction: str | None = DEFAULT_ADDED_REACTION
    aws_read_timeout: float = DEFAULT_AWS_READ_TIMEOUT
    log_level: str = "INFO"
    aws_calls_per_second: float = DEFAULT_AWS_CALLS_PER_SECOND
    aws_retry_mode: str = "standard"
    entry_retention_days: int = DEFAULT_ENTRY_RETENTION_DAYS
    # How long the Undo button of an added entry works, from when it was recorded.
    undo_window: timedelta = DEFAULT_UNDO_WINDOW
    # What a message deleted in Slack does to its event: deleted (the default), or marked.
    deleted_message_action: DeletedMessageAction = DeletedMessageAction.DELETE

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _id_list(env: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _without_inline_comments(env: Mapping[str, str], malformed: list[str]) -> dict[str, str]:
    """The values with an env file's inline comment cut off (each such variable is named as malformed, and
    the rest of its value is still checked, so one mistake gives one problem)."""
    cleaned = dict(env)
    for name in _VARIABLES:
        value = env.get(name, "")
        if _INLINE_COMMENT.search(value):
            cleaned[name] = _INLINE_COMMENT.sub("", value)
            # The value is not echoed: it may be a token.
            malformed.append(
                f"{name} has text after its value that looks like an inline comment from an env file "
                "(docker run --env-file keeps it); put comments on their own line"
            )
    return cleaned


def _region(env: Mapping[str, str], malformed: list[str]) -> str | None:
    """AWS_REGION first (boto3 itself ignores it; Lambda, ECS and most tools set it), then the region boto3
    would use: AWS_DEFAULT_REGION, then the profile's config file. Files only, no network."""
    region = _value(env, "AWS_REGION") or _value(env, "AWS_DEFAULT_REGION")
    if region is not None:
        return region
    try:
        # botocore reads AWS_PROFILE and AWS_CONFIG_FILE from the process environment, as the client will.
        found = botocore.session.Session().get_config_variable("region")
    except BotoCoreError as error:  # e.g. AWS_PROFILE names no profile, or the config file is broken
        malformed.append(f"the AWS config could not be read for a region ({str(error)[:200]})")
        return None
    if not isinstance(found, str) or not found.strip():
        return None
    return found.strip()


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read settings; raise ConfigError naming every missing or malformed variable at once."""
    missing: list[str] = []
    malformed: list[str] = []
    env = _without_inline_comments(env, malformed)

    bot_token = _value(env, "SLACK_BOT_TOKEN")
    app_token = _value(env, "SLACK_APP_TOKEN")
    signing_secret = _value(env, "SLACK_SIGNING_SECRET")
    if bot_token is None:
        missing.append("SLACK_BOT_TOKEN")
    elif not bot_token.startswith("xoxb-"):
        malformed.append("SLACK_BOT_TOKEN must start with xoxb-")
    if app_token is not None and not app_token.startswith("xapp-"):
        malformed.append("SLACK_APP_TOKEN must start with xapp-")
    if app_token is None and signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET")

    port = DEFAULT_PORT
    if (raw_port := _value(env, "PORT")) is not None:
        if raw_port.isascii() and raw_port.isdigit() and len(raw_port) <= 5 and 0 < int(raw_port) < 65536:
            port = int(raw_port)
        else:
            malformed.append(f"PORT must be a number from 1 to 65535 (got '{raw_port[:20]}')")

    read_timeout = DEFAULT_AWS_READ_TIMEOUT
    if (raw_timeout := _value(env, "INCIDENT_MANAGER_READ_TIMEOUT")) is not None:
        try:
            read_timeout = float(raw_timeout)
            if not 0 < read_timeout <= 120:
                raise ValueError(raw_timeout)
        except ValueError:
            malformed.append("INCIDENT_MANAGER_READ_TIMEOUT must be seconds between 0 and 120")

    calls_per_second = DEFAULT_AWS_CALLS_PER_SECOND
    if (raw_rate := _value(env, "INCIDENT_MANAGER_CALLS_PER_SECOND")) is not None:
        try:
            calls_per_second = float(raw_rate)
            if not 0.1 <= calls_per_second <= 1000:
                raise ValueError(raw_rate)
        except ValueError:
            malformed.append("INCIDENT_MANAGER_CALLS_PER_SECOND must be a number from 0.1 to 1000")

    # boto3's own variable; the bot passes it on itself because it configures the client's retries.
    retry_mode = (_value(env, "AWS_RETRY_MODE") or "standard").lower()
    if retry_mode not in _RETRY_MODES:
        malformed.append("AWS_RETRY_MODE must be standard or adaptive")

    database_url = _value(env, "DATABASE_URL") or DEFAULT_DATABASE_URL
    if (database_problem := validate_database_url(database_url)) is not None:
        malformed.append(database_problem)

    retention_days = DEFAULT_ENTRY_RETENTION_DAYS
    if (raw_retention := _value(env, "ENTRY_RETENTION_DAYS")) is not None:
        if (
            raw_retention.isascii()
            and raw_retention.isdigit()
            and len(raw_retention) <= 5
            and 1 <= int(raw_retention) <= 36_500
        ):
            retention_days = int(raw_retention)
        else:
            malformed.append("ENTRY_RETENTION_DAYS must be a number of days from 1 to 36500")

    undo_window = DEFAULT_UNDO_WINDOW
    if (raw_undo := _value(env, "UNDO_WINDOW_MINUTES")) is not None:
        if raw_undo.isascii() and raw_undo.isdigit() and len(raw_undo) <= 5 and 1 <= int(raw_undo) <= 1440:
            undo_window = timedelta(minutes=int(raw_undo))
        else:
            malformed.append("UNDO_WINDOW_MINUTES must be a number of minutes from 1 to 1440")

    deleted_action = DeletedMessageAction.DELETE
    if (raw_action := _value(env, "DELETED_MESSAGE_ACTION")) is not None:
        try:
            deleted_action = DeletedMessageAction(raw_action.lower())
        except ValueError:
            malformed.append("DELETED_MESSAGE_ACTION must be delete or mark")

    api_url = _value(env, "SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not _is_http_url(api_url):
        malformed.append("SLACK_API_URL must be an http(s) URL such as https://slack.com/api/")
    elif not api_url.endswith("/"):
        api_url += "/"

    reaction = (_value(env, "TIMELINE_REACTION") or DEFAULT_REACTION).strip(":")
    if not reaction or any(c.isspace() for c in reaction):
        malformed.append("TIMELINE_REACTION must be an emoji name such as pushpin")

    mark = (_value(env, "TIMELINE_ADDED_REACTION") or DEFAULT_ADDED_REACTION).strip(":")
    added_reaction = None if mark.lower() == "none" else mark
    if not mark or any(c.isspace() for c in mark):
        malformed.append("TIMELINE_ADDED_REACTION must be an emoji name such as white_check_mark, or none")

    for name, pattern in (("BIND_ALLOWED_USERS", USER_ID), ("BIND_ALLOWED_USERGROUPS", _USERGROUP_ID)):
        bad = sorted(item for item in _id_list(env, name) if not pattern.fullmatch(item))
        if bad:
            malformed.append(f"{name} must list Slack ids separated by commas (not: {', '.join(bad)[:60]})")

    log_level = (_value(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in _LOG_LEVELS:
        malformed.append(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")

    region = _region(env, malformed)
    if region is None:
        missing.append("AWS_REGION")

    problems: list[str] = []
    if missing:
        named = [f"{name} ({_WHERE[name]})" for name in missing]
        if "SLACK_SIGNING_SECRET" in missing:
            at = missing.index("SLACK_SIGNING_SECRET")
            named[at] += f", or SLACK_APP_TOKEN for Socket Mode ({_WHERE['SLACK_APP_TOKEN']})"
        problems.append("missing " + "; ".join(named))
    problems.extend(malformed)
    if problems:
        raise ConfigError("Configuration error: " + "; ".join(problems) + ". See README.md, Configuration.")

    assert bot_token is not None and region is not None
    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=api_url,
        aws_region=region,
        database_url=database_url,
        timeline_reaction=reaction,
        bind_allowed_users=_id_list(env, "BIND_ALLOWED_USERS"),
        bind_allowed_usergroups=_id_list(env, "BIND_ALLOWED_USERGROUPS"),
        port=port,
        added_reaction=added_reaction,
        aws_read_timeout=read_timeout,
        log_level=log_level,
        aws_calls_per_second=calls_per_second,
        aws_retry_mode=retry_mode,
        entry_retention_days=retention_days,
        undo_window=undo_window,
        deleted_message_action=deleted_action,
    )
