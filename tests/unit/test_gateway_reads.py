"""The gateway's picker, timeline and related-item operations against the fake Incident Manager (real
boto3 over loopback), and the use cases built on them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.aws.incidents import Boto3IncidentGateway
from bot.domain.binding import ChannelLink
from bot.domain.events import EventText
from bot.store import SqlStore
from bot.usecases.binding import BindingService, BindRequest
from bot.usecases.errors import IncidentManagerError, IncidentNotFound, IncidentNotOpen
from bot.usecases.timeline_events import TimelineReader
from tests.fakes.incident_manager import FakeIncidentManager

REGION = "eu-west-1"
LINK = ChannelLink("C0123", "https://acme.slack.com/archives/C0123", "Slack: #checkout-db-down")


@pytest.fixture
async def gateway(aws_env: None) -> AsyncIterator[Boto3IncidentGateway]:
    opened = Boto3IncidentGateway(REGION, read_timeout=2.0, calls_per_second=1000)
    yield opened
    await opened.close()


class AllowAll:
    async def check(self, user_id: str) -> None:
        return None


@pytest.fixture
async def service(gateway: Boto3IncidentGateway) -> AsyncIterator[BindingService]:
    store = SqlStore("sqlite://")
    yield BindingService(store, gateway, AllowAll())
    await store.close()


async def test_open_incidents_are_listed_a_page_at_a_time(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager
) -> None:
    fake_aws.default_page_size = 2  # ignored: the gateway asks for 100 a page
    opened = [fake_aws.add_incident(f"open {i}") for i in range(3)]
    fake_aws.add_incident("done", status="RESOLVED")
    page = await gateway.list_open_incidents()
    assert sorted(i.arn for i in page.incidents) == sorted(opened) and page.next_token is None
    assert all(i.status == "OPEN" and i.creation_time is not None for i in page.incidents)
    [call] = fake_aws.calls_to("ListIncidentRecords")
    assert call.params["maxResults"] == 100
    assert call.params["filters"] == [{"key": "status", "condition": {"equals": {"stringValues": ["OPEN"]}}}]


async def test_the_listing_reads_every_page_and_sorts_newest_first(
    service: BindingService, fake_aws: FakeIncidentManager
) -> None:
    arns = [fake_aws.add_incident(f"incident {i:03d}") for i in range(150)]
    listing = await service.open_incidents.get()
    assert listing.complete and len(listing.incidents) == 150
    assert len(fake_aws.calls_to("ListIncidentRecords")) == 2
    times = [i.creation_time for i in listing.incidents]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]
    # Every word of the search, in any case, anywhere in the title.
    assert {i.arn for i in listing.matching("14 INCIDENT")} == {arns[14], arns[114], *arns[140:150]}
    assert listing.matching("") == listing.incidents and listing.matching("nothing like it") == []
    # Within its freshness a second look lists nothing again; a fresh one does.
    await service.open_incidents.get(fresh_within=20)
    assert len(fake_aws.calls_to("ListIncidentRecords")) == 2
    await service.open_incidents.get()
    assert len(fake_aws.calls_to("ListIncidentRecords")) == 4


async def test_the_timeline_is_read_newest_first_with_each_events_text(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("Timeline")
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    fake_aws.add_event(arn, "SSM Incident Trigger", json.dumps({"title": "Timeline", "impact": 2}), start)
    for i in range(3):
        fake_aws.add_event(arn, "Note", json.dumps(f"note {i}"), start + timedelta(minutes=i + 1))
    reader = TimelineReader(gateway)
    first = await reader.latest(arn, 2)
    assert [e.text.text for e in first.events] == ["note 2", "note 1"]
    assert first.events[0].event_time == start + timedelta(minutes=3)
    assert first.next_token is not None
    rest = await reader.latest(arn, 2, first.next_token)
    assert [e.text for e in rest.events] == [EventText("note 0"), EventText("title: Timeline, impact: 2")]
    assert [e.event_type for e in rest.events] == ["Note", "SSM Incident Trigger"] and rest.next_token is None
    [listed, *_] = fake_aws.calls_to("ListTimelineEvents")
    assert listed.params["sortOrder"] == "DESCENDING" and listed.params["sortBy"] == "EVENT_TIME"
    assert len(fake_aws.calls_to("GetTimelineEvent")) == 4
    # Texts already read are not read again; an edited event is.
    again = await reader.latest(arn, 2)
    assert [e.text.text for e in again.events] == ["note 2", "note 1"]
    assert len(fake_aws.calls_to("GetTimelineEvent")) == 4


async def test_a_timeline_refusal_is_typed(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("Refused")
    fake_aws.add_event(arn, "Note", '"x"')
    fake_aws.fail_next("GetTimelineEvent", "AccessDeniedException")
    with pytest.raises(IncidentManagerError) as raised:
        await TimelineReader(gateway).latest(arn, 10)
    assert raised.value.code == "AccessDeniedException"


async def test_an_event_deleted_between_the_list_and_the_read_is_left_out(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("Deleted")
    fake_aws.add_event(arn, "Note", '"kept"')
    fake_aws.fail_next("GetTimelineEvent", "ResourceNotFoundException")
    page = await TimelineReader(gateway).latest(arn, 10)
    assert page.events == []


async def test_bind_puts_the_channel_on_the_incident_once_and_rebind_moves_it(
    service: BindingService, fake_aws: FakeIncidentManager
) -> None:
    first = fake_aws.add_incident("First")
    second = fake_aws.add_incident("Second")
    outcome = await service.bind(BindRequest("T0001", "C0123", "U0001", first, LINK, "trigger-1"))
    assert outcome.link_error is None
    [item] = fake_aws.related_items(first)
    assert item["identifier"] == {"type": "OTHER", "value": {"url": LINK.url}}
    assert item["title"] == "Slack: #checkout-db-down"
    [add] = fake_aws.calls_to("UpdateRelatedItems")
    assert add.params["clientToken"].startswith("slack-")
    # Re-binding to the same incident adds nothing; to another one moves the item.
    await service.bind(BindRequest("T0001", "C0123", "U0001", first, LINK, "trigger-2"))
    assert len(fake_aws.related_items(first)) == 1
    moved = await service.bind(BindRequest("T0001", "C0123", "U0001", second, LINK, "trigger-3"))
    assert moved.link_error is None and moved.unlink_error is None
    assert fake_aws.related_items(first) == [] and len(fake_aws.related_items(second)) == 1
    # Unbind takes it off.
    unbound = await service.unbind("T0001", "C0123", "U0001", "trigger-4")
    assert unbound.removed is not None and unbound.unlink_error is None
    assert fake_aws.related_items(second) == []


async def test_other_items_on_the_incident_are_left_alone(
    service: BindingService, gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("Shared")
    await gateway.add_related_link(arn, "https://runbooks.example.com/db", "Runbook", "t-runbook")
    await gateway.add_related_link(arn, "https://acme.slack.com/archives/C0999", "Slack: #other", "t-other")
    await service.bind(BindRequest("T0001", "C0123", "U0001", arn, LINK, "trigger-1"))
    await service.unbind("T0001", "C0123", "U0001", "trigger-2")
    urls = [item["identifier"]["value"]["url"] for item in fake_aws.related_items(arn)]
    assert urls == ["https://runbooks.example.com/db", "https://acme.slack.com/archives/C0999"]


async def test_a_refused_related_item_leaves_the_binding_standing(
    service: BindingService, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("No permission")
    fake_aws.fail_next("UpdateRelatedItems", "AccessDeniedException")
    outcome = await service.bind(BindRequest("T0001", "C0123", "U0001", arn, LINK, "trigger-1"))
    assert isinstance(outcome.link_error, IncidentManagerError)
    assert outcome.link_error.code == "AccessDeniedException"
    assert outcome.binding.incident_arn == arn and fake_aws.related_items(arn) == []


async def test_a_retried_bind_adds_the_item_once_even_on_a_second_replica(
    gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("Retried")
    for _ in range(2):  # two processes, one Slack request (the same trigger), each its own store
        store = SqlStore("sqlite://")
        service = BindingService(store, gateway, AllowAll())
        outcome = await service.bind(BindRequest("T0001", "C0123", "U0001", arn, LINK, "trigger-1"))
        assert outcome.link_error is None
        await store.close()
    assert len(fake_aws.related_items(arn)) == 1


async def test_bind_by_console_address_or_plan_id_finds_the_open_incident(
    service: BindingService, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("By path", plan="db-plan")
    path = arn.split(":incident-record/")[1]
    console = f"https://eu-west-1.console.aws.amazon.com/systems-manager/incidents/home#/incidents/{path}"
    for reference in (path, console):
        outcome = await service.bind(BindRequest("T0001", "C0123", "U0001", reference, None, "t"))
        assert outcome.binding.incident_arn == arn
    resolved = fake_aws.add_incident("Resolved", status="RESOLVED")
    with pytest.raises(IncidentNotOpen):
        await service.bind(BindRequest("T0001", "C0123", "U0001", resolved.split("/", 1)[1], None, "t"))


async def test_unbinding_from_a_deleted_incident_is_not_a_problem(
    service: BindingService, gateway: Boto3IncidentGateway, fake_aws: FakeIncidentManager
) -> None:
    arn = fake_aws.add_incident("Deleted later")
    await service.bind(BindRequest("T0001", "C0123", "U0001", arn, LINK, "trigger-1"))
    fake_aws.delete_incident(arn)
    outcome = await service.unbind("T0001", "C0123", "U0001", "trigger-2")
    assert outcome.removed is not None and outcome.unlink_error is None
    with pytest.raises(IncidentNotFound):
        await gateway.remove_related_link(arn, LINK.url, "t")
