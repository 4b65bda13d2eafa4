"""A burst of notes against two replicas on PostgreSQL beside one replica on SQLite, in one run: the ack
p99 and the time until the last note is on the timeline, for each.

Every replica is its own `python -m bot` process. The fake Slack and the fake Incident Manager run in
THIS process (threads, loopback), shared by both set-ups and reset between them. Incident Manager admits
`--quota` calls a second (every operation together, a strict sliding window, from the burst's first note)
and answers CreateTimelineEvent after `--aws-latency`; the bot keeps its own default rate limit, which
for the deployment is the same 5 calls a second whatever the number of replicas. One channel is bound
first; then N signed `/incident-note bench note <i>` commands go out C at a time, alternately to each
replica of the set-up (as a load balancer spreads them). The run then waits until every note is on the
timeline and every person got the reply that settles it, and counts lost and doubled events, throttled
calls and failure replies (all should be 0 but the throttled calls, which should be few).

PostgreSQL is TEST_DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres); a scratch
database is created there and dropped afterwards.

    python -m bench.replicas_burst [--notes N] [--concurrency C] [--quota R] [--aws-latency S]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.ack_latency import (
    BOT_TOKEN,
    REGION,
    REQUEST_TIMEOUT,
    SIGNING_SECRET,
    BenchError,
    Child,
    Outcome,
    Prepared,
    Sample,
    bind_channel,
    child_env,
    count_events,
    count_replies,
    drained,
    log,
    percentile,
    post,
    prepare,
    start_child,
    wait_healthy,
)
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support.bot_server import free_port
from tests.support.postgres import scratch_database, server_problem, server_url

# Before the burst: every replica has announced itself and seen the others (the deployment's rate is
# shared among the live ones), and the binding is in the store.
SETTLE_SECONDS = 3.0
POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class Setup:
    name: str
    replicas: int
    database: str  # "postgresql" or "sqlite"


SETUPS = (Setup("PostgreSQL, 2 replicas", 2, "postgresql"), Setup("SQLite, 1 replica", 1, "sqlite"))


@dataclass
class Measured:
    setup: Setup
    samples: list[Sample]
    outcome: Outcome
    started_wall: float  # time.time() when the first note was sent
    calls: int  # CreateTimelineEvent attempts the fake got
    throttled: int
    settled: bool  # every note on the timeline and its person told, within the drain timeout

    @property
    def acks(self) -> list[float]:
        return [s.latency for s in self.samples if s.status == 200]

    @property
    def last_event_after(self) -> float | None:
        done = self.outcome.events_done_wall
        return None if done is None else done - self.started_wall

    @property
    def all_told_after(self) -> float | None:
        done = self.outcome.settled_wall
        return None if done is None else done - self.started_wall


async def fire_alternately(
    slack: FakeSlack, replicas: list[Child], requests: list[Prepared], concurrency: int
) -> list[Sample]:
    """`concurrency` workers share the requests; request i goes to replica i mod K. Each worker keeps one
    connection to each replica, opened by an untimed `help` before the burst."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    sessions = [
        aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit_per_host=1))
        for _ in range(concurrency)
    ]
    samples: list[Sample] = [Sample(math.nan, 0, "not sent")] * len(requests)
    pending: Iterator[int] = iter(range(len(requests)))

    async def worker(session: aiohttp.ClientSession) -> None:
        for index in pending:  # shared iterator: each request is taken by exactly one worker
            samples[index] = await post(session, replicas[index % len(replicas)].url, requests[index])

    try:
        warm = await asyncio.gather(
            *(post(session, child.url, prepare(slack, "help")) for session in sessions for child in replicas)
        )
        if failed := [s for s in warm if s.status != 200]:
            raise BenchError(f"{len(failed)} warm-up requests failed, e.g. {failed[0]}")
        await asyncio.gather(*(worker(session) for session in sessions))
    finally:
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
    return samples


