"""Shared fixtures: the fakes (one per session, reset per test) and the real bot on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support.bot_server import BotServer, free_port
from tests.support.harness import Harness
from tests.support.postgres import (
    needs_postgres,
    reachable_server,
    scratch_database,
    server_problem,
    under_ci,
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Never let boto3 read this machine's AWS files or reach the instance metadata service.
    # A region must come from the test itself: the bot refuses to start without one.
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


_POSTGRES_LEFT_OUT = pytest.StashKey[tuple[int, str]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server, its tests are left out and one line says how to run them (under CI
    they run, and fail)."""
    wanting = [item for item in items if needs_postgres(item)]
    if not wanting or under_ci() or (problem := server_problem()) is None:
        return
    config.hook.pytest_deselected(items=wanting)
    items[:] = [item for item in items if not needs_postgres(item)]
    config.stash[_POSTGRES_LEFT_OUT] = (len(wanting), problem)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if (left_out := config.stash.get(_POSTGRES_LEFT_OUT, None)) is not None:
        count, problem = left_out
        terminalreporter.write_line(f"SKIPPED {count} PostgreSQL tests: {problem}", yellow=True)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """TEST_DATABASE_URL's server; skips (fails under CI) when there is none."""
    return reachable_server()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """This test session's own database on that server, dropped at the end."""
    with scratch_database(postgres_server) as url:
        yield url


@pytest.fixture(scope="session")
def fake_slack_session() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_aws_session() -> Iterator[FakeIncidentManager]:
    with FakeIncidentManager() as fake:
        yield fake


@pytest.fixture
def fake_slack(fake_slack_session: FakeSlack) -> FakeSlack:
    fake_slack_session.reset()
    fake_slack_session.add_user("U0001", display_name="alice", real_name="Alice Liddell")
    fake_slack_session.add_user("U0002", display_name="bob", real_name="Bob Builder")
    fake_slack_session.add_user("U0003", display_name="", real_name="Carol Danvers")
    return fake_slack_session


@pytest.fixture
def fake_aws(fake_aws_session: FakeIncidentManager) -> FakeIncidentManager:
    fake_aws_session.reset()
    return fake_aws_session


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, fake_aws: FakeIncidentManager) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM_INCIDENTS", fake_aws.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


def bot_env(tmp_path: Path, fake_slack: FakeSlack, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
        "PORT": str(free_port()),
        "AWS_REGION": REGION,
    }
    env.update(overrides)
    return env


@pytest.fixture
def make_bot(
    tmp_path: Path, aws_env: None, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> Iterator[Callable[..., Harness]]:
    servers: list[BotServer] = []

    def start(**overrides: str) -> Harness:
        settings: Settings = load_settings(bot_env(tmp_path, fake_slack, **overrides))
        server = BotServer(settings).start()
        servers.append(server)
        return Harness(server, SIGNING_SECRET, fake_slack, fake_aws)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def bot(make_bot: Callable[..., Harness]) -> Harness:
    return make_bot()
