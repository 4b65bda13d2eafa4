"""The cost of a `message` event the timeline has nothing to do with: most of the bot's traffic once it
subscribes to message.channels / message.groups (every message in every channel it is in).

The real app (`build_runtime` + `bot.server.web_app`, the same HTTP path as `python -m bot`) serves on
loopback in THIS process, against the fake Slack and fake Incident Manager (their own threads), on a
SQLite file (or `--database-url`, e.g. PostgreSQL). Each kind of message is sent N times as a signed
Events API delivery, one after another; per message the time is from sending the request until the bot
has finished everything it caused (its HTTP answer, and the listener task after the ack). Every SQL
statement the store runs is counted (SELECT as a read, anything else as a write), and so are calls to
Incident Manager and to Slack's Web API: an ignored message must cost no write and no call.

    python -m bench.ignored_messages [--messages N] [--database-url URL]

Kinds: a plain new message in a bound channel; a message in a channel with no binding; an edit in a
channel with no binding; an edit of a message never put on the timeline (bound channel); and, for reference, an event every bot ignores the
same way (a 📌-less reaction with another emoji).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import event

from bot.app import Runtime, build_runtime
from bot.config import load_settings
from bot.domain.binding import Binding
from bot.server import web_app
from bot.store import SqlStore
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.bot_server import free_port

SIGNING_SECRET = "bench-signing-secret-5f0c2e9a7b"
BOT_TOKEN = "xoxb-bench-token"
REGION = "eu-west-1"
TEAM_ID = "T0001"
BOUND_CHANNEL = "C0001"  # seeded by FakeSlack
UNBOUND_CHANNEL = "C0002"
SETTLE_TIMEOUT = 5.0  # for the work one message causes to finish


class BenchError(Exception):
    """The benchmark could not run, or an ignored message cost something: the message says what."""


@dataclass
class Costs:
    """Everything the bot spent while serving one kind of message."""

    reads: int = 0
    writes: int = 0
    aws_calls: int = 0
    slack_calls: int = 0


class StatementCounter:
    """Counts the SQL statements the store's engine runs (SQLAlchemy's cursor events)."""

    def __init__(self, store: SqlStore) -> None:
        self.counts: Counter[str] = Counter()
        # The store's own engine: the bench looks inside on purpose (nothing else needs to).
        event.listen(store._engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.lstrip().split(None, 1)
        verb = words[0].upper() if words else ""
        # BEGIN/COMMIT/SAVEPOINT and PRAGMA are bookkeeping of a unit, not a read or a write of their own.
        if verb in ("SELECT", "WITH"):
            self.counts["read"] += 1
        elif verb in ("INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT"):
            self.counts["write"] += 1


@dataclass(frozen=True)
class Kind:
    name: str
    event: Callable[[int], dict[str, Any]]


def _ts(n: int) -> str:
    return f"{1764150000 + n}.{n % 1_000_000:06d}"


def plain_message(channel: str) -> Callable[[int], dict[str, Any]]:
    def make(n: int) -> dict[str, Any]:
        return {
            "type": "message",
            "channel": channel,
            "channel_type": "channel",
            "user": "U0002",
            "text": f"status update {n}: still looking at the replica lag",
            "ts": _ts(n),
            "event_ts": _ts(n),
            "blocks": [
                {
                    "type": "rich_text",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": f"update {n}"}]}
                    ],
                }
            ],
        }

    return make


def edit_never_on_the_timeline(channel: str) -> Callable[[int], dict[str, Any]]:
    return lambda n: _edit(channel, n)


def _edit(channel: str, n: int) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel,
        "channel_type": "channel",
        "ts": _ts(n + 500_000),
        "event_ts": _ts(n + 500_000),
        "message": {
            "type": "message",
            "user": "U0002",
            "text": f"status update {n}, corrected",
            "ts": _ts(n),
            "edited": {"user": "U0002", "ts": _ts(n + 500_000)},
        },
        "previous_message": {"type": "message", "user": "U0002", "text": f"status update {n}", "ts": _ts(n)},
    }


def other_reaction(n: int) -> dict[str, Any]:
    return slack_requests.reaction_added_event("U0002", "eyes", BOUND_CHANNEL, _ts(n), "U0001")


KINDS = [
    Kind("new message, bound channel", plain_message(BOUND_CHANNEL)),
    Kind("message, unbound channel", plain_message(UNBOUND_CHANNEL)),
    Kind("edit, unbound channel", edit_never_on_the_timeline(UNBOUND_CHANNEL)),
    Kind("edit, never on the timeline", edit_never_on_the_timeline(BOUND_CHANNEL)),
    Kind("(reference) 👀 reaction", other_reaction),
]


@dataclass
class Result:
    kind: str
    latencies: list[float]
    costs: Costs


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """boto3 reads its endpoint and credentials from the process environment: set them for the run."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def settle(baseline: set[asyncio.Task[Any]]) -> None:
    """Until every task the last request started (the listener after its ack) has finished."""
    deadline = time.perf_counter() + SETTLE_TIMEOUT
    current = asyncio.current_task()
    while time.perf_counter() < deadline:
        started = {task for task in asyncio.all_tasks() if task is not current and task not in baseline}
        if not started:
            return
        await asyncio.wait(started, timeout=SETTLE_TIMEOUT)
    raise BenchError("the work one message caused did not finish within 5 s")


