"""Prometheus metrics, served on GET /metrics: what the bot was asked, what landed, what failed and why,
how deep the outbox is and how fast Incident Manager answers. One registry per running bot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.presentation.failures import observe_failures
from bot.usecases.outbox import Landed, Outcome, Queued, Refused

# The classic text format that generate_latest writes, which every Prometheus version scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack_requests = Counter(
            "incident_bot_slack_requests",
            "Requests from Slack, by kind (command, shortcut, view_submission, event, other).",
            ["kind"],
            registry=self.registry,
        )
        self.commands = Counter(
            "incident_bot_commands",
            "/incident-note commands, by form (note, event, bind, pick, unbind, status, timeline, help, compose, malformed).",
            ["form"],
            registry=self.registry,
        )
        self.events_created = Counter(
            "incident_bot_events_created",
            "Timeline events Incident Manager accepted, by event type.",
            ["event_type"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "incident_bot_outbox_attempts",
            "Attempts to send an entry, by how it started (request, background) and outcome "
            "(landed, queued, refused).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.failures = Counter(
            "incident_bot_failures",
            "Failures reported to a person, by kind (throttled, access_denied, validation, not_bound, ...).",
            ["kind"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "incident_bot_outbox_depth",
            "Entries saved but not yet on the timeline (being sent or waiting for a retry).",
            registry=self.registry,
        )
        self.aws_seconds = Histogram(
            "incident_bot_aws_call_seconds",
            "Incident Manager calls (with botocore's retries and the rate limit's wait), by operation "
            "and outcome.",
            ["operation", "outcome"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self._stop_counting_failures: Callable[[], None] | None = None

    def observe_aws(self, operation: str, seconds: float, outcome: str) -> None:
        self.aws_seconds.labels(operation, outcome).observe(seconds)

    def observe_outcome(self, source: str, outcome: Outcome, event_type: str) -> None:
        if isinstance(outcome, Landed):
            name = "landed"
            self.events_created.labels(event_type).inc()
        elif isinstance(outcome, Queued):
            name = "queued"
        else:
            assert isinstance(outcome, Refused)
            name = "refused"
        self.attempts.labels(source, name).inc()

    def attach(self) -> None:
        """Count every failure the mapping layer explains, whatever LOG_LEVEL prints."""
        if self._stop_counting_failures is None:
            self._stop_counting_failures = observe_failures(lambda kind: self.failures.labels(kind).inc())

    def detach(self) -> None:
        if self._stop_counting_failures is not None:
            self._stop_counting_failures()
            self._stop_counting_failures = None

    def render(self, outbox_depth: int | None) -> bytes:
        if outbox_depth is not None:
            self.outbox_depth.set(outbox_depth)
        return generate_latest(self.registry)


def slack_request_kind(body: dict[str, Any]) -> str:
    if body.get("command"):
        return "command"
    kind = str(body.get("type") or "")
    if kind in ("message_action", "shortcut"):
        return "shortcut"
    if kind in ("view_submission", "view_closed", "block_actions", "block_suggestion"):
        return kind
    if kind == "event_callback":
        return "event"
    return "other"
