"""Ack latency of `/incident-note` under load: the real bot vs a bare Bolt app that only acks.

Both apps run as their own processes (`python -m bot` and `python -m bench.bare_app`), so neither
shares a GIL with the load generator.  The fake Slack and fake Incident Manager run in THIS process,
in their own threads, on loopback.  For each app: N signed slash commands, C at a time, each with its
own trigger_id and response_url; the ack latency is the time until the app's HTTP response is read.
For the bot, the run then waits (bounded) until every note is on the fake incident's timeline and
every response_url got its reply, and counts lost and duplicated events.

Scenarios for the outbox: `--throttle R` makes the fake Incident Manager throttle CreateTimelineEvent
above R calls/s, `--outage S` takes it down (connections reset) for the first S seconds of the bot's run.
Each note's replies are then sorted: "Added" at once, "saved ... not on the timeline yet" followed by
"Now on the timeline", or reported failed.  The bot's client-side rate limit
(INCIDENT_MANAGER_CALLS_PER_SECOND) is `--bot-rate`; without it the bot gets 1000/s in the plain run
(so the ack comparison does not measure the limit) and its own default under --throttle / --outage.

    python -m bench.ack_latency [--notes N] [--concurrency C] [--aws-latency S]
                                [--throttle R] [--outage S] [--bot-rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import DEFAULT_AWS_CALLS_PER_SECOND
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.bot_server import free_port

ROOT = Path(__file__).resolve().parents[1]

SIGNING_SECRET = "bench-signing-secret-5f0c2e9a7b"
BOT_TOKEN = "xoxb-bench-token"
REGION = "eu-west-1"
CHANNEL_ID = "C0001"  # seeded by FakeSlack, like user U0001 "alice"
USER_ID = "U0001"
NOTE_PATTERN = re.compile(r"bench note (\d+)(?=\s|$)")
# The bot's rate limit in the plain run: the most bot.config accepts, so the limit is not what is measured.
UNLIMITED_BOT_RATE = 1000.0

# What the bot replies (bot/messages.py): at once, or "saved" and later a second reply.
ADDED_PREFIX = "Added a "
QUEUED_MARK = "is saved but not on the timeline yet"
QUEUED_REASON = re.compile(r"Incident Manager (.+?) right now")
LANDED_LATER_PREFIX = "Now on the timeline"
FAILED_MARKS = ("Nothing was added", "_Reference:")

SLACK_ACK_DEADLINE = 3.0  # Slack shows the person an error when the ack takes longer
REQUEST_TIMEOUT = 10.0  # per HTTP request of the load generator
START_TIMEOUT = 30.0  # until a child process answers /healthz
BIND_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0  # SIGTERM, then SIGKILL
POLL_INTERVAL = 0.05
METRICS_INTERVAL = 0.5  # how often GET /metrics is read while waiting for the bot's events
LAG_INTERVAL = 0.005

# Variables of the parent's environment that must not leak into the children (real AWS or Slack
# settings, a .env-style configuration of the bot, proxies that would take loopback traffic away).
_DROP_PREFIXES = ("AWS_", "SLACK_")
_DROP_NAMES = {
    "DATABASE_URL",
    "PORT",
    "TIMELINE_REACTION",
    "BIND_ALLOWED_USERS",
    "BIND_ALLOWED_USERGROUPS",
    "INCIDENT_MANAGER_READ_TIMEOUT",
    "INCIDENT_MANAGER_CALLS_PER_SECOND",
    "TIMELINE_ADDED_REACTION",
    "LOG_LEVEL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
}


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


# ------------------------------------------------------------------------------------ processes


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (Linux /proc; None elsewhere)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_problems(self) -> Counter[str]:
        """Warning and error lines the bot logged (its logs are JSON lines), by message."""
        problems: Counter[str] = Counter()
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return problems
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                problems[line[:100]] += 1  # not a JSON log line: a traceback or a crash message
                continue
            if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
                problems[f"{entry['level']}: {str(entry.get('message'))[:100]}"] += 1
        return problems

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def child_env(workdir: Path, **values: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(_DROP_PREFIXES) and key.upper() not in _DROP_NAMES
    }
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        # Never read this machine's AWS files or reach the instance metadata service.
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
    )
    env.update(values)
    return env


def start_child(name: str, args: list[str], env: dict[str, str], port: int, workdir: Path) -> Child:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        # The working directory is the temp dir, so a .env in the repository cannot configure the bot.
        process = subprocess.Popen(
            [sys.executable, *args], cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    return Child(name, process, f"http://127.0.0.1:{port}", log_path)


async def wait_healthy(session: aiohttp.ClientSession, child: Child) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise BenchError(f"{child.name} exited with code {child.process.returncode}:\n{child.log_tail()}")
        try:
            async with session.get(child.url + "/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                if r.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.05)
    raise BenchError(
        f"{child.name} did not answer /healthz within {START_TIMEOUT:.0f} s:\n{child.log_tail()}"
    )


PROFILE_FORMATS = {".svg": "flamegraph", ".json": "speedscope"}  # anything else: raw (collapsed stacks)


class Profiler:
    """py-spy attached to the bot while it acks (`--profile-bot`): where its time goes on that path."""

    def __init__(self, output: Path, gil_only: bool, log_path: Path) -> None:
        found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if found is None:
            raise BenchError("--profile-bot needs py-spy: .venv/bin/pip install py-spy")
        self._command = [found, "record", "--rate", "100", "--threads", "--nonblocking"]
        self._command += ["--format", PROFILE_FORMATS.get(output.suffix, "raw"), "--output", str(output)]
        if gil_only:
            self._command.append("--gil")
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, pid: int) -> None:
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [*self._command, "--pid", str(pid)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def check_running(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise BenchError(f"py-spy exited: {self._log_path.read_text(errors='replace')[-500:]}")

    def stop(self) -> None:
        """Ctrl-C makes py-spy write its output; SIGKILL only if it does not finish."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# ------------------------------------------------------------------------------------ load