async def measure(
    session: aiohttp.ClientSession,
    url: str,
    kind: Kind,
    count: int,
    counter: StatementCounter,
    aws: FakeIncidentManager,
    slack: FakeSlack,
    baseline: set[asyncio.Task[Any]],
) -> Result:
    """`baseline`: the tasks that live on between requests (the server's, the kept-alive connection's)."""
    latencies: list[float] = []
    reads, writes = counter.counts["read"], counter.counts["write"]
    aws_before, slack_before = len(aws.calls), len(slack.calls)
    for n in range(count):
        # Signed just before it is sent, as Slack does, outside the timed part.
        body, headers = slack_requests.event_callback(SIGNING_SECRET, kind.event(n), team_id=TEAM_ID)
        started = time.perf_counter()
        async with session.post(url, data=body.encode(), headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise BenchError(f"{kind.name}: HTTP {response.status}")
        await settle(baseline)
        latencies.append(time.perf_counter() - started)
    costs = Costs(
        reads=counter.counts["read"] - reads,
        writes=counter.counts["write"] - writes,
        aws_calls=len(aws.calls) - aws_before,
        slack_calls=len(slack.calls) - slack_before,
    )
    return Result(kind.name, latencies, costs)


async def run(count: int, database_url: str | None, workdir: Path) -> list[Result]:
    with FakeSlack(bot_token=BOT_TOKEN) as slack, FakeIncidentManager() as aws:
        slack.add_channel(UNBOUND_CHANNEL, name="random")
        arn = aws.add_incident(title="Checkout DB down")
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": database_url or f"sqlite:///{workdir}/bench.db",
            "AWS_REGION": REGION,
            "LOG_LEVEL": "WARNING",
        }
        aws_env = {
            "AWS_ENDPOINT_URL_SSM_INCIDENTS": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        with environment(aws_env):
            runtime = await build_runtime(load_settings(env))
            try:
                return await _serve_and_measure(runtime, arn, count, aws, slack)
            finally:
                await runtime.close()


async def _serve_and_measure(
    runtime: Runtime, arn: str, count: int, aws: FakeIncidentManager, slack: FakeSlack
) -> list[Result]:
    store = runtime.deps.store
    if not isinstance(store, SqlStore):
        raise BenchError("the bench counts the SQL store's statements")
    await store.put_binding(
        Binding(TEAM_ID, BOUND_CHANNEL, arn, "Checkout DB down", "U0001", datetime.now(UTC))
    )
    counter = StatementCounter(store)
    await runtime.identity.verify()  # as `serve` does: the bot knows its workspace before it serves
    port = free_port()
    runner = web.AppRunner(web_app(runtime), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        # One kept-alive connection: what is timed is the bot's work, not a TCP handshake per message.
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            body, headers = slack_requests.url_verification(SIGNING_SECRET, "warm")
            async with session.post(url, data=body.encode(), headers=headers) as response:
                await response.read()
            await asyncio.sleep(0.5)  # the connection's handler now waits for the next request
            baseline = set(asyncio.all_tasks())
            warm_up = KINDS[-1]  # imports, caches, the first trip to the database
            await measure(session, url, warm_up, 20, counter, aws, slack, baseline)
            return [await measure(session, url, kind, count, counter, aws, slack, baseline) for kind in KINDS]
    finally:
        await runner.cleanup()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def table(results: list[Result], count: int, database: str) -> str:
    header = (
        f"{'message':<30} {'median ms':>9} {'p95 ms':>7} {'reads':>6} {'writes':>6} {'AWS':>4} {'Slack':>5}"
    )
    lines = [f"{count} signed Events API deliveries of each kind, one at a time, on {database}", header]
    for result in results:
        ordered = sorted(result.latencies)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        costs = result.costs
        lines.append(
            f"{result.kind:<30} {_ms(statistics.median(ordered)):>9} {_ms(p95):>7} "
            f"{costs.reads / count:>6.2f} {costs.writes:>6} {costs.aws_calls:>4} {costs.slack_calls:>5}"
        )
    lines.append("reads: SQL SELECTs per message; writes, AWS and Slack: calls in total (all must be 0)")
    return "\n".join(lines)


def check(results: list[Result]) -> list[str]:
    return [
        f"{result.kind}: {result.costs}"
        for result in results
        if result.costs.writes or result.costs.aws_calls or result.costs.slack_calls
    ]


def main(argv: list[str] | None = None) -> int:
    # The table is the output: the bot's and Bolt's own lines only when something is wrong.
    for name in ("bot", "slack_bolt", "slack_sdk", "botocore", "aiohttp"):
        logging.getLogger(name).setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300, help="deliveries of each kind (default 300)")
    parser.add_argument("--database-url", help="the store (default: a SQLite file in a temporary directory)")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ignored-") as workdir:
        try:
            results = asyncio.run(run(args.messages, args.database_url, Path(workdir)))
        except BenchError as error:
            print(f"bench failed: {error}", file=sys.stderr)
            return 1
    database = "PostgreSQL" if (args.database_url or "").startswith("postgresql") else "SQLite"
    print(table(results, args.messages, database))
    if args.json:
        print(json.dumps([{"kind": r.kind, "latencies": r.latencies, **r.costs.__dict__} for r in results]))
    problems = check(results)
    if problems:
        print("an ignored message cost a write or a call: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
