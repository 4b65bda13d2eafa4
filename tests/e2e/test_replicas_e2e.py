"""Two replicas on one PostgreSQL database, as real processes behind a load balancer: a burst split across
them against an Incident Manager admitting 5 calls a second, one of them killed (-9) with notes queued
while Incident Manager fails, and a request and its retry reaching different replicas. Every note lands
exactly once, and its person is told so (never that it failed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import SIGNING_SECRET
from tests.e2e.replicas import Deployment, Replica, resigned
from tests.fakes.incident_manager import FakeIncidentManager
from tests.fakes.slack_api import FakeSlack
from tests.support import slack_requests
from tests.support.aws_errors import LANDED_LATER, QUEUED
from tests.support.harness import CommandResult, Harness

# Several minutes together: `pytest -m "not slow"` leaves them out.
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SIGNATURE = "\n\n— alice, via Slack"
FAILED_MARKS = ("Nothing was added", "_Reference:")  # every failure reply has a reference id
# Incident Manager's quota in the burst, and the deployment's configured rate (the bot's default): two
# replicas must make 5 calls a second between them, not 10.
QUOTA = 5.0
# See the burst test: two replicas sharing the rate, against two each taking it whole.
MOST_THROTTLED_SHARE = 0.08
# The issue's target: the queued entries of a killed replica land within this long while another runs.
KILLED_REPLICA_RESUME_SECONDS = 15.0
# ...and after a restart of a single replica, within this long (from the restarted process serving).
RESTARTED_REPLICA_RESUME_SECONDS = 2.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until `condition`; return how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def bind(replica: Replica, slack: FakeSlack, aws: FakeIncidentManager) -> str:
    arn = aws.add_incident(title="Checkout DB down")
    result = replica.command(slack, f"bind {arn}")
    (reply,) = slack.wait_for_responses(result.response_url, 1, timeout=15)
    assert "now bound" in reply["text"], reply
    return arn


def texts_on(aws: FakeIncidentManager, arn: str) -> list[str]:
    return sorted(Harness.event_text(event) for event in aws.events(arn))


def tokens_sent(aws: FakeIncidentManager) -> set[str]:
    return {call.params["clientToken"] for call in aws.calls_to("CreateTimelineEvent")}


def texts_told(slack: FakeSlack) -> list[str]:
    """Every sentence the fake Slack carried to a person: response_url replies, ephemeral and channel
    messages."""
    told = [str(payload.get("text", "")) for payload in slack.all_responses() if isinstance(payload, dict)]
    for method in ("chat.postEphemeral", "chat.postMessage"):
        told += [str(call.params.get("text", "")) for call in slack.calls_to(method)]
    return told


def assert_nobody_told_it_failed(slack: FakeSlack) -> None:
    failures = [text for text in texts_told(slack) if any(mark in text for mark in FAILED_MARKS)]
    assert failures == [], failures[:3]


def final_reply(slack: FakeSlack, result: CommandResult, timeout: float) -> str:
    """The reply that settles a note: "Added" at once, or "saved" then "Now on the timeline"."""
    first = str(slack.wait_for_responses(result.response_url, 1, timeout=timeout)[0]["text"])
    if QUEUED not in first:
        return first
    return str(slack.wait_for_responses(result.response_url, 2, timeout=timeout)[1]["text"])


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most of `times` (sorted) falling in any `seconds`-long sliding window."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_burst_of_300_split_across_two_replicas_lands_once_each_at_the_deployments_rate(
    deployment: Deployment, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    one, two = deployment.start(2)
    arn = bind(one, fake_slack, fake_aws)
    time.sleep(2.0)  # both replicas have seen each other (and the binding) before the burst
    fake_aws.throttle_above(QUOTA)  # every operation: 5 in any sliding second
    notes = [f"burst {i:03d}" for i in range(300)]

    def send(index: int) -> CommandResult:
        return (one, two)[index % 2].command(fake_slack, notes[index])  # alternately, half to each

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(send, range(len(notes))))
    assert [r.ack.status for r in results] == [200] * len(notes)
    landed_after = wait_until(lambda: len(fake_aws.events(arn)) >= len(notes), 240, "300 events")
    time.sleep(1.5)  # would a second copy of any of them follow?

    assert texts_on(fake_aws, arn) == sorted(note + SIGNATURE for note in notes)
    assert len(tokens_sent(fake_aws)) == len(notes)
    for result in results:
        settled = final_reply(fake_slack, result, timeout=30)
        assert settled.startswith("Added a") or LANDED_LATER in settled, settled
    assert_nobody_told_it_failed(fake_slack)

    # The deployment's rate, whichever replica sent: every call the fake got (throttled ones too).
    calls = [c for c in fake_aws.calls if c.operation == "CreateTimelineEvent"]
    arrivals = sorted(c.time.timestamp() for c in calls)
    throttled = sum(1 for c in calls if c.error_code == "ThrottlingException")
    span = arrivals[-1] - arrivals[0]
    rate = (len(arrivals) - 1) / span
    busiest_10s = most_in_any_window(arrivals, 10.0)
    print(
        f"\nburst over 2 replicas: last of 300 landed {time.monotonic() - started:.1f} s after the first "
        f"note ({landed_after:.1f} s after the acks); {len(calls)} CreateTimelineEvent calls over "
        f"{span:.1f} s = {rate:.2f}/s, busiest 10 s {busiest_10s}, throttled {throttled}"
    )
    # Two replicas sharing 5 calls/s: over the burst about 5 a second arrive, not 10. Each replica's own
    # back-off on throttling would keep the arrivals near 5/s too, so what tells a shared rate from two
    # replicas each taking the whole of it is how often they are throttled: two at 5/s each were
    # throttled on ~15% of their calls (47 of 347), two sharing it on ~4% (14 of 314), one alone ~0.
    # (Two replicas at 2.5/s each still meet now and then in a strict 1-second window.)
    assert rate <= QUOTA * 1.1, f"{rate:.2f} calls/s"
    assert busiest_10s <= 10 * QUOTA * 1.1 + 2, busiest_10s
    assert throttled <= MOST_THROTTLED_SHARE * len(calls), f"{throttled} throttled of {len(calls)} calls"


def test_a_replica_killed_with_notes_queued_while_aws_fails_the_other_lands_them_once_within_15s(
    deployment: Deployment, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    doomed, survivor = deployment.start(2)
    arn = bind(doomed, fake_slack, fake_aws)
    fake_aws.fail_next("CreateTimelineEvent", "InternalServerException", times=1_000_000)  # 5xx, until...
    notes = [f"queued note {i}" for i in range(10)]
    results = [doomed.command(fake_slack, note) for note in notes]
    for result in results:
        (queued,) = fake_slack.wait_for_responses(result.response_url, 1, timeout=60)
        assert QUEUED in queued["text"], queued
    doomed.kill()  # with its notes held, and no chance to give them back
    assert survivor.alive()
    fake_aws.stop_failing()
    assert fake_aws.events(arn) == []

    resumed_after = wait_until(lambda: len(fake_aws.events(arn)) >= len(notes), 120, "the queued notes")
    print(f"\nkilled replica: its {len(notes)} queued notes landed {resumed_after:.1f} s after AWS recovered")
    time.sleep(1.5)  # would a second copy of any of them follow?
    assert texts_on(fake_aws, arn) == sorted(note + SIGNATURE for note in notes)
    assert len(tokens_sent(fake_aws)) == len(notes)
    for result in results:
        replies = fake_slack.wait_for_responses(result.response_url, 2, timeout=30)
        assert LANDED_LATER in replies[1]["text"], replies
    assert_nobody_told_it_failed(fake_slack)
    assert resumed_after <= KILLED_REPLICA_RESUME_SECONDS, f"{resumed_after:.1f} s after AWS recovered"


def test_the_only_replica_killed_with_notes_queued_lands_them_once_within_2s_of_its_restart(
    deployment: Deployment, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    (first,) = deployment.start(1)
    arn = bind(first, fake_slack, fake_aws)
    fake_aws.fail_next("CreateTimelineEvent", "InternalServerException", times=1_000_000)
    # Six: at the deployment's 5 calls/s, ten would take 1.8 s of the 2 by their spacing alone.
    notes = [f"queued note {i}" for i in range(6)]
    results = [first.command(fake_slack, note) for note in notes]
    for result in results:
        (queued,) = fake_slack.wait_for_responses(result.response_url, 1, timeout=60)
        assert QUEUED in queued["text"], queued
    first.kill()
    killed_at = time.monotonic()
    fake_aws.stop_failing()

    deployment.restart(first)  # same host and port: the holds its previous run left are its own
    serving_at = time.monotonic()
    resumed_after = wait_until(lambda: len(fake_aws.events(arn)) >= len(notes), 60, "the queued notes")
    print(
        f"\nrestarted replica: its {len(notes)} queued notes landed {resumed_after:.1f} s after it served "
        f"({time.monotonic() - killed_at:.1f} s after the kill, {serving_at - killed_at:.1f} s to start)"
    )
    time.sleep(1.5)  # would a second copy of any of them follow?
    assert texts_on(fake_aws, arn) == sorted(note + SIGNATURE for note in notes)
    assert len(tokens_sent(fake_aws)) == len(notes)
    for result in results:
        replies = fake_slack.wait_for_responses(result.response_url, 2, timeout=30)
        assert LANDED_LATER in replies[1]["text"], replies
    assert_nobody_told_it_failed(fake_slack)
    assert resumed_after <= RESTARTED_REPLICA_RESUME_SECONDS, f"{resumed_after:.1f} s after the restart"


def test_a_slash_command_and_its_redelivery_to_the_other_replica_make_one_event(
    deployment: Deployment, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    one, two = deployment.start(2)
    arn = bind(one, fake_slack, fake_aws)
    # Slow enough that the second delivery arrives while the first is still on its way to AWS.
    fake_aws.set_latency(1.0, operation="CreateTimelineEvent")
    response_url = fake_slack.new_response_url()
    body, headers = slack_requests.slash_command(
        SIGNING_SECRET,
        text="failover done",
        response_url=response_url,
        trigger_id=fake_slack.issue_trigger_id("U0001"),
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(one.post, body, headers)
        time.sleep(0.2)
        again = pool.submit(two.post, body, resigned(body, headers, retry_num=1))
        assert [first.result().status, again.result().status] == [200, 200]
    wait_until(lambda: len(fake_aws.events(arn)) >= 1, 15, "the event")
    fake_aws.set_latency(0.0, operation="CreateTimelineEvent")
    replies = fake_slack.wait_for_responses(response_url, 1, timeout=15)
    time.sleep(2.0)  # would a second event, or a reply saying otherwise, follow?

    assert texts_on(fake_aws, arn) == ["failover done" + SIGNATURE]
    assert len(tokens_sent(fake_aws)) == 1
    replies = [str(payload.get("text", "")) for payload in fake_slack.responses(response_url)]
    assert any(reply.startswith("Added a") or LANDED_LATER in reply for reply in replies), replies
    assert_nobody_told_it_failed(fake_slack)


def test_a_pin_and_slacks_retry_to_the_other_replica_make_one_event_and_the_retry_is_dropped(
    deployment: Deployment, fake_slack: FakeSlack, fake_aws: FakeIncidentManager
) -> None:
    one, two = deployment.start(2)
    arn = bind(one, fake_slack, fake_aws)
    ts = fake_slack.add_message("C0001", {"user": "U0002", "text": "replica failover done"})
    event = slack_requests.reaction_added_event("U0003", "pushpin", "C0001", ts, "U0002")
    body, headers = slack_requests.event_callback(SIGNING_SECRET, event)
    assert one.post(body, headers).status == 200
    wait_until(lambda: len(fake_aws.events(arn)) >= 1, 15, "the pinned message's event")
    fake_slack.wait_for_calls("reactions.add", 1, timeout=15)  # the ✅: the first delivery is done
    slack_calls_before = len(fake_slack.calls)

    # Slack did not see the ack in time (say) and retries the same event_id; the load balancer picks two.
    assert two.post(body, resigned(body, headers, retry_num=1)).status == 200
    time.sleep(2.0)  # would the retry do anything?

    assert [Harness.event_text(e).split("\n")[0] for e in fake_aws.events(arn)] == ["replica failover done"]
    assert len(tokens_sent(fake_aws)) == 1
    # Already delivered, whichever replica took it: the retry is dropped at once, as one replica drops it.
    later: list[Any] = [(c.method, c.params) for c in fake_slack.calls[slack_calls_before:]]
    assert later == [], later
    assert len(fake_slack.calls_to("reactions.add")) == 1
