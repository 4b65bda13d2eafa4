"""load_settings: one pass over the environment, every problem named at once in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_AWS_READ_TIMEOUT,
    DEFAULT_DATABASE_URL,
    DEFAULT_PORT,
    DEFAULT_REACTION,
    DEFAULT_SLACK_API_URL,
    ConfigError,
    Settings,
    load_settings,
)

BOT_TOKEN = "xoxb-1111-2222-abcdefSECRET"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APP_TOKEN = "xapp-1-A111-222-deadbeefSECRET"
SLACK = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
HTTP = {**SLACK, "AWS_REGION": "eu-west-1"}
ROOT = Path(__file__).resolve().parents[2]


def config_error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    message = str(raised.value)
    # One line for the operator, framed the same way every time.
    assert "\n" not in message
    assert message.startswith("Configuration error: ")
    assert message.endswith(". See README.md, Configuration.")
    return message


def test_minimal_http_config_gets_the_defaults() -> None:
    settings = load_settings(HTTP)
    assert settings == Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=None,
        slack_api_url=DEFAULT_SLACK_API_URL,
        aws_region="eu-west-1",
        database_url=DEFAULT_DATABASE_URL,
        timeline_reaction=DEFAULT_REACTION,
        bind_allowed_users=frozenset(),
        bind_allowed_usergroups=frozenset(),
        port=DEFAULT_PORT,
        added_reaction="white_check_mark",
        aws_read_timeout=DEFAULT_AWS_READ_TIMEOUT,
    )
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite:///incident-bot.db"
    assert settings.timeline_reaction == "pushpin"
    assert settings.port == 3000
    assert not settings.socket_mode
    assert settings.bind_allowed_usergroups == frozenset()


def test_values_are_trimmed() -> None:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": f"  {BOT_TOKEN}\t",
            "SLACK_SIGNING_SECRET": f" {SIGNING_SECRET} ",
            "AWS_REGION": " x ",
        }
    )
    assert settings.slack_bot_token == BOT_TOKEN
    assert settings.slack_signing_secret == SIGNING_SECRET


def test_only_the_given_mapping_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("PORT", "not-a-port")
    settings = load_settings(HTTP)
    assert settings.aws_region == "eu-west-1"
    assert settings.port == DEFAULT_PORT


def test_socket_mode_needs_no_signing_secret() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "AWS_REGION": "x"})
    assert settings.socket_mode
    assert settings.slack_app_token == APP_TOKEN
    assert settings.slack_signing_secret is None


def test_every_missing_variable_is_named_at_once_with_where_to_get_it() -> None:
    message = config_error({"SLACK_BOT_TOKEN": "   ", "SLACK_SIGNING_SECRET": "", "AWS_REGION": ""})
    assert message == (
        "Configuration error: missing "
        "SLACK_BOT_TOKEN (from Slack app settings > OAuth & Permissions > Bot User OAuth Token, starts with "
        "xoxb-); "
        "SLACK_SIGNING_SECRET (from Slack app settings > Basic Information > App Credentials > Signing "
        "Secret), or SLACK_APP_TOKEN for Socket Mode (from Slack app settings > Basic Information > "
        "App-Level Tokens (connections:write), xapp-); "
        "AWS_REGION (the region of your Incident Manager replication set, e.g. us-east-1; AWS_DEFAULT_REGION "
        "or a region in the AWS profile's config file also do). See README.md, Configuration."
    )


def test_missing_and_malformed_are_reported_together() -> None:
    message = config_error({"PORT": "http", "TIMELINE_REACTION": "push pin", "SLACK_API_URL": "slack.com"})
    for part in (
        "missing SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "PORT",
        "TIMELINE_REACTION",
        "SLACK_API_URL",
    ):
        assert part in message


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user-token-SECRET"}, "SLACK_BOT_TOKEN must start with xoxb-"),
        ({"SLACK_BOT_TOKEN": "xapp-1-A111-SECRET"}, "SLACK_BOT_TOKEN must start with xoxb-"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-place-SECRET"}, "SLACK_APP_TOKEN must start with xapp-"),
        ({"PORT": "http"}, "PORT must be a number from 1 to 65535 (got 'http')"),
        ({"PORT": "0"}, "PORT must be a number from 1 to 65535 (got '0')"),
        ({"PORT": "65536"}, "PORT must be a number from 1 to 65535 (got '65536')"),
        ({"PORT": "-1"}, "PORT must be a number from 1 to 65535"),
        ({"PORT": "3000.5"}, "PORT must be a number from 1 to 65535"),
        ({"PORT": "1" * 50}, "(got '11111111111111111111')"),
        (
            {"DATABASE_URL": "mysql://app:SECRET@db:3306/incidents"},
            "DATABASE_URL must be a sqlite:// or postgresql:// URL such as sqlite:///incident-bot.db or "
            "postgresql://user:password@host:5432/database (got 'mysql://…')",
        ),
        (
            {"DATABASE_URL": "postgresql://app:SECRET@db:5432"},
            "DATABASE_URL must look like postgresql://user:password@host:5432/database (it names no database)",
        ),
        ({"ENTRY_RETENTION_DAYS": "0"}, "ENTRY_RETENTION_DAYS must be a number of days from 1 to 36500"),
        ({"ENTRY_RETENTION_DAYS": "thirty"}, "ENTRY_RETENTION_DAYS must be a number of days from 1 to 36500"),
        ({"ENTRY_RETENTION_DAYS": "36501"}, "ENTRY_RETENTION_DAYS must be a number of days from 1 to 36500"),
        (
            {"DATABASE_URL": "sqlite://db-host/incidents.db"},
            "DATABASE_URL must look like sqlite:///relative.db or sqlite:////absolute.db",
        ),
        ({"TIMELINE_REACTION": "push pin"}, "TIMELINE_REACTION must be an emoji name such as pushpin"),
        ({"TIMELINE_REACTION": "::"}, "TIMELINE_REACTION must be an emoji name such as pushpin"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL must be an http(s) URL"),
        ({"SLACK_API_URL": "ftp://slack.com/api/"}, "SLACK_API_URL must be an http(s) URL"),
        (
            {"INCIDENT_MANAGER_READ_TIMEOUT": "0"},
            "INCIDENT_MANAGER_READ_TIMEOUT must be seconds between 0 and 120",
        ),
        ({"INCIDENT_MANAGER_READ_TIMEOUT": "121"}, "INCIDENT_MANAGER_READ_TIMEOUT must be seconds"),
        ({"INCIDENT_MANAGER_READ_TIMEOUT": "nan"}, "INCIDENT_MANAGER_READ_TIMEOUT must be seconds"),
        ({"INCIDENT_MANAGER_READ_TIMEOUT": "ten"}, "INCIDENT_MANAGER_READ_TIMEOUT must be seconds"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_malformed_values_are_named(overrides: dict[str, str], problem: str) -> None:
    message = config_error({**HTTP, **overrides})
    assert problem in message
    assert "SECRET" not in message  # a token or password is never echoed


def test_all_malformed_values_are_named_at_once() -> None:
    message = config_error(
        {
            "SLACK_BOT_TOKEN": "xoxp-1",
            "SLACK_APP_TOKEN": "xoxb-2",
            "PORT": "x",
            "DATABASE_URL": "mysql://a",
            "TIMELINE_REACTION": "a b",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert message.count(";") == 4
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "PORT", "DATABASE_URL", "TIMELINE_REACTION"):
        assert name in message
    assert "missing" not in message  # the app token stands in for the signing secret


@pytest.mark.parametrize(("raw", "port"), [("1", 1), ("8080", 8080), (" 65535 ", 65535)])
def test_port_range_is_accepted(raw: str, port: int) -> None:
    assert load_settings({**HTTP, "PORT": raw}).port == port


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("\u00b2", id="superscript-two"),  # str.isdigit() is True, int() refuses it
        pytest.param("9" * 5000, id="5000-digits"),  # beyond int()'s 4300-digit limit
    ],
)
def test_unconvertible_port_digits_are_a_config_error(raw: str) -> None:
    assert "PORT must be a number" in config_error({**HTTP, "PORT": raw})


@pytest.mark.parametrize(
    ("raw", "mark"), [(":heavy_check_mark:", "heavy_check_mark"), ("none", None), ("NONE", None)]
)
def test_added_reaction_is_configurable_or_off(raw: str, mark: str | None) -> None:
    assert load_settings({**HTTP, "TIMELINE_ADDED_REACTION": raw}).added_reaction == mark


def test_added_reaction_must_be_an_emoji_name() -> None:
    message = config_error({**HTTP, "TIMELINE_ADDED_REACTION": "white check"})
    assert "TIMELINE_ADDED_REACTION must be an emoji name" in message


@pytest.mark.parametrize(
    ("raw", "name"),
    [(":pushpin:", "pushpin"), ("eyes", "eyes"), (" :white_check_mark: ", "white_check_mark")],
)
def test_reaction_is_a_bare_emoji_name(raw: str, name: str) -> None:
    assert load_settings({**HTTP, "TIMELINE_REACTION": raw}).timeline_reaction == name


def test_aws_region_is_preferred_over_aws_default_region() -> None:
    settings = load_settings({**HTTP, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"})
    assert settings.aws_region == "eu-west-1"


def test_aws_default_region_is_used_alone() -> None:
    assert load_settings({**SLACK, "AWS_DEFAULT_REGION": "us-east-1"}).aws_region == "us-east-1"
    assert (
        load_settings({**SLACK, "AWS_REGION": " ", "AWS_DEFAULT_REGION": "us-east-1"}).aws_region
        == "us-east-1"
    )


def test_a_missing_region_stops_start_up_naming_aws_region_and_where_to_set_it() -> None:
    message = config_error(SLACK)
    assert "missing AWS_REGION (the region of your Incident Manager replication set" in message
    assert "AWS_DEFAULT_REGION" in message and "AWS profile" in message


def test_the_region_of_the_aws_profile_is_used_as_boto3_would(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-west-1\n\n[profile oncall]\nregion = eu-north-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert load_settings(SLACK).aws_region == "us-west-1"
    monkeypatch.setenv("AWS_PROFILE", "oncall")
    assert load_settings(SLACK).aws_region == "eu-north-1"
    assert load_settings(HTTP).aws_region == "eu-west-1"  # AWS_REGION still wins


def test_a_profile_that_does_not_exist_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    message = config_error(SLACK)
    assert "no-such-profile" in message and "missing AWS_REGION" in message


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("INCIDENT_MANAGER_READ_TIMEOUT", "10  # seconds to wait for Incident Manager's answer"),
        ("PORT", "3000\t# http"),
        ("AWS_REGION", "eu-west-1 # Ireland"),
        ("SLACK_BOT_TOKEN", f"{BOT_TOKEN}   # from the OAuth page"),
    ],
)
def test_an_inline_comment_from_an_env_file_is_named_as_such(name: str, raw: str) -> None:
    message = config_error({**HTTP, name: raw})
    assert (
        f"{name} has text after its value that looks like an inline comment from an env file "
        "(docker run --env-file keeps it); put comments on their own line"
    ) in message
    # The value before the comment is fine, so that is the one problem named; nothing of it is echoed.
    assert message.count(";") == 1 and "must" not in message and "SECRET" not in message


def test_a_hash_inside_a_value_is_not_a_comment() -> None:
    assert load_settings({**HTTP, "TIMELINE_REACTION": "hash#tag"}).timeline_reaction == "hash#tag"


def _example_assignments() -> list[tuple[str, str]]:
    """Every `NAME=value` in .env.example, commented out or not."""
    found = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        assignment = line.lstrip("# ").strip()
        name, sep, value = assignment.partition("=")
        if sep and name.isupper() and " " not in name:
            found.append((name, value))
    return found


def test_every_line_of_env_example_works_as_docker_reads_it() -> None:
    # `docker run --env-file` keeps the whole line after `=`: uncommenting any line must give a value the
    # bot accepts, so no comment may share a line with a value.
    assignments = _example_assignments()
    assert len(assignments) >= 10
    for name, value in assignments:
        if name.startswith("AWS_") and name not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_RETRY_MODE"):
            assert "#" not in value, name  # boto3's own: not checked by the bot beyond the comment
            continue
        load_settings({**HTTP, name: value})


def test_env_example_offers_every_variable_the_readme_documents() -> None:
    readme = (ROOT / "README.md").read_text()
    configuration = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    # The names in the first column of its table.
    rows = [line.split("|")[1] for line in configuration.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}
    offered = {name for name, _ in _example_assignments()}
    assert documented >= {"SLACK_API_URL", "AWS_ENDPOINT_URL_SSM_INCIDENTS", "INCIDENT_MANAGER_READ_TIMEOUT"}
    assert documented <= offered, sorted(documented - offered)


def test_bind_allow_lists_ignore_spaces_and_empty_items() -> None:
    settings = load_settings(
        {**HTTP, "BIND_ALLOWED_USERS": " U0001, ,U0002 ,,U0001, ", "BIND_ALLOWED_USERGROUPS": ",S0001 ,"}
    )
    assert settings.bind_allowed_users == frozenset({"U0001", "U0002"})
    assert settings.bind_allowed_usergroups == frozenset({"S0001"})


def test_blank_allow_lists_leave_binding_open() -> None:
    settings = load_settings({**HTTP, "BIND_ALLOWED_USERS": " , ,", "BIND_ALLOWED_USERGROUPS": ""})
    assert settings.bind_allowed_users == frozenset()
    assert settings.bind_allowed_usergroups == frozenset()
    assert load_settings({**HTTP, "BIND_ALLOWED_USERGROUPS": "S1"}).bind_allowed_usergroups == {"S1"}


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("http://127.0.0.1:8999/api", "http://127.0.0.1:8999/api/"),
        ("https://slack.com/api/", "https://slack.com/api/"),
    ],
)
def test_slack_api_url_gets_a_trailing_slash(raw: str, url: str) -> None:
    assert load_settings({**HTTP, "SLACK_API_URL": raw}).slack_api_url == url


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/bot/bot.db",
        "sqlite://",
        "sqlite+pysqlite:///bot.db?timeout=5",
        "postgresql://app:pw@db.internal:5432/incidents",
        "postgresql+asyncpg://app:pw@db.internal/incidents?ssl=require",
    ],
)
def test_database_urls_are_kept_as_given(url: str) -> None:
    assert load_settings({**HTTP, "DATABASE_URL": url}).database_url == url


def test_entry_retention_defaults_to_thirty_days_and_is_configurable() -> None:
    assert load_settings(HTTP).entry_retention_days == 30
    assert load_settings({**HTTP, "ENTRY_RETENTION_DAYS": "7"}).entry_retention_days == 7


def test_read_timeout_is_parsed() -> None:
    assert load_settings({**HTTP, "INCIDENT_MANAGER_READ_TIMEOUT": "2.5"}).aws_read_timeout == 2.5


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:s3cr3t-pw@db.internal:5432",  # no database named
        "postgresql://app:s3cr3t-pw@db.internal:port/incidents",
        "postgresql+psycopg2://app:s3cr3t-pw@db.internal/incidents",
        "mysql://app:s3cr3t-pw@db.internal/incidents",
        "sqlite://app:s3cr3t-pw@db.internal/incidents.db",
    ],
)
def test_database_url_with_a_password_is_never_echoed(url: str) -> None:
    message = config_error({**HTTP, "DATABASE_URL": url})
    assert "DATABASE_URL" in message
    assert "s3cr3t" not in message
    assert "app:" not in message


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("app:s3cr3t-pw@db.internal:5432/incidents", id="dsn-without-scheme"),
        pytest.param("postgres:/app:s3cr3t-pw@db/x", id="one-slash-typo"),
        pytest.param("password=s3cr3t-pw host=db", id="libpq-keywords"),
    ],
)
def test_database_url_without_a_scheme_is_never_echoed(url: str) -> None:
    message = config_error({**HTTP, "DATABASE_URL": url})
    assert "s3cr3t" not in message


def test_malformed_allow_lists_are_named_without_crashing() -> None:
    message = config_error(
        {**HTTP, "BIND_ALLOWED_USERS": "U012AB, alice", "BIND_ALLOWED_USERGROUPS": "oncall"}
    )
    assert "BIND_ALLOWED_USERS must list Slack ids" in message and "alice" in message
    assert "BIND_ALLOWED_USERGROUPS must list Slack ids" in message and "oncall" in message


def test_missing_signing_secret_mentions_socket_mode_as_the_alternative() -> None:
    message = config_error({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert "SLACK_SIGNING_SECRET" in message and "or SLACK_APP_TOKEN for Socket Mode" in message


def test_log_level_is_checked_with_the_rest() -> None:
    assert load_settings({**HTTP, "LOG_LEVEL": "debug"}).log_level == "DEBUG"
    assert "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR" in config_error(
        {**HTTP, "LOG_LEVEL": "verbose"}
    )


def test_slack_api_url_must_have_a_host_and_a_valid_port() -> None:
    for bad in ("http://", "http://host:99999/", "slack.com/api", "ftp://slack.com/api/"):
        assert "SLACK_API_URL must be an http(s) URL" in config_error({**HTTP, "SLACK_API_URL": bad})
    assert load_settings({**HTTP, "SLACK_API_URL": "http://127.0.0.1:8080/api"}).slack_api_url.endswith(
        "/api/"
    )


def test_the_rate_limit_and_retry_mode_have_defaults_and_are_configurable() -> None:
    defaults = load_settings(HTTP)
    assert (defaults.aws_calls_per_second, defaults.aws_retry_mode) == (5.0, "standard")
    tuned = load_settings({**HTTP, "INCIDENT_MANAGER_CALLS_PER_SECOND": "12.5", "AWS_RETRY_MODE": "Adaptive"})
    assert (tuned.aws_calls_per_second, tuned.aws_retry_mode) == (12.5, "adaptive")


@pytest.mark.parametrize("raw", ["0", "-1", "0.05", "1001", "nan", "fast", "inf"])
def test_a_rate_limit_out_of_range_is_named(raw: str) -> None:
    assert "INCIDENT_MANAGER_CALLS_PER_SECOND must be a number from 0.1 to 1000" in config_error(
        {**HTTP, "INCIDENT_MANAGER_CALLS_PER_SECOND": raw}
    )


@pytest.mark.parametrize("raw", ["legacy", "retry"])
def test_only_standard_or_adaptive_retries(raw: str) -> None:
    assert "AWS_RETRY_MODE must be standard or adaptive" in config_error({**HTTP, "AWS_RETRY_MODE": raw})