@dataclass(frozen=True)
class Prepared:
    body: str
    headers: dict[str, str]
    response_url: str


@dataclass(frozen=True)
class Sample:
    latency: float  # seconds from sending the request to having read the whole response
    status: int  # 0 when no HTTP response came
    error: str | None = None
    sent: float = math.nan  # time.time() when the request was sent


@dataclass
class Burst:
    samples: list[Sample]
    started_wall: float  # time.time() when the first timed request was sent
    wall: float  # seconds until the last ack was read
    loop_lag: list[float]  # overshoots of a 5 ms sleep in the load generator during the burst
    cpu_at_start: float | None  # CPU seconds the app process had used when the burst started
    cpu: float | None  # CPU seconds the app process used during the burst


def prepare(slack: FakeSlack, text: str) -> Prepared:
    response_url = slack.new_response_url()
    body, headers = slack_requests.slash_command(
        SIGNING_SECRET,
        text=text,
        response_url=response_url,
        trigger_id=slack.issue_trigger_id(USER_ID),
        channel_id=CHANNEL_ID,
        user_id=USER_ID,
    )
    return Prepared(body, headers, response_url)


async def post(session: aiohttp.ClientSession, url: str, prepared: Prepared) -> Sample:
    sent, started = time.time(), time.perf_counter()
    try:
        async with session.post(
            url + "/slack/events", data=prepared.body.encode(), headers=prepared.headers
        ) as response:
            await response.read()
            return Sample(time.perf_counter() - started, response.status, sent=sent)
    except (aiohttp.ClientError, TimeoutError) as error:
        return Sample(time.perf_counter() - started, 0, type(error).__name__, sent=sent)


async def measure_loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(LAG_INTERVAL)
        lags.append(time.perf_counter() - started - LAG_INTERVAL)


