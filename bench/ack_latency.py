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
import statistics
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

# What the bot replies (bot/presentation/messages/): at once, or "saved" and later a second reply.
ADDED_PREFIX = "Added a "
QUEUED_MARK = "is saved but not on the timeline yet"
# The "saved" reply's reason: "…not on the timeline yet: <reason>. It will be added…"
QUEUED_REASON = re.compile(r"not on the timeline yet: (.+?)\. It will be added")
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
    settled_wall: float | None = None  # when the last note got its final reply (Added, Now on, failed)
    second_done_wall: float | None = None  # when the last "Now on the timeline" reply came
    note_delays: list[float] = field(default_factory=list)  # bot got the command -> its event exists
    first_reply_delays: list[float] = field(default_factory=list)  # note sent -> its first reply
    second_reply_delays: list[float] = field(default_factory=list)  # note sent -> "Now on the timeline"
    events_matched: int = 0
    distinct_notes: int = 0
    events_total: int = 0
    replies: int = 0
    replies_ok: int = 0
    replies_saved: int = 0
    replies_landed_later: int = 0
    replies_failed: int = 0
    urls_replied: int = 0
    other_replies: Counter[str] = field(default_factory=Counter)
    # Per note, by its replies: "Added" at once; "saved" then "Now on the timeline"; "saved" and nothing
    # more yet; failed (any reply saying "Nothing was added" or carrying a "_Reference:"); anything else.
    added_direct: int = 0
    queued_landed: int = 0
    queued_waiting: int = 0
    failed: int = 0
    other_notes: int = 0
    no_reply: int = 0
    queued_reasons: Counter[str] = field(default_factory=Counter)  # the "saved" reply's stated reason
    ephemeral_calls: int = 0  # chat.postEphemeral: a reply that did not go through its response_url
    create_calls: int = 0
    create_failures: int = 0
    create_errors: Counter[str] = field(default_factory=Counter)
    create_throttled: int = 0  # CreateTimelineEvent attempts answered ThrottlingException
    outbox_depth_max: float | None = None  # incident_bot_outbox_depth, as GET /metrics read it
    outbox_depth_last: float | None = None
    attempts: Counter[str] = field(default_factory=Counter)  # incident_bot_outbox_attempts "source/outcome"
    cpu: float | None = None  # CPU seconds the bot used from the burst start until drained
    log_problems: Counter[str] = field(default_factory=Counter)

    @property
    def settled(self) -> int:
        return self.added_direct + self.queued_landed + self.failed + self.other_notes


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


def first_line(text: str) -> str:
    return text.splitlines()[0][:100] if text else "(no text)"


def count_replies(outcome: Outcome, slack: FakeSlack, sent: dict[str, float]) -> None:
    """Sort each note's replies (`sent`: response_url -> when its note was sent)."""
    accepted = [r for r in slack.response_log if r.accepted and r.url in sent]
    by_url: dict[str, list[tuple[float, str]]] = {}
    for reply in accepted:  # in arrival order
        text = str(reply.payload.get("text", "")) if isinstance(reply.payload, dict) else ""
        by_url.setdefault(reply.url, []).append((reply.time, text))
    outcome.replies = len(accepted)
    texts = [text for replies in by_url.values() for _, text in replies]
    outcome.replies_saved = sum(1 for text in texts if QUEUED_MARK in text)
    outcome.replies_landed_later = sum(1 for text in texts if text.startswith(LANDED_LATER_PREFIX))
    outcome.replies_failed = sum(1 for text in texts if any(mark in text for mark in FAILED_MARKS))
    outcome.replies_ok = sum(1 for text in texts if text.startswith(ADDED_PREFIX))
    outcome.urls_replied = len(by_url)
    outcome.other_replies.clear()
    outcome.queued_reasons.clear()
    outcome.added_direct = outcome.queued_landed = outcome.queued_waiting = 0
    outcome.failed = outcome.other_notes = 0
    outcome.first_reply_delays = []
    outcome.second_reply_delays = []
    settled_at: list[float] = []
    second_at: list[float] = []
    for url, replies in by_url.items():
        outcome.first_reply_delays.append(replies[0][0] - sent[url])
        first_text = replies[0][1]
        later = next(((t, x) for t, x in replies[1:] if x.startswith(LANDED_LATER_PREFIX)), None)
        failure = next(((t, x) for t, x in replies if any(mark in x for mark in FAILED_MARKS)), None)
        if failure is not None:
            outcome.failed += 1
            settled_at.append(failure[0])
            outcome.other_replies[first_line(failure[1])] += 1
        elif first_text.startswith(ADDED_PREFIX):
            outcome.added_direct += 1
            settled_at.append(replies[0][0])
        elif QUEUED_MARK in first_text:
            reason = QUEUED_REASON.search(first_text)
            outcome.queued_reasons[reason.group(1) if reason else "?"] += 1
            if later is None:
                outcome.queued_waiting += 1
            else:
                outcome.queued_landed += 1
                settled_at.append(later[0])
                second_at.append(later[0])
                outcome.second_reply_delays.append(later[0] - sent[url])
        else:
            outcome.other_notes += 1
            settled_at.append(replies[0][0])
            outcome.other_replies[first_line(first_text)] += 1
        for _, text in replies[1:]:  # a reply beyond the expected ones
            if not text.startswith(LANDED_LATER_PREFIX) and not any(m in text for m in FAILED_MARKS):
                outcome.other_replies[first_line(text)] += 1
    outcome.no_reply = len(sent) - len(by_url)
    outcome.replies_done_wall = max(r[0][0] for r in by_url.values()) if len(by_url) == len(sent) else None
    outcome.settled_wall = max(settled_at) if len(settled_at) == len(sent) else None
    outcome.second_done_wall = max(second_at) if second_at and outcome.queued_waiting == 0 else None
    outcome.ephemeral_calls = len(slack.calls_to("chat.postEphemeral"))


