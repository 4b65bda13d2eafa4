"""Several replicas of the bot on one PostgreSQL database: real `python -m bot` processes, each on its own
port, all sharing a database made for the test (and dropped after it), talking to the fake Slack and the
fake Incident Manager of the test session.

    def test_something(deployment: Deployment, fake_slack: FakeSlack) -> None:
        one, two = deployment.start(2, INCIDENT_MANAGER_READ_TIMEOUT="2")
        result = one.command(fake_slack, "bind arn:...")
        two.kill()  # SIGKILL, nothing finishes
        two = deployment.restart(two)  # the same host and port again

The `deployment` fixture needs the PostgreSQL server of TEST_DATABASE_URL: without one the test is left
out locally (one line says how to run it) and fails under CI, as the store's PostgreSQL tests do. Import
it into a conftest (tests/e2e/conftest.py does) or a test module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOT_TOKEN, REGION, SIGNING_SECRET
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.bot_server import HttpResult, free_port, http
from tests.support.harness import CommandResult
from tests.support.postgres import scratch_database

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0  # until /healthz answers 200 (the first replica also migrates the new database)
STOP_TIMEOUT = 15.0  # SIGTERM, then SIGKILL
# The parent's settings that must not reach a replica (real AWS or Slack, another database, a proxy).
_NOT_INHERITED = ("SLACK_", "AWS_", "DATABASE_", "INCIDENT_MANAGER_", "ENTRY_RETENTION", "TIMELINE_", "BIND_")


class Replica:
    """One bot process. Its log (JSON lines) is `log`; `url` is where Slack would reach it."""

    def __init__(self, name: str, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.name = name
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    # ------------------------------------------------------------------ as Slack

    def post(self, body: str, headers: dict[str, str]) -> HttpResult:
        return http("POST", self.url + "/slack/events", body, headers)

    def command(
        self,
        slack: FakeSlack,
        text: str,
        *,
        user_id: str = "U0001",
        user_name: str = "alice",
        channel_id: str = "C0001",
    ) -> CommandResult:
        """A signed `/incident-note <text>` with a trigger_id and response_url the fake Slack knows."""
        trigger_id = slack.issue_trigger_id(user_id)
        response_url = slack.new_response_url()
        body, headers = slack_requests.slash_command(
            SIGNING_SECRET,
            text=text,
            response_url=response_url,
            trigger_id=trigger_id,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
        )
        return CommandResult(self.post(body, headers), response_url, trigger_id)

    def metrics(self) -> str:
        return http("GET", self.url + "/metrics").body

    # ------------------------------------------------------------------ as the operator

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9: no chance to finish anything or give anything back."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def resigned(
    body: str, headers: dict[str, str], retry_num: int, reason: str = "http_timeout"
) -> dict[str, str]:
    """Slack's retry of a delivery: the same body, signed afresh, with X-Slack-Retry-Num/-Reason."""
    return {
        "Content-Type": headers["Content-Type"],
        **slack_requests.sign(body, SIGNING_SECRET),
        "X-Slack-Retry-Num": str(retry_num),
        "X-Slack-Retry-Reason": reason,
    }


class Deployment:
    """Replicas started on one database; `stop_all` ends those still running."""

    def __init__(self, database_url: str, workdir: Path, slack: FakeSlack, aws: FakeIncidentManager) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.slack = slack
        self.aws = aws
        self.replicas: list[Replica] = []

    def environment(self, port: int, **env: str) -> dict[str, str]:
        variables = {key: value for key, value in os.environ.items() if not key.startswith(_NOT_INHERITED)}
        variables.update(
            PYTHONPATH=str(ROOT),
            NO_PROXY="127.0.0.1,localhost",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.slack.api_url,
            DATABASE_URL=self.database_url,
            PORT=str(port),
            AWS_REGION=REGION,
            AWS_ENDPOINT_URL_SSM_INCIDENTS=self.aws.endpoint_url,
            AWS_ACCESS_KEY_ID="AKIDTESTTESTTEST",
            AWS_SECRET_ACCESS_KEY="test-secret-key",
            # Never this machine's AWS files or the instance metadata service.
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(self.workdir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.workdir / "no-aws-credentials"),
        )
        variables.update(env)
        return variables

    def start(self, count: int = 1, **env: str) -> list[Replica]:
        """Start `count` replicas at once (they race for the migration lock, as a rolling deploy does) with
        `env` added to their environment; return them once each answers /healthz."""
        started = [self._spawn(free_port(), env) for _ in range(count)]
        for replica in started:
            self._wait_healthy(replica)
        return started

    def restart(self, replica: Replica, **env: str) -> Replica:
        """The same replica again (same host and port, as an orchestrator restarts it) once it is gone."""
        replica.stop()
        restarted = self._spawn(replica.port, env)
        self._wait_healthy(restarted)
        return restarted

    def _spawn(self, port: int, env: dict[str, str]) -> Replica:
        name = f"replica-{len(self.replicas) + 1}"
        log = self.workdir / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=self.workdir,  # no .env of the repository configures it
                env=self.environment(port, **env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                text=True,
            )
        replica = Replica(name, process, port, log)
        self.replicas.append(replica)
        return replica

    @staticmethod
    def _wait_healthy(replica: Replica) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not replica.alive():
                pytest.fail(f"{replica.name} exited: {replica.log.read_text()[-2000:]}")
            try:
                if http("GET", replica.url + "/healthz", timeout=1).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"{replica.name} never became healthy: {replica.log.read_text()[-2000:]}")

    def stop_all(self) -> None:
        for replica in self.replicas:
            replica.stop()


@pytest.fixture
def deployment(
    postgres_server: str, tmp_path: Path, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> Iterator[Deployment]:
    """Replicas on a PostgreSQL database of the test's own (dropped after the test)."""
    with scratch_database(postgres_server, prefix="incident_bot_replicas") as url:
        running = Deployment(url, tmp_path, fake_slack, fake_aws)
        try:
            yield running
        finally:
            running.stop_all()