async def fire(
    child: Child,
    requests: Sequence[Prepared],
    concurrency: int,
    warmups: Sequence[Prepared],
    on_start: Callable[[], None] | None = None,
) -> Burst:
    """`concurrency` workers, each with its own session and keep-alive connection, share the requests.
    `on_start` is called just before the first timed request (after the warm-ups)."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    sessions = [
        aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=1))
        for _ in range(concurrency)
    ]
    samples: list[Sample] = [Sample(math.nan, 0, "not sent")] * len(requests)
    pending: Iterator[int] = iter(range(len(requests)))

    async def worker(session: aiohttp.ClientSession) -> None:
        for index in pending:  # shared iterator: each request is taken by exactly one worker
            samples[index] = await post(session, child.url, requests[index])

    try:
        # One untimed request per session opens its connection (and lets Bolt cache auth.test).
        warm = await asyncio.gather(
            *(post(session, child.url, w) for session, w in zip(sessions, warmups, strict=True))
        )
        if failed := [s for s in warm if s.status != 200]:
            raise BenchError(f"{child.name}: {len(failed)} warm-up requests failed, e.g. {failed[0]}")
        lags: list[float] = []
        stop_lag = asyncio.Event()
        lag_task = asyncio.create_task(measure_loop_lag(lags, stop_lag))
        cpu_before = child.cpu_seconds()
        if on_start is not None:
            on_start()
        started_wall, started = time.time(), time.perf_counter()
        await asyncio.gather(*(worker(session) for session in sessions))
        wall = time.perf_counter() - started
        cpu_after = child.cpu_seconds()
        stop_lag.set()
        await lag_task
    finally:
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return Burst(samples, started_wall, wall, lags, cpu_before, cpu)


# ------------------------------------------------------------------------------------ outcome


@dataclass
class Outcome:
    """What the bot did after the acks."""

    events_done_wall: float | None = None  # when the last note's first event was created (fake's clock)
    replies_done_wall: float | None = None  # when the last response_url got its first reply
    note_delays: list[float] = field(default_factory=list)  # bot got the command -> its event exists
    events_matched: int = 0
    distinct_notes: int = 0
    events_total: int = 0
    replies: int = 0
    replies_ok: int = 0
    urls_replied: int = 0
    other_replies: Counter[str] = field(default_factory=Counter)
    create_calls: int = 0
    create_failures: int = 0
    cpu: float | None = None  # CPU seconds the bot used from the burst start until drained
    log_problems: Counter[str] = field(default_factory=Counter)


def count_events(outcome: Outcome, aws: FakeIncidentManager, arn: str, notes: int) -> None:
    """Match the timeline's events to the notes by their unique text ("bench note 17")."""
    events = aws.events(arn)
    first: dict[int, dict[str, Any]] = {}  # note number -> its first event
    matched = 0
    for event in events:  # in creation order
        try:
            text = json.loads(str(event["eventData"]))
        except ValueError:
            continue
        if isinstance(text, str) and (match := NOTE_PATTERN.match(text)):
            matched += 1
            number = int(match.group(1))
            if 0 <= number < notes:
                first.setdefault(number, event)
    outcome.events_total = len(events)
    outcome.events_matched = matched
    outcome.distinct_notes = len(first)
    # eventUpdatedTime is when the fake stored the event (ms); eventTime is when the bot got the command.
    outcome.note_delays = [(e["eventUpdatedTime"] - e["eventTime"]).total_seconds() for e in first.values()]
    if len(first) == notes:
        outcome.events_done_wall = max(e["eventUpdatedTime"].timestamp() for e in first.values())


def count_replies(outcome: Outcome, slack: FakeSlack, urls: set[str]) -> None:
    accepted = [r for r in slack.response_log if r.accepted and r.url in urls]
    outcome.replies = len(accepted)
    outcome.replies_ok = 0
    outcome.other_replies.clear()
    first: dict[str, float] = {}
    for reply in accepted:
        first.setdefault(reply.url, reply.time)
        text = str(reply.payload.get("text", "")) if isinstance(reply.payload, dict) else ""
        if text.startswith("Added a "):
            outcome.replies_ok += 1
        else:
            outcome.other_replies[text.splitlines()[0][:100] if text else "(no text)"] += 1
    outcome.urls_replied = len(first)
    if len(first) == len(urls):
        outcome.replies_done_wall = max(first.values())