METRIC_LINE = re.compile(r"^(incident_bot_\w+?)(?:\{(.*)\})?\s+(\S+)$")
METRIC_LABEL = re.compile(r'(\w+)="([^"]*)"')


async def read_metrics(session: aiohttp.ClientSession, bot: Child, outcome: Outcome) -> None:
    """GET /metrics: the outbox depth (its maximum too) and the outbox's attempts by source and outcome."""
    try:
        async with session.get(bot.url + "/metrics", timeout=aiohttp.ClientTimeout(total=2)) as response:
            if response.status != 200:
                return
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return
    attempts: Counter[str] = Counter()
    for line in text.splitlines():
        if not (match := METRIC_LINE.match(line)):
            continue
        name, labels, value = match.group(1), dict(METRIC_LABEL.findall(match.group(2) or "")), match.group(3)
        if name == "incident_bot_outbox_depth":
            depth = float(value)
            outcome.outbox_depth_last = depth
            outcome.outbox_depth_max = max(depth, outcome.outbox_depth_max or 0.0)
        elif name == "incident_bot_outbox_attempts_total":
            attempts[f"{labels.get('source')}/{labels.get('outcome')}"] = int(float(value))
    outcome.attempts = attempts


def drained(outcome: Outcome, notes: int) -> bool:
    """Every note got its final reply, and every note is on the timeline unless one was reported failed."""
    if outcome.settled < notes:
        return False
    return outcome.events_done_wall is not None or outcome.failed + outcome.other_notes > 0


async def drain(
    outcome: Outcome,
    bot: Child,
    aws: FakeIncidentManager,
    arn: str,
    slack: FakeSlack,
    sent: dict[str, float],
    limit: float,
) -> None:
    """Poll until every note is on the timeline and every note got its final reply, at most `limit` s."""
    deadline = time.monotonic() + limit
    next_metrics = 0.0
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if bot.process.poll() is not None:
                raise BenchError(f"the bot exited with code {bot.process.returncode}:\n{bot.log_tail()}")
            if time.monotonic() >= next_metrics:
                await read_metrics(session, bot, outcome)
                next_metrics = time.monotonic() + METRICS_INTERVAL
            count_events(outcome, aws, arn, len(sent))
            count_replies(outcome, slack, sent)
            if drained(outcome, len(sent)):
                break
            await asyncio.sleep(POLL_INTERVAL)
        # A duplicate could still be on its way; give it a moment to be counted.
        await asyncio.sleep(0.5)
        count_events(outcome, aws, arn, len(sent))
        count_replies(outcome, slack, sent)
        await read_metrics(session, bot, outcome)


# ------------------------------------------------------------------------------------ the run


