"""README's "Try it without AWS" works as written: the emulator command starts the fake Incident Manager
on its own, the check command answers with its incidents, and the bot, configured with the documented
environment, gets through every Incident Manager operation it uses against that running process.

The commands are read from README.md itself (only the port is changed, to a free one), so an edit that
breaks them breaks this test."""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.aws.incidents import Boto3IncidentGateway
from bot.domain.binding import channel_link
from bot.domain.timeline import EventType, TimelineEntry, client_token, encode_event_data
from bot.store import SqlStore
from bot.usecases.binding import BindingService, BindRequest
from bot.usecases.timeline_events import TimelineReader
from tests.support.bot_server import free_port
from tests.unit.test_iam_policy import _granted

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Try it without AWS", 1)[1].split("\n## ", 1)[0]
DOCUMENTED_PORT = "4566"


def _commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", SECTION, re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def _command(prefix: str) -> str:
    [found] = [line for line in _commands() if line.startswith(prefix)]
    return found


@pytest.fixture
def emulator() -> Iterator[tuple[int, list[str]]]:
    port = free_port()
    argv = shlex.split(_command("python -m tests.fakes.incident_manager"))
    assert argv[argv.index("--port") + 1] == DOCUMENTED_PORT
    argv[argv.index("--port") + 1] = str(port)
    argv[0] = sys.executable
    titles = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--incident"]
    with subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            listening = process.stderr.readline()
            assert f"http://127.0.0.1:{port}" in listening, listening
            arns = [process.stdout.readline().strip() for _ in titles]
            assert all(arn.startswith("arn:aws:ssm-incidents::") for arn in arns), arns
            yield port, titles
        finally:
            process.terminate()
        assert process.wait(10) == 0


def test_the_documented_check_lists_the_emulators_incidents(emulator: tuple[int, list[str]]) -> None:
    port, titles = emulator
    argv = shlex.split(_command("python -c"))
    argv[0] = sys.executable
    argv = [arg.replace(f":{DOCUMENTED_PORT}", f":{port}") for arg in argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    answer = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert sorted(ast.literal_eval(answer.stdout)) == sorted(titles)  # the command prints a Python list


def _documented_environment(port: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in _commands():
        if line.startswith("export "):
            for pair in shlex.split(line)[1:]:
                name, _, value = pair.partition("=")
                env[name] = value.replace(f":{DOCUMENTED_PORT}", f":{port}")
    return env


class AllowAll:
    async def check(self, user_id: str) -> None:
        return None


async def test_the_bot_configured_as_documented_uses_every_operation_against_it(
    emulator: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, titles = emulator
    env = _documented_environment(port)
    assert env["AWS_ENDPOINT_URL_SSM_INCIDENTS"] == f"http://127.0.0.1:{port}"
    for name in (
        "AWS_ENDPOINT_URL_SSM_INCIDENTS",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.setenv(name, env[name])
    gateway = Boto3IncidentGateway(env["AWS_REGION"], read_timeout=5.0, calls_per_second=1000)
    seen: set[str] = set()

    def answered(model: Any, http_response: Any, **_: Any) -> None:
        if http_response.status_code < 300:
            seen.add(model.name)

    gateway._get_client().meta.events.register("after-call.ssm-incidents", answered)
    store = SqlStore("sqlite://")
    try:
        service = BindingService(store, gateway, AllowAll())
        listing = await service.open_incidents.get()
        assert sorted(i.title for i in listing.incidents) == sorted(titles)
        incident = listing.incidents[0]
        link = channel_link("T0001", "C0001", "checkout-db-down", "https://acme.slack.com/")
        bound = await service.bind(BindRequest("T0001", "C0001", "U0001", incident.arn, link, "trigger-1"))
        assert bound.link_error is None
        entry = TimelineEntry(
            client_token("readme", "emulator"),
            incident.arn,
            EventType.NOTE,
            datetime.now(UTC),
            encode_event_data("the DB failover finished\n\n— alice, via Slack"),
        )
        event_id = await gateway.create_timeline_event(entry)
        page = await TimelineReader(gateway).latest(incident.arn, 10)
        assert [event.event_type for event in page.events] == ["Note", "SSM Incident Trigger"]
        assert page.events[0].text.text.startswith("the DB failover finished")
        # The lifecycle: the message edited in Slack, then Undo.
        edited = replace(entry, event_data=encode_event_data("the DB failover finished, edited"))
        await gateway.update_timeline_event(
            edited, event_id, client_token("readme", "emulator", "update", "1")
        )
        await gateway.delete_timeline_event(incident.arn, event_id)
        after = await TimelineReader(gateway).latest(incident.arn, 10)
        assert [event.event_type for event in after.events] == ["SSM Incident Trigger"]
        unbound = await service.unbind("T0001", "C0001", "U0001", "trigger-2")
        assert unbound.removed is not None and unbound.unlink_error is None
    finally:
        await store.close()
        await gateway.close()
    # Every action the IAM policy grants (exactly what the bot calls) was answered by the emulator.
    assert seen == set(_granted())