async def measure(
    setup: Setup,
    database_url: str,
    args: argparse.Namespace,
    slack: FakeSlack,
    aws: FakeIncidentManager,
    workdir: Path,
) -> Measured:
    slack.reset()
    aws.reset()
    replicas: list[Child] = []
    try:
        for number in range(setup.replicas):
            port = free_port()
            env = child_env(
                workdir,
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=slack.api_url,
                DATABASE_URL=database_url,
                PORT=str(port),
                AWS_REGION=REGION,
                AWS_ENDPOINT_URL_SSM_INCIDENTS=aws.endpoint_url,
                AWS_ACCESS_KEY_ID="AKIDBENCHBENCHBENCH",
                AWS_SECRET_ACCESS_KEY="bench-secret-key",
            )
            name = f"{setup.database}-{number + 1}"
            replicas.append(start_child(name, ["-m", "bot"], env, port, workdir))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as session:
            await asyncio.gather(*(wait_healthy(session, child) for child in replicas))
            arn = aws.add_incident(title="Bench incident")
            await bind_channel(session, slack, replicas[0], arn)
        await asyncio.sleep(SETTLE_SECONDS)

        log(f"{setup.name}: {args.notes} notes, {args.concurrency} at a time, alternately")
        requests = [prepare(slack, f"bench note {i}") for i in range(args.notes)]
        aws.set_latency(args.aws_latency, "CreateTimelineEvent")
        aws.throttle_above(args.quota)
        started_wall = time.time()
        samples = await fire_alternately(slack, replicas, requests, args.concurrency)
        log(f"{setup.name}: acks done after {time.time() - started_wall:.1f} s; waiting for the events")

        sent = {r.response_url: s.sent for r, s in zip(requests, samples, strict=True)}
        outcome = Outcome()
        deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < deadline:
            for child in replicas:
                if child.process.poll() is not None:
                    raise BenchError(
                        f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}"
                    )
            count_events(outcome, aws, arn, args.notes)
            count_replies(outcome, slack, sent)
            if drained(outcome, args.notes):
                break
            await asyncio.sleep(POLL_INTERVAL)
        settled = drained(outcome, args.notes)
        await asyncio.sleep(1.0)  # a duplicate could still be on its way
        count_events(outcome, aws, arn, args.notes)
        count_replies(outcome, slack, sent)
        creates = aws.calls_to("CreateTimelineEvent")
        throttled = sum(1 for call in creates if call.error_code == "ThrottlingException")
        return Measured(setup, samples, outcome, started_wall, len(creates), throttled, settled)
    finally:
        for child in replicas:
            child.stop()


def report(results: list[Measured], args: argparse.Namespace) -> str:
    def value(seconds: float | None, scale: float, unit: str) -> str:
        return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds * scale:.1f} {unit}"

    header = (
        "set-up",
        "ack p50",
        "ack p99",
        "non-200",
        "last event after",
        "all told after",
        "events (lost, doubled)",
        "calls (throttled)",
        "failure replies",
    )
    rows = [header]
    for m in results:
        o = m.outcome
        lost = args.notes - o.distinct_notes
        rows.append(
            (
                m.setup.name,
                value(percentile(m.acks, 50), 1000, "ms"),
                value(percentile(m.acks, 99), 1000, "ms"),
                str(sum(1 for s in m.samples if s.status != 200)),
                value(m.last_event_after, 1, "s"),
                value(m.all_told_after, 1, "s") + ("" if m.settled else " (timed out)"),
                f"{o.events_matched} ({lost}, {o.events_matched - o.distinct_notes})",
                f"{m.calls} ({m.throttled})",
                str(o.failed),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        f"{args.notes} notes, {args.concurrency} at a time, alternately across each set-up's replicas; "
        f"Incident Manager admits {args.quota:g} calls/s (CreateTimelineEvent answers after "
        f"{args.aws_latency:g} s); the bot's default rate limit; times from the first note sent",
        "",
    ]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> list[Measured]:
    results: list[Measured] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp,
        FakeSlack(bot_token=BOT_TOKEN) as slack,
        FakeIncidentManager() as aws,
        scratch_database(server_url(), prefix="incident_bot_bench") as postgres_url,
    ):
        workdir = Path(tmp)
        for setup in SETUPS:
            url = postgres_url if setup.database == "postgresql" else f"sqlite:///{workdir}/bot.db"
            results.append(await measure(setup, url, args, slack, aws, workdir))
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replicas_burst", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--notes", type=int, default=300, help="notes in the burst (default 300)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight (default 50)")
    parser.add_argument(
        "--quota", type=float, default=5.0, help="calls/s Incident Manager admits (default 5, the bot's rate)"
    )
    parser.add_argument(
        "--aws-latency", type=float, default=0.05, help="fake CreateTimelineEvent latency, s (default 0.05)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        help="seconds to wait for the events and replies of each set-up (default 60 + notes / quota * 2)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.notes <= 5000:
        parser.error("--notes must be 1..5000")
    if not 1 <= args.concurrency <= min(500, args.notes):
        parser.error("--concurrency must be 1..500 and at most --notes")
    if not 0.1 <= args.quota <= 1000:
        parser.error("--quota must be 0.1..1000 calls per second")
    if not 0 <= args.aws_latency <= 8:
        parser.error("--aws-latency must be 0..8 seconds")
    if args.drain_timeout is None:
        args.drain_timeout = 60 + 2 * args.notes / args.quota
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if (problem := server_problem()) is not None:
        print(f"benchmark failed: PostgreSQL: {problem}", file=sys.stderr)
        return 1
    try:
        results = asyncio.run(run(args))
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        return 130
    print(report(results, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