@dataclass(frozen=True)
class Scenario:
    """The faults the fake Incident Manager shows the bot, and the bot's own rate limit."""

    throttle: float | None  # CreateTimelineEvent calls per second above which the fake throttles
    outage: float  # seconds the fake is down from the first timed note on; 0: not down
    bot_rate: float | None  # INCIDENT_MANAGER_CALLS_PER_SECOND given to the bot; None: the bot's default
    bot_rate_why: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Scenario:
        if args.bot_rate is not None:
            rate, why = args.bot_rate, "--bot-rate"
        elif args.throttle is not None or args.outage > 0:
            rate, why = None, "the bot's own default; --bot-rate to change it"
        else:
            rate = UNLIMITED_BOT_RATE
            why = "bench default, so the bot's rate limit is not what is measured; --bot-rate to change it"
        return cls(args.throttle, args.outage, rate, why)

    @property
    def effective_bot_rate(self) -> float:
        return self.bot_rate if self.bot_rate is not None else DEFAULT_AWS_CALLS_PER_SECOND

    def drain_timeout(self, notes: int) -> float:
        """Default wait for the bot's events and replies: 120 s, plus what the rate limits and the outage
        make the last note wait at least."""
        rate = min(self.effective_bot_rate, self.throttle or math.inf)
        return min(600.0, 120.0 + self.outage + notes / rate)


