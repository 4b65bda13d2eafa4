"""How soon the notes a killed replica had queued land: real `python -m bot` processes, `kill -9`.

(a) restart: one replica (SQLite by default), Incident Manager failing (every connection reset), N notes
    sent and each answered "saved, queued"; `kill -9`; Incident Manager back and the replica started
    again on the same database and port. Measured: from the restart (the new process spawned) and from
    its being ready (/healthz 200) until the last of the N events is on the timeline.
(b) failover: two replicas on one PostgreSQL database (a database of its own, created and dropped),
    Incident Manager failing, N notes sent to the first and each answered "saved, queued"; `kill -9` of
    the first, Incident Manager back at once. Measured: from the kill until the survivor has landed the
    last of the N events.

Each run then checks that every note landed exactly once (one event per note, one clientToken each), and
that every person heard "Now on the timeline" in the end.

    python -m bench.resume_after_kill [--notes N] [--runs R] [--restart-db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.bot_server import free_port, http
from tests.support.postgres import scratch_database, server_url

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-signing-secret-5f0c2e9a7b"
BOT_TOKEN = "xoxb-bench-token"
QUEUED = "saved but not on the timeline yet"
LANDED_LATER = "Now on the timeline"
# As tests/e2e/test_durability_e2e.py: a failing call gives up after about a second.
READ_TIMEOUT = "1"


class BenchError(Exception):
    pass


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until `condition` holds; return when it did (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.01)
    raise BenchError(f"timed out after {timeout}s waiting for {what}")


class Replica:
    """One `python -m bot` process on the fakes."""

    def __init__(
        self,
        workdir: Path,
        slack: FakeSlack,
        aws: FakeIncidentManager,
        database_url: str,
        port: int,
        rate: float,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"bot-{port}-{time.monotonic_ns()}.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "AWS_", "DATABASE_", "INCIDENT_"))
        }
        env.update(
            PYTHONPATH=str(ROOT),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            DATABASE_URL=database_url,
            PORT=str(port),
            AWS_REGION="eu-west-1",
            AWS_ENDPOINT_URL_SSM_INCIDENTS=aws.endpoint_url,
            AWS_ACCESS_KEY_ID="AKIDBENCHBENCHBENCH",
            AWS_SECRET_ACCESS_KEY="bench-secret-key",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
            INCIDENT_MANAGER_READ_TIMEOUT=READ_TIMEOUT,
            INCIDENT_MANAGER_CALLS_PER_SECOND=str(rate),
        )
        self.spawned = time.monotonic()
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot"], cwd=workdir, env=env, stdout=log, stderr=log, text=True
            )

    def wait_ready(self, timeout: float = 30) -> float:
        def healthy() -> bool:
            if self.process.poll() is not None:
                raise BenchError(f"bot exited: {self.log.read_text()[-2000:]}")
            try:
                return http("GET", self.url + "/healthz", timeout=1).status == 200
            except OSError:
                return False

        return wait_until(healthy, timeout, "the bot to be healthy")

    def command(self, slack: FakeSlack, text: str) -> str:
        """A signed slash command; its response_url."""
        response_url = slack.new_response_url()
        body, headers = slack_requests.slash_command(
            SIGNING_SECRET, text=text, response_url=response_url, trigger_id=slack.issue_trigger_id()
        )
        answer = http("POST", self.url + "/slack/events", body, headers)
        if answer.status != 200:
            raise BenchError(f"slash command answered {answer.status}")
        return response_url

    def kill(self) -> float:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        return time.monotonic()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def messages(self) -> list[str]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line).get("message", "") for line in lines if line.startswith("{")]


@dataclass
class Run:
    scenario: str
    database: str
    notes: int
    # (a): from the restart's spawn, and from its being ready; (b): from the kill.
    seconds: float
    from_ready: float | None = None
    ready_after: float | None = None


def queue_notes(
    replica: Replica, slack: FakeSlack, aws: FakeIncidentManager, notes: int, tag: str
) -> tuple[str, list[str]]:
    """Bind a channel to a new incident, take Incident Manager down, send `notes` notes and wait until each
    is answered "saved, queued"; return the incident and the response_urls."""
    arn = aws.add_incident(title=f"bench {tag}")
    (reply,) = slack.wait_for_responses(replica.command(slack, f"bind {arn}"), 1, timeout=15)
    if "now bound" not in reply["text"]:
        raise BenchError(f"bind failed: {reply['text']}")
    aws.set_down(True)
    urls = [replica.command(slack, f"{tag} note {i}") for i in range(notes)]
    for url in urls:
        (first,) = slack.wait_for_responses(url, 1, timeout=30)
        if QUEUED not in first["text"]:
            raise BenchError(f"expected queued, got: {first['text']}")
    return arn, urls


def check_exactly_once(
    slack: FakeSlack, aws: FakeIncidentManager, arn: str, urls: list[str], tag: str
) -> None:
    time.sleep(1.5)  # would a second copy of any of them follow?
    events = aws.events(arn)
    if len(events) != len(urls):
        raise BenchError(f"{len(events)} events for {len(urls)} notes")
    texts = sorted(str(json.loads(e["eventData"])).split("\n")[0] for e in events)
    if texts != sorted(f"{tag} note {i}" for i in range(len(urls))):
        raise BenchError(f"events do not match the notes: {texts}")
    tokens = {
        call.params["clientToken"]
        for call in aws.calls_to("CreateTimelineEvent")
        if call.params.get("incidentRecordArn") == arn
    }
    if len(tokens) != len(urls):
        raise BenchError(f"{len(tokens)} clientTokens for {len(urls)} notes")
    for url in urls:
        replies = slack.wait_for_responses(url, 2, timeout=20)
        if LANDED_LATER not in replies[1]["text"]:
            raise BenchError(f"second reply: {replies[1]['text']}")


def restart_run(
    workdir: Path,
    slack: FakeSlack,
    aws: FakeIncidentManager,
    database_url: str,
    database: str,
    notes: int,
    rate: float,
    tag: str,
) -> Run:
    port = free_port()
    first = Replica(workdir, slack, aws, database_url, port, rate)
    second: Replica | None = None
    try:
        first.wait_ready()
        arn, urls = queue_notes(first, slack, aws, notes, tag)
        first.kill()
        aws.set_down(False)
        second = Replica(workdir, slack, aws, database_url, port, rate)  # the same port: a restart
        ready = second.wait_ready()
        landed = wait_until(lambda: len(aws.events(arn)) >= notes, 120, "the queued notes to land")
        check_exactly_once(slack, aws, arn, urls, tag)
        return Run(
            "restart", database, notes, landed - second.spawned, landed - ready, ready - second.spawned
        )
    finally:
        first.stop()
        if second is not None:
            second.stop()


def failover_run(
    workdir: Path,
    slack: FakeSlack,
    aws: FakeIncidentManager,
    database_url: str,
    database: str,
    notes: int,
    rate: float,
    tag: str,
) -> Run:
    victim = Replica(workdir, slack, aws, database_url, free_port(), rate)
    survivor = Replica(workdir, slack, aws, database_url, free_port(), rate)
    try:
        victim.wait_ready()
        survivor.wait_ready()
        arn, urls = queue_notes(victim, slack, aws, notes, tag)
        killed = victim.kill()
        aws.set_down(False)
        landed = wait_until(lambda: len(aws.events(arn)) >= notes, 120, "the survivor to land the notes")
        check_exactly_once(slack, aws, arn, urls, tag)
        return Run("failover", database, notes, landed - killed)
    finally:
        victim.stop()
        survivor.stop()


@contextlib.contextmanager
def database(kind: str, workdir: Path, name: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir}/{name}.db"
        return
    with scratch_database(server_url(), prefix="incident_bot_bench") as url:
        yield url


def report(runs: list[Run]) -> str:
    lines = ["", "scenario  database    notes  runs  time to the last event (median, max)"]
    for scenario in ("restart", "failover"):
        for kind in ("sqlite", "postgresql"):
            group = [r for r in runs if r.scenario == scenario and r.database == kind]
            if not group:
                continue
            seconds = [r.seconds for r in group]
            what = "from the restart" if scenario == "restart" else "from the kill"
            line = (
                f"{scenario:<9} {kind:<11} {group[0].notes:>5} {len(group):>5}  "
                f"{statistics.median(seconds):.2f} s, {max(seconds):.2f} s {what}"
            )
            if scenario == "restart":
                from_ready = [r.from_ready or 0.0 for r in group]
                ready_after = [r.ready_after or 0.0 for r in group]
                line += (
                    f"; {statistics.median(from_ready):.2f} s, {max(from_ready):.2f} s from ready"
                    f" (ready {statistics.median(ready_after):.2f} s after the spawn)"
                )
            lines.append(line)
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notes", type=int, default=10, help="notes queued before the kill (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="INCIDENT_MANAGER_CALLS_PER_SECOND (default 5)"
    )
    parser.add_argument(
        "--restart-db", choices=("sqlite", "postgresql", "both"), default="sqlite", help="(a)'s database"
    )
    parser.add_argument("--skip-failover", action="store_true", help="only (a)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    restart_dbs = ("sqlite", "postgresql") if args.restart_db == "both" else (args.restart_db,)
    runs: list[Run] = []
    keep = os.environ.get("BENCH_KEEP_LOGS")
    with (
        contextlib.nullcontext(keep) if keep else tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp,
        FakeSlack(bot_token=BOT_TOKEN) as slack,
        FakeIncidentManager() as aws,
    ):
        workdir = Path(tmp)
        try:
            for i in range(args.runs):
                for kind in restart_dbs:
                    with database(kind, workdir, f"restart-{i}") as url:
                        run = restart_run(
                            workdir, slack, aws, url, kind, args.notes, args.rate, f"restart-{kind}-{i}"
                        )
                    print(
                        f"restart  {kind}: {run.seconds:.2f} s from the restart, {run.from_ready:.2f} s from ready",
                        flush=True,
                    )
                    runs.append(run)
                if not args.skip_failover:
                    with database("postgresql", workdir, f"failover-{i}") as url:
                        run = failover_run(
                            workdir, slack, aws, url, "postgresql", args.notes, args.rate, f"failover-{i}"
                        )
                    print(f"failover postgresql: {run.seconds:.2f} s from the kill", flush=True)
                    runs.append(run)
        except BenchError as error:
            print(f"bench failed: {error}", file=sys.stderr)
            return 1
    print(report(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