async def drain(
    outcome: Outcome,
    bot: Child,
    aws: FakeIncidentManager,
    arn: str,
    slack: FakeSlack,
    urls: set[str],
    limit: float,
) -> None:
    """Poll until every note is on the timeline and every response_url got a reply, at most `limit` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if bot.process.poll() is not None:
            raise BenchError(f"the bot exited with code {bot.process.returncode}:\n{bot.log_tail()}")
        count_events(outcome, aws, arn, len(urls))
        count_replies(outcome, slack, urls)
        if outcome.events_done_wall is not None and outcome.replies_done_wall is not None:
            break
        await asyncio.sleep(POLL_INTERVAL)
    # A duplicate could still be on its way; give it a moment to be counted.
    await asyncio.sleep(0.5)
    count_events(outcome, aws, arn, len(urls))
    count_replies(outcome, slack, urls)


# ------------------------------------------------------------------------------------ the run


@dataclass
class Results:
    notes: int
    concurrency: int
    aws_latency: float
    bare: Burst
    bot: Burst
    outcome: Outcome
    drain_timeout: float


async def bind_channel(session: aiohttp.ClientSession, slack: FakeSlack, bot: Child, arn: str) -> None:
    prepared = prepare(slack, f"bind {arn}")
    sample = await post(session, bot.url, prepared)
    if sample.status != 200:
        raise BenchError(f"bind was not acked: {sample}\n{bot.log_tail()}")
    try:
        (reply,) = await slack.await_responses(prepared.response_url, 1, timeout=BIND_TIMEOUT)
    except AssertionError as error:
        raise BenchError(f"no reply to bind: {error}\n{bot.log_tail()}") from None
    if "now bound" not in str(reply.get("text", "")):
        raise BenchError(f"bind failed: {reply.get('text')!r}")


async def run(args: argparse.Namespace) -> Results:
    children: list[Child] = []
    profiler: Profiler | None = None
    with (
        tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp,
        FakeSlack(bot_token=BOT_TOKEN) as slack,
        FakeIncidentManager() as aws,
    ):
        workdir = Path(tmp)
        try:
            bot_port = free_port()
            while (bare_port := free_port()) == bot_port:
                pass
            children.append(
                start_child(
                    "bot",
                    ["-m", "bot"],
                    child_env(
                        workdir,
                        SLACK_BOT_TOKEN=BOT_TOKEN,
                        SLACK_SIGNING_SECRET=SIGNING_SECRET,
                        SLACK_API_URL=slack.api_url,
                        DATABASE_URL=f"sqlite:///{workdir}/bot.db",
                        PORT=str(bot_port),
                        AWS_REGION=REGION,
                        AWS_ENDPOINT_URL_SSM_INCIDENTS=aws.endpoint_url,
                        AWS_ACCESS_KEY_ID="AKIDBENCHBENCHBENCH",
                        AWS_SECRET_ACCESS_KEY="bench-secret-key",
                    ),
                    bot_port,
                    workdir,
                )
            )
            children.append(
                start_child(
                    "bare",
                    ["-m", "bench.bare_app", "--port", str(bare_port)],
                    child_env(
                        workdir,
                        SLACK_BOT_TOKEN=BOT_TOKEN,
                        SLACK_SIGNING_SECRET=SIGNING_SECRET,
                        SLACK_API_URL=slack.api_url,
                    ),
                    bare_port,
                    workdir,
                )
            )
            bot, bare = children
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as session:
                await asyncio.gather(wait_healthy(session, bot), wait_healthy(session, bare))
                arn = aws.add_incident(title="Bench incident")
                await bind_channel(session, slack, bot, arn)
            aws.set_latency(args.aws_latency, "CreateTimelineEvent")

            def warmups() -> list[Prepared]:
                return [prepare(slack, "help") for _ in range(args.concurrency)]

            log(f"bare Bolt: {args.notes} notes, {args.concurrency} at a time")
            bare_requests = [prepare(slack, f"bench note {i}") for i in range(args.notes)]
            bare_burst = await fire(bare, bare_requests, args.concurrency, warmups())

            log(f"bot: {args.notes} notes, {args.concurrency} at a time")
            bot_requests = [prepare(slack, f"bench note {i}") for i in range(args.notes)]
            outcome = Outcome()
            if args.profile_bot is not None:
                profiler = Profiler(args.profile_bot, args.profile_gil, workdir / "py-spy.log")
                profiler.start(bot.process.pid)
                await asyncio.sleep(1.0)  # let it attach before the load starts
                profiler.check_running()
            bot_burst = await fire(bot, bot_requests, args.concurrency, warmups())
            if profiler is not None:
                profiler.stop()
                log(f"bot profile (its acks only) written to {args.profile_bot}")
            log(f"bot: acks done in {bot_burst.wall:.2f} s; waiting for its events and replies")
            urls = {r.response_url for r in bot_requests}
            await drain(outcome, bot, aws, arn, slack, urls, args.drain_timeout)
            bot_cpu_after = bot.cpu_seconds()
            if bot_burst.cpu_at_start is not None and bot_cpu_after is not None:
                outcome.cpu = bot_cpu_after - bot_burst.cpu_at_start
            creates = aws.calls_to("CreateTimelineEvent")
            outcome.create_calls = len(creates)
            outcome.create_failures = sum(1 for call in creates if not 200 <= call.status < 300)
            for child in children:
                if child.process.poll() is not None:
                    raise BenchError(f"{child.name} died during the run:\n{child.log_tail()}")
            outcome.log_problems = bot.log_problems()
            return Results(
                args.notes,
                args.concurrency,
                args.aws_latency,
                bare_burst,
                bot_burst,
                outcome,
                args.drain_timeout,
            )
        finally:
            if profiler is not None:
                profiler.stop()
            for child in children:
                child.stop()


# ------------------------------------------------------------------------------------ report


def log(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 300 samples is the 297th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def secs(seconds: float | None) -> str:
    return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds:.2f} s"


def burst_rows(burst: Burst) -> list[tuple[str, str]]:
    answered = [s for s in burst.samples if s.status != 0]
    latencies = [s.latency for s in answered]
    ok = sum(1 for s in burst.samples if s.status == 200)
    statuses = Counter(s.status if s.status else (s.error or "no response") for s in burst.samples)
    failed = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str) if k != 200) or "0"
    return [
        ("acks HTTP 200", f"{ok}/{len(burst.samples)}"),
        ("non-200 / no answer", failed),
        (
            f"acks slower than {SLACK_ACK_DEADLINE:.0f} s",
            str(sum(1 for x in latencies if x > SLACK_ACK_DEADLINE)),
        ),
        ("ack p50", ms(percentile(latencies, 50))),
        ("ack p95", ms(percentile(latencies, 95))),
        ("ack p99", ms(percentile(latencies, 99))),
        ("ack max", ms(max(latencies, default=math.nan))),
        ("all acks in", secs(burst.wall)),
        ("acks per second", f"{len(burst.samples) / burst.wall:.0f}" if burst.wall > 0 else "n/a"),
        ("app CPU during acks", secs(burst.cpu)),
        ("load-gen loop lag p99", ms(percentile(burst.loop_lag, 99))),
        ("load-gen loop lag max", ms(max(burst.loop_lag, default=math.nan))),
    ]


def report(results: Results) -> str:
    bare, bot = burst_rows(results.bare), burst_rows(results.bot)
    width = max(len(label) for label, _ in bare) + 2
    col = max(12, *(len(v) + 2 for _, v in bare + bot))
    lines = [
        "",
        f"/incident-note ack latency: {results.notes} notes, concurrency {results.concurrency}, "
        f"fake AWS CreateTimelineEvent latency {results.aws_latency:g} s",
        "",
        f"{'':<{width}}{'bare Bolt':>{col}}{'bot':>{col}}",
    ]
    lines += [f"{label:<{width}}{a:>{col}}{b:>{col}}" for (label, a), (_, b) in zip(bare, bot, strict=True)]
    o = results.outcome
    n = results.notes
    lost = n - o.distinct_notes
    duplicates = o.events_matched - o.distinct_notes
    never = f"not within {results.drain_timeout:.0f} s of the last ack"

    def after(wall: float | None) -> str:
        return never if wall is None else secs(wall - results.bot.started_wall)

    lines += [
        "",
        "bot, after the acks (times from the first note sent)",
        f"  all {n} events exist after   {after(o.events_done_wall)}",
        f"  events created               {o.events_matched} for {n} notes: lost {lost}, duplicates {duplicates}"
        + (
            f" ({o.events_total - o.events_matched} other events)"
            if o.events_total != o.events_matched
            else ""
        ),
        f"  command -> event on timeline p50 {ms(percentile(o.note_delays, 50))}, "
        f"p99 {ms(percentile(o.note_delays, 99))}, max {ms(max(o.note_delays, default=math.nan))}",
        f"  CreateTimelineEvent calls    {o.create_calls} (AWS errors: {o.create_failures})",
        f"  replies received             {o.replies} on {o.urls_replied} of {n} response_urls "
        f"({o.replies_ok} 'Added', {o.replies - o.replies_ok} other)",
        f"  all replies in after         {after(o.replies_done_wall)}",
        f"  bot CPU, first note to done  {secs(o.cpu)}",
        f"  bot log warnings/errors      {o.log_problems.total()}",
    ]
    lines += [f"  other reply x{count}: {text}" for text, count in o.other_replies.most_common(3)]
    lines += [f"  bot log x{count}: {text}" for text, count in o.log_problems.most_common(3)]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ack_latency", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--notes", type=int, default=300, help="notes sent to each app (default 300)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight (default 50)")
    parser.add_argument(
        "--aws-latency",
        type=float,
        default=0.2,
        help="fake CreateTimelineEvent latency, seconds (default 0.2)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the bot's events and replies (default 120)",
    )
    parser.add_argument(
        "--profile-bot",
        type=Path,
        metavar="FILE",
        help="record the bot with py-spy while it acks: .svg flamegraph, .json speedscope, else raw "
        "(the profiler perturbs the bot's figures)",
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="with --profile-bot: only samples that hold the GIL"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.notes <= 5000:
        parser.error("--notes must be 1..5000")
    if not 1 <= args.concurrency <= min(500, args.notes):
        parser.error("--concurrency must be 1..500 and at most --notes")
    if not 0 <= args.aws_latency <= 8:
        parser.error("--aws-latency must be 0..8 seconds (the bot's AWS read timeout is 10 s)")
    if not 1 <= args.drain_timeout <= 600:
        parser.error("--drain-timeout must be 1..600 seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = asyncio.run(run(args))
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        return 130
    print(report(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