@dataclass
class Results:
    notes: int
    concurrency: int
    aws_latency: float
    scenario: Scenario
    bare: Burst
    bot: Burst
    outcome: Outcome
    drain_timeout: float
    aws_back_wall: float | None = None  # when the fake came back after --outage


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
    scenario = Scenario.from_args(args)
    drain_timeout = args.drain_timeout or scenario.drain_timeout(args.notes)
    aws_back: list[float] = []
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
                        **(
                            {"INCIDENT_MANAGER_CALLS_PER_SECOND": f"{scenario.bot_rate:g}"}
                            if scenario.bot_rate is not None
                            else {}
                        ),
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

            def back_up() -> None:
                aws.set_down(False)
                aws_back.append(time.time())
                log(f"fake Incident Manager is back ({scenario.outage:g} s outage over)")

            def start_faults() -> None:
                if scenario.throttle is not None:
                    aws.throttle_above(scenario.throttle, "CreateTimelineEvent")
                if scenario.outage > 0:
                    aws.set_down(True)
                    asyncio.get_running_loop().call_later(scenario.outage, back_up)

            bot_burst = await fire(bot, bot_requests, args.concurrency, warmups(), start_faults)
            if profiler is not None:
                profiler.stop()
                log(f"bot profile (its acks only) written to {args.profile_bot}")
            log(f"bot: acks done in {bot_burst.wall:.2f} s; waiting for its events and replies")
            sent = {r.response_url: s.sent for r, s in zip(bot_requests, bot_burst.samples, strict=True)}
            await drain(outcome, bot, aws, arn, slack, sent, drain_timeout)
            bot_cpu_after = bot.cpu_seconds()
            if bot_burst.cpu_at_start is not None and bot_cpu_after is not None:
                outcome.cpu = bot_cpu_after - bot_burst.cpu_at_start
            creates = aws.calls_to("CreateTimelineEvent")
            outcome.create_calls = len(creates)
            outcome.create_failures = sum(1 for call in creates if not 200 <= call.status < 300)
            outcome.create_errors = Counter(
                call.error_code or str(call.status) for call in creates if not 200 <= call.status < 300
            )
            outcome.create_throttled = sum(1 for call in creates if call.error_code == "ThrottlingException")
            for child in children:
                if child.process.poll() is not None:
                    raise BenchError(f"{child.name} died during the run:\n{child.log_tail()}")
            outcome.log_problems = bot.log_problems()
            return Results(
                args.notes,
                args.concurrency,
                args.aws_latency,
                scenario,
                bare_burst,
                bot_burst,
                outcome,
                drain_timeout,
                aws_back[0] if aws_back else None,
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


def count_list(counts: Counter[str]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "none"


def scenario_lines(results: Results) -> list[str]:
    s = results.scenario
    faults = []
    if s.throttle is not None:
        faults.append(
            f"throttles CreateTimelineEvent above {max(1, int(s.throttle))} calls in any sliding "
            f"{max(1.0, s.throttle) / s.throttle:g} s"
        )
    if s.outage > 0:
        faults.append(f"is down (connections reset) for the first {s.outage:g} s of the bot's run")
    rate = s.bot_rate if s.bot_rate is not None else DEFAULT_AWS_CALLS_PER_SECOND
    return [
        "fake Incident Manager "
        + ("; ".join(faults) if faults else "answers every call: no throttle, no outage"),
        f"bot INCIDENT_MANAGER_CALLS_PER_SECOND={rate:g} ({s.bot_rate_why})",
    ]


# Issue 13's bar for the ack path: the bot's ack p99 at most this much of a bare Bolt app's, same run.
ACK_RATIO_TARGET = 1.15


def ack_p99_ratio(results: Results) -> float:
    """The bot's ack p99 over the bare Bolt app's, from the same run (what the ack path costs)."""

    def p99(burst: Burst) -> float:
        return percentile([s.latency for s in burst.samples if s.status != 0], 99)

    return p99(results.bot) / p99(results.bare)


def report(results: Results) -> str:
    bare, bot = burst_rows(results.bare), burst_rows(results.bot)
    width = max(len(label) for label, _ in bare) + 2
    col = max(12, *(len(v) + 2 for _, v in bare + bot))
    lines = [
        "",
        f"/incident-note ack latency: {results.notes} notes, concurrency {results.concurrency}, "
        f"fake AWS CreateTimelineEvent latency {results.aws_latency:g} s",
        *scenario_lines(results),
        "",
        f"{'':<{width}}{'bare Bolt':>{col}}{'bot':>{col}}",
    ]
    lines += [f"{label:<{width}}{a:>{col}}{b:>{col}}" for (label, a), (_, b) in zip(bare, bot, strict=True)]
    lines.append(
        f"ack p99, bot / bare Bolt: {ack_p99_ratio(results):.2f} (target at most {ACK_RATIO_TARGET:.2f})"
    )
    o = results.outcome
    n = results.notes
    lost = n - o.distinct_notes
    duplicates = o.events_matched - o.distinct_notes
    never = f"not within {results.drain_timeout:.0f} s of the last ack"

    def after(wall: float | None) -> str:
        return never if wall is None else secs(wall - results.bot.started_wall)

    def spread(values: Sequence[float]) -> str:
        top = max(values, default=math.nan)
        unit = secs if top >= 10 else ms  # seconds once a fault makes notes wait
        return f"p50 {unit(percentile(values, 50))}, p99 {unit(percentile(values, 99))}, max {unit(top)}"

    if o.queued_waiting:
        last_second = f"n/a: {o.queued_waiting} saved notes still waiting after {results.drain_timeout:.0f} s"
    elif o.second_done_wall is None:
        last_second = "none needed (no note was saved for later)"
    else:
        last_second = after(o.second_done_wall)
    rows = [
        (f"all {n} events exist after", after(o.events_done_wall)),
        (
            "events created",
            f"{o.events_matched} for {n} notes: lost {lost}, duplicates {duplicates}"
            + (
                f" ({o.events_total - o.events_matched} other events)"
                if o.events_total != o.events_matched
                else ""
            ),
        ),
        ("command -> event on timeline", spread(o.note_delays)),
        (
            "CreateTimelineEvent calls",
            f"{o.create_calls} (AWS errors: {o.create_failures}"
            + (f": {count_list(o.create_errors)}" if o.create_errors else "")
            + ")",
        ),
        (
            "replies received",
            f"{o.replies} on {o.urls_replied} of {n} response_urls ({o.replies_ok} 'Added', "
            + (
                f"{o.replies_saved} 'saved', {o.replies_landed_later} 'Now on the timeline', "
                f"{o.replies_failed} failed, "
                if o.replies_saved or o.replies_landed_later or o.replies_failed
                else ""
            )
            + f"{o.replies - o.replies_ok - o.replies_saved - o.replies_landed_later - o.replies_failed} other)"
            + (f"; {o.ephemeral_calls} chat.postEphemeral" if o.ephemeral_calls else ""),
        ),
        ("all replies in after", after(o.replies_done_wall)),
        ("note sent -> first reply", spread(o.first_reply_delays)),
        (
            "notes by their replies",
            f"'Added' at once {o.added_direct}; 'saved' then 'Now on the timeline' {o.queued_landed}; "
            f"'saved', still waiting {o.queued_waiting}; failed {o.failed}; other {o.other_notes}; "
            f"no reply {o.no_reply}",
        ),
    ]
    if o.queued_reasons:
        rows.append(
            (
                "'saved' because ...",
                ", ".join(f"'{why}' {count}" for why, count in o.queued_reasons.most_common()),
            )
        )
    rows += [
        ("last second reply after", last_second),
        ("note sent -> second reply", spread(o.second_reply_delays)),
        ("all notes settled after", after(o.settled_wall)),
    ]
    if results.aws_back_wall is not None:
        rows.append(("fake AWS back up after", after(results.aws_back_wall)))
    rows += [
        (
            "outbox depth (GET /metrics)",
            "n/a"
            if o.outbox_depth_max is None
            else f"max {o.outbox_depth_max:g} seen after the acks, {o.outbox_depth_last:g} at the end",
        ),
        ("outbox attempts", count_list(o.attempts)),
        ("bot CPU, first note to done", secs(o.cpu)),
        ("bot log warnings/errors", str(o.log_problems.total())),
    ]
    label_width = max(len(label) for label, _ in rows) + 1
    lines += ["", "bot, after the acks (times from the first note sent)"]
    lines += [f"  {label:<{label_width}}{value}" for label, value in rows]
    if results.scenario.throttle is not None:
        # The two figures a throttled run is judged by (the rows above have them too, in their context).
        share = 100 * o.create_throttled / o.create_calls if o.create_calls else math.nan
        lines += [
            "",
            "throttled run",
            f"  time from first request to last event: {after(o.events_done_wall)}",
            f"  throttled attempts / all CreateTimelineEvent attempts: {o.create_throttled} / "
            f"{o.create_calls} ({share:.1f} %)",
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
        "--throttle",
        type=float,
        metavar="R",
        help="the fake throttles CreateTimelineEvent above R calls in any sliding second, from the bot's first note",
    )
    parser.add_argument(
        "--outage",
        type=float,
        default=0.0,
        metavar="S",
        help="the fake is down (connections reset) for the first S seconds of the bot's run",
    )
    parser.add_argument(
        "--bot-rate",
        type=float,
        metavar="R",
        help=f"the bot's INCIDENT_MANAGER_CALLS_PER_SECOND (default {UNLIMITED_BOT_RATE:g}, so the plain run "
        f"does not measure the limit; with --throttle or --outage the bot's own "
        f"{DEFAULT_AWS_CALLS_PER_SECOND:g})",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        help="seconds to wait for the bot's events and replies (default 120, plus notes / rate limit and "
        "the outage with --throttle, --outage or --bot-rate)",
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
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="run the whole comparison K times (fresh processes each) and print every run's ack p99 ratio "
        "and their median: one run on a shared machine is noisy (default 1)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.notes <= 5000:
        parser.error("--notes must be 1..5000")
    if not 1 <= args.concurrency <= min(500, args.notes):
        parser.error("--concurrency must be 1..500 and at most --notes")
    if not 0 <= args.aws_latency <= 8:
        parser.error("--aws-latency must be 0..8 seconds (the bot's AWS read timeout is 10 s)")
    if args.drain_timeout is not None and not 1 <= args.drain_timeout <= 600:
        parser.error("--drain-timeout must be 1..600 seconds")
    if args.throttle is not None and not 0.1 <= args.throttle <= 10000:
        parser.error("--throttle must be 0.1..10000 calls per second")
    if not 0 <= args.outage <= 300:
        parser.error("--outage must be 0..300 seconds")
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be 1..20")
    if args.bot_rate is not None and not 0.1 <= args.bot_rate <= UNLIMITED_BOT_RATE:
        parser.error(f"--bot-rate must be 0.1..{UNLIMITED_BOT_RATE:g} (what the bot accepts)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ratios: list[float] = []
    for _ in range(args.repeat):
        try:
            results = asyncio.run(run(args))
        except BenchError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted; child processes stopped", file=sys.stderr)
            return 130
        print(report(results), flush=True)
        ratios.append(ack_p99_ratio(results))
    if len(ratios) > 1:
        each = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        print(
            f"\nack p99, bot / bare Bolt, {len(ratios)} runs: {each}; median {statistics.median(ratios):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
