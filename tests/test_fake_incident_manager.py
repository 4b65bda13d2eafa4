"""Proves the fake Incident Manager behaves like AWS, using nothing but plain boto3/botocore."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.fakes.incident_manager import FakeIncidentManager, iter_model_patterns, java_regex_to_python

REGION = "eu-west-1"
MODEL = botocore.session.get_session().get_service_model("ssm-incidents")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ARN_RE = re.compile(r"^arn:aws:ssm-incidents::111122223333:incident-record/db-plan/[0-9a-f-]{36}$")
MISSING_ARN = (
    "arn:aws:ssm-incidents::111122223333:incident-record/db-plan/00000000-0000-0000-0000-000000000000"
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeIncidentManager]:
    with FakeIncidentManager(credentials={"testing": "testing"}) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeIncidentManager) -> FakeIncidentManager:
    server.reset()
    return server


def make_client(fake: FakeIncidentManager, region: str = REGION, **config: Any) -> Any:
    return boto3.client(
        "ssm-incidents",
        region_name=region,
        endpoint_url=fake.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**{"retries": {"max_attempts": 1}, **config}),
    )


@pytest.fixture
def client(fake: FakeIncidentManager) -> Any:
    """The configuration the bot's tests use. NB: legacy-mode max_attempts=1 means ONE retry."""
    return make_client(fake)


@pytest.fixture
def strict(fake: FakeIncidentManager) -> Any:
    """Exactly one attempt per call, so an error answer reaches the test unretried."""
    return make_client(fake, retries={"total_max_attempts": 1})


@pytest.fixture
def lax(fake: FakeIncidentManager) -> Any:
    """No client-side validation (botocore only checks min lengths anyway): requests reach the wire."""
    return make_client(fake, retries={"total_max_attempts": 1}, parameter_validation=False)


def event_args(arn: str, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "incidentRecordArn": arn,
        "eventTime": datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        "eventType": "Custom Event",
        "eventData": "DB failover started",
    }
    args.update(overrides)
    return args


def signed_request(
    fake: FakeIncidentManager,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    service: str = "ssm-incidents",
    region: str = REGION,
    key: str = "testing",
    secret: str = "testing",
    sign: bool = True,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Send a hand-built (optionally SigV4-signed) request; return status, headers, JSON body."""
    request = botocore.awsrequest.AWSRequest(
        method=method,
        url=fake.endpoint_url + path,
        data=body,
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    if sign:
        credentials = botocore.credentials.Credentials(key, secret)
        botocore.auth.SigV4Auth(credentials, service, region).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), method=method
    )
    try:
        with urllib.request.urlopen(http_request, timeout=5) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, dict(error.headers), json.loads(raw) if raw else {}


def assert_validation_error(exc: pytest.ExceptionInfo[Any], message: str) -> None:
    response = exc.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == message


# ------------------------------------------------------------------------------------- model


def test_every_model_pattern_compiles_and_keeps_its_meaning() -> None:
    patterns = list(iter_model_patterns())
    assert len(patterns) >= 8
    for pattern in patterns:
        re.compile(java_regex_to_python(pattern))
    arn = re.compile(java_regex_to_python(MODEL.shape_for("Arn").metadata["pattern"]))
    assert arn.search(MISSING_ARN)
    assert not arn.search("arn:aws:ssm-incidents::1111:incident-record/x/y")
    # Java: '.' never matches a line terminator and '$' only before a FINAL terminator.
    assert not arn.search("arn:aws:ssm-incidents::111122223333:incident\r-record/x")
    assert arn.search(MISSING_ARN + "\n")
    assert not arn.search(MISSING_ARN + "\n\n")


# ------------------------------------------------------------------------------------- happy path


def test_create_timeline_event_stores_exactly_what_was_sent(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Database down")
    assert ARN_RE.match(arn)
    reference = {"resource": "arn:aws:rds:eu-west-1:111122223333:db:orders"}
    response = client.create_timeline_event(
        **event_args(arn, eventReferences=[reference]), clientToken="slack-msg-1"
    )

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert UUID_RE.match(response["eventId"])
    assert response["incidentRecordArn"] == arn
    assert UUID_RE.match(response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])
    stored = fake.events(arn)
    assert stored == [
        {
            "eventId": response["eventId"],
            "incidentRecordArn": arn,
            # AWS keeps milliseconds: the microseconds botocore sends are truncated.
            "eventTime": datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC),
            "eventUpdatedTime": stored[0]["eventUpdatedTime"],
            "eventType": "Custom Event",
            "eventData": "DB failover started",
            "eventReferences": [reference],
            "clientToken": "slack-msg-1",
        }
    ]
    assert stored[0]["eventTime"].tzinfo is not None

    event = client.get_timeline_event(incidentRecordArn=arn, eventId=response["eventId"])["event"]
    assert event["eventId"] == response["eventId"]
    assert event["eventData"] == "DB failover started"
    assert event["eventType"] == "Custom Event"
    assert event["eventReferences"] == [reference]
    assert event["eventTime"] == datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)

    summaries = client.list_timeline_events(incidentRecordArn=arn)["eventSummaries"]
    assert [s["eventId"] for s in summaries] == [response["eventId"]]
    assert "eventData" not in summaries[0]  # EventSummary has no eventData

    (call,) = fake.calls_to("CreateTimelineEvent")
    assert call.status == 201
    assert call.region == REGION
    assert call.access_key == "testing"
    assert call.params["eventData"] == "DB failover started"
    assert call.params["eventTime"] == datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)


def test_get_incident_record_has_every_required_member(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Payments degraded", impact=1)
    response = client.get_incident_record(arn=arn)
    record = response["incidentRecord"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    for member in MODEL.shape_for("IncidentRecord").required_members:
        assert member in record, member
    for member in MODEL.shape_for("IncidentRecordSource").required_members:
        assert member in record["incidentRecordSource"], member
    assert record["arn"] == arn
    assert record["title"] == "Payments degraded"
    assert record["status"] == "OPEN"
    assert record["impact"] == 1
    assert "resolvedTime" not in record


def test_update_incident_record_resolves(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Queue backlog")
    response = client.update_incident_record(
        arn=arn, status="RESOLVED", title="Queue backlog (fixed)", impact=3
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    record = client.get_incident_record(arn=arn)["incidentRecord"]
    assert record["status"] == "RESOLVED"
    assert record["title"] == "Queue backlog (fixed)"
    assert record["impact"] == 3
    assert record["resolvedTime"] >= record["creationTime"]
    assert record["lastModifiedBy"] == "arn:aws:sts::111122223333:assumed-role/bot/i-1"

    other = fake.add_incident("Seeded then resolved")
    fake.resolve_incident(other)
    assert client.get_incident_record(arn=other)["incidentRecord"]["status"] == "RESOLVED"
    # Timeline events can still be added to a resolved incident (post-incident notes).
    client.create_timeline_event(**event_args(other))
    assert len(fake.events(other)) == 1


def test_list_timeline_events_sorts_filters_and_paginates(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Many events")
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    ids = [
        client.create_timeline_event(
            **event_args(arn, eventTime=start + timedelta(minutes=i), eventData=f"e{i}")
        )["eventId"]
        for i in range(5)
    ]
    fake.add_event(arn, "Note", '{"content": "seeded"}', start + timedelta(minutes=10))

    page = client.list_timeline_events(
        incidentRecordArn=arn, sortBy="EVENT_TIME", sortOrder="ASCENDING", maxResults=2
    )
    assert [s["eventId"] for s in page["eventSummaries"]] == ids[:2]
    page2 = client.list_timeline_events(
        incidentRecordArn=arn,
        sortBy="EVENT_TIME",
        sortOrder="ASCENDING",
        maxResults=2,
        nextToken=page["nextToken"],
    )
    assert [s["eventId"] for s in page2["eventSummaries"]] == ids[2:4]

    paginator = client.get_paginator("list_timeline_events")
    pages = list(
        paginator.paginate(
            incidentRecordArn=arn,
            sortOrder="DESCENDING",
            filters=[{"key": "eventType", "condition": {"equals": {"stringValues": ["Custom Event"]}}}],
            PaginationConfig={"PageSize": 2},
        )
    )
    assert len(pages) == 3
    assert [s["eventId"] for p in pages for s in p["eventSummaries"]] == ids[::-1]

    after = client.list_timeline_events(
        incidentRecordArn=arn,
        filters=[{"key": "eventTime", "condition": {"after": start + timedelta(minutes=3)}}],
    )["eventSummaries"]
    assert sorted(s["eventType"] for s in after) == ["Custom Event", "Note"]

    with pytest.raises(client.exceptions.ValidationException):
        client.list_timeline_events(incidentRecordArn=arn, nextToken="bogus")


def test_list_incident_records_filters_by_status_newest_first_and_pages(
    fake: FakeIncidentManager, client: Any
) -> None:
    arns = []
    for i in range(5):
        arns.append(fake.add_incident(f"open {i}", impact=1 + i % 5))
        time.sleep(0.002)  # creation times a millisecond apart at least: the order is theirs
    fake.add_incident("closed", status="RESOLVED")
    open_only = [{"key": "status", "condition": {"equals": {"stringValues": ["OPEN"]}}}]
    first = client.list_incident_records(filters=open_only, maxResults=2)
    assert [r["arn"] for r in first["incidentRecordSummaries"]] == arns[::-1][:2]
    paginator = client.get_paginator("list_incident_records")
    pages = list(paginator.paginate(filters=open_only, PaginationConfig={"PageSize": 2}))
    listed = [r for page in pages for r in page["incidentRecordSummaries"]]
    assert [r["title"] for r in listed] == [f"open {i}" for i in range(4, -1, -1)]
    assert all(r["status"] == "OPEN" and isinstance(r["creationTime"], datetime) for r in listed)
    everything = client.list_incident_records()["incidentRecordSummaries"]
    assert len(everything) == 6


def related_item(url: str, title: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"identifier": {"type": "OTHER", "value": {"url": url}}}
    if title is not None:
        item["title"] = title
    return item


def test_related_items_are_added_listed_and_removed(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Related")
    url = "https://acme.slack.com/archives/C0123"
    response = strict.update_related_items(
        incidentRecordArn=arn, relatedItemsUpdate={"itemToAdd": related_item(url, "Slack: #inc")}
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    [listed] = strict.list_related_items(incidentRecordArn=arn)["relatedItems"]
    assert listed["identifier"] == {"type": "OTHER", "value": {"url": url}}
    assert listed["title"] == "Slack: #inc"
    assert re.fullmatch(r"related-item/OTHER/[0-9A-F]{32}", listed["generatedId"])
    assert fake.related_items(arn) == [listed]
    strict.update_related_items(
        incidentRecordArn=arn, relatedItemsUpdate={"itemToRemove": {"type": "OTHER", "value": {"url": url}}}
    )
    assert strict.list_related_items(incidentRecordArn=arn)["relatedItems"] == []


def test_related_items_answer_as_aws_does(fake: FakeIncidentManager, strict: Any, lax: Any) -> None:
    arn = fake.add_incident("Related errors")
    url = "https://acme.slack.com/archives/C0123"
    add = {"itemToAdd": related_item(url, "Slack: #inc")}
    # One clientToken, one item: a retry answers as the first call did.
    strict.update_related_items(incidentRecordArn=arn, clientToken="t-1", relatedItemsUpdate=add)
    strict.update_related_items(incidentRecordArn=arn, clientToken="t-1", relatedItemsUpdate=add)
    assert len(fake.related_items(arn)) == 1
    with pytest.raises(strict.exceptions.ConflictException):  # the token with other parameters
        strict.update_related_items(
            incidentRecordArn=arn, clientToken="t-1", relatedItemsUpdate={"itemToAdd": related_item(url)}
        )
    with pytest.raises(strict.exceptions.ConflictException):  # the same item again, a new token
        strict.update_related_items(incidentRecordArn=arn, clientToken="t-2", relatedItemsUpdate=add)
    with pytest.raises(strict.exceptions.ResourceNotFoundException):
        strict.update_related_items(
            incidentRecordArn=arn,
            relatedItemsUpdate={"itemToRemove": {"type": "OTHER", "value": {"url": url + "9"}}},
        )
    with pytest.raises(strict.exceptions.ResourceNotFoundException):
        strict.update_related_items(incidentRecordArn=MISSING_ARN, relatedItemsUpdate=add)
    # ListRelatedItems models no ResourceNotFoundException.
    assert strict.list_related_items(incidentRecordArn=MISSING_ARN)["relatedItems"] == []
    # The unions hold exactly one member (checked on the wire: botocore's own check is skipped).
    both = {**add, "itemToRemove": {"type": "OTHER", "value": {"url": url}}}
    with pytest.raises(lax.exceptions.ValidationException) as exc:
        lax.update_related_items(incidentRecordArn=arn, relatedItemsUpdate=both)
    assert "Union must have exactly one member set, but 2 were set" in exc.value.response["Error"]["Message"]
    two_values = {"itemToAdd": {"identifier": {"type": "OTHER", "value": {"url": url, "arn": arn}}}}
    with pytest.raises(lax.exceptions.ValidationException):
        lax.update_related_items(incidentRecordArn=arn, relatedItemsUpdate=two_values)
    with pytest.raises(lax.exceptions.ValidationException):
        lax.update_related_items(
            incidentRecordArn=arn,
            relatedItemsUpdate={"itemToAdd": {"identifier": {"type": "SLACK", "value": {"url": url}}}},
        )
    with pytest.raises(lax.exceptions.ValidationException):
        lax.update_related_items(
            incidentRecordArn=arn, relatedItemsUpdate={"itemToAdd": related_item(url, "t" * 201)}
        )
    assert len(fake.related_items(arn)) == 1


def test_related_items_page(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Many related")
    urls = [f"https://acme.slack.com/archives/C{i:04d}" for i in range(5)]
    for url in urls:
        client.update_related_items(
            incidentRecordArn=arn, relatedItemsUpdate={"itemToAdd": related_item(url)}
        )
    paginator = client.get_paginator("list_related_items")
    pages = list(paginator.paginate(incidentRecordArn=arn, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [i["identifier"]["value"]["url"] for p in pages for i in p["relatedItems"]] == urls


def test_delete_timeline_event(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Delete me")
    event_id = strict.create_timeline_event(**event_args(arn))["eventId"]
    response = strict.delete_timeline_event(incidentRecordArn=arn, eventId=event_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert fake.events(arn) == []
    with pytest.raises(strict.exceptions.ResourceNotFoundException) as exc:
        strict.get_timeline_event(incidentRecordArn=arn, eventId=event_id)
    assert exc.value.response["resourceType"] == "TIMELINE_EVENT"


def test_deleted_events_are_gone_from_lists_and_deleting_again_is_no_error(
    fake: FakeIncidentManager, strict: Any
) -> None:
    arn = fake.add_incident("Delete me")
    kept = strict.create_timeline_event(**event_args(arn, eventData="kept"))["eventId"]
    gone = strict.create_timeline_event(**event_args(arn, eventData="gone"))["eventId"]
    strict.delete_timeline_event(incidentRecordArn=arn, eventId=gone)
    listed = strict.list_timeline_events(incidentRecordArn=arn)["eventSummaries"]
    assert [event["eventId"] for event in listed] == [kept]
    # The model gives DeleteTimelineEvent no ResourceNotFoundException: a second delete answers 204.
    again = strict.delete_timeline_event(incidentRecordArn=arn, eventId=gone)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ResourceNotFoundException" not in {
        shape.name for shape in MODEL.operation_model("DeleteTimelineEvent").error_shapes
    }
    with pytest.raises(ValueError, match="cannot fail with ResourceNotFoundException"):
        fake.fail_next("DeleteTimelineEvent", "ResourceNotFoundException")


@pytest.mark.parametrize("event_type", ["Note", "Custom Event"])
def test_update_timeline_event_changes_a_note_or_a_custom_event(
    fake: FakeIncidentManager, strict: Any, event_type: str
) -> None:
    """Botocore's model: "You can update events of type Custom Event and Note"."""
    arn = fake.add_incident("Update me")
    created = strict.create_timeline_event(
        **event_args(arn, eventType=event_type, eventReferences=[{"resource": arn}]), clientToken="c-1"
    )
    event_id = created["eventId"]
    response = strict.update_timeline_event(
        incidentRecordArn=arn,
        eventId=event_id,
        clientToken="u-1",
        eventData="edited",
        eventType=event_type,
        eventTime=datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC),
        eventReferences=[],
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    event = strict.get_timeline_event(incidentRecordArn=arn, eventId=event_id)["event"]
    assert event["eventData"] == "edited" and event["eventType"] == event_type
    # "Updates all existing references": an empty list leaves none.
    assert not event.get("eventReferences")
    # The same clientToken with the same parameters is the same update; with others, a conflict.
    strict.update_timeline_event(
        incidentRecordArn=arn,
        eventId=event_id,
        clientToken="u-1",
        eventData="edited",
        eventType=event_type,
        eventTime=datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC),
        eventReferences=[],
    )
    with pytest.raises(strict.exceptions.ConflictException):
        strict.update_timeline_event(
            incidentRecordArn=arn, eventId=event_id, clientToken="u-1", eventData="x"
        )


def test_update_timeline_event_refuses_what_aws_refuses(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Update me")
    system = fake.add_event(arn, "SSM Incident Trigger", '{"source":"aws.cloudwatch"}')
    with pytest.raises(strict.exceptions.ValidationException):
        strict.update_timeline_event(incidentRecordArn=arn, eventId=system, eventData="mine now")
    event_id = strict.create_timeline_event(**event_args(arn))["eventId"]
    strict.delete_timeline_event(incidentRecordArn=arn, eventId=event_id)
    with pytest.raises(strict.exceptions.ResourceNotFoundException) as missing:
        strict.update_timeline_event(incidentRecordArn=arn, eventId=event_id, eventData="too late")
    assert missing.value.response["resourceType"] == "TIMELINE_EVENT"


# ------------------------------------------------------------------------------------- validation

EVENT_DATA_MAX = MODEL.shape_for("EventData").metadata["max"]
REFERENCES_MAX = MODEL.shape_for("EventReferenceList").metadata["max"]
ARN_PATTERN = MODEL.shape_for("Arn").metadata["pattern"]


def test_model_limits_are_what_the_tests_assume() -> None:
    assert EVENT_DATA_MAX == 12000
    assert MODEL.shape_for("ClientToken").metadata["max"] == 128
    assert MODEL.shape_for("TimelineEventType").metadata["max"] == 100
    assert REFERENCES_MAX == 10
    assert MODEL.shape_for("EventReference").is_tagged_union


def test_event_data_over_12000_chars_is_rejected(fake: FakeIncidentManager, lax: Any) -> None:
    arn = fake.add_incident("Big")
    data = "x" * (EVENT_DATA_MAX + 1)
    with pytest.raises(lax.exceptions.ValidationException) as exc:
        lax.create_timeline_event(**event_args(arn, eventData=data))
    assert_validation_error(
        exc,
        f"1 validation error detected: Value '{data}' at 'eventData' failed to satisfy constraint: "
        "Member must have length less than or equal to 12000",
    )
    assert fake.events() == []
    assert fake.calls_to("CreateTimelineEvent")[0].status == 400
    # The boundary itself is fine.
    lax.create_timeline_event(**event_args(arn, eventData="x" * EVENT_DATA_MAX))
    assert len(fake.events(arn)) == 1


def test_lengths_are_counted_in_utf16_units(fake: FakeIncidentManager, lax: Any) -> None:
    arn = fake.add_incident("Emoji")
    lax.create_timeline_event(**event_args(arn, eventData="\U0001f525" * (EVENT_DATA_MAX // 2)))
    with pytest.raises(lax.exceptions.ValidationException) as exc:
        lax.create_timeline_event(**event_args(arn, eventData="\U0001f525" * (EVENT_DATA_MAX // 2) + "x"))
    assert "Member must have length less than or equal to 12000" in exc.value.response["Error"]["Message"]
    assert len(fake.events(arn)) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"clientToken": "t" * 129},
            "1 validation error detected: Value '" + "t" * 129 + "' at 'clientToken' failed to satisfy "
            "constraint: Member must have length less than or equal to 128",
        ),
        (
            {"eventType": "E" * 101},
            "1 validation error detected: Value '" + "E" * 101 + "' at 'eventType' failed to satisfy "
            "constraint: Member must have length less than or equal to 100",
        ),
        (
            {"incidentRecordArn": "incident-42"},
            "1 validation error detected: Value 'incident-42' at 'incidentRecordArn' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}",
        ),
        (
            {
                "eventReferences": [
                    {
                        "resource": "arn:aws:rds:eu-west-1:111122223333:db:orders",
                        "relatedItemId": "related-item/METRIC/" + "A" * 32,
                    }
                ]
            },
            "1 validation error detected: Value '{resource=arn:aws:rds:eu-west-1:111122223333:db:orders, "
            "relatedItemId=related-item/METRIC/" + "A" * 32 + "}' at 'eventReferences.1.member' failed to "
            "satisfy constraint: Union must have exactly one member set, but 2 were set: "
            "[relatedItemId, resource]",
        ),
        (
            {"eventReferences": [{"relatedItemId": "related-item/METRIC/xyz"}]},
            "1 validation error detected: Value 'related-item/METRIC/xyz' at "
            "'eventReferences.1.member.relatedItemId' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: " + MODEL.shape_for("GeneratedId").metadata["pattern"],
        ),
    ],
    ids=["clientToken-129", "eventType-101", "arn-pattern", "union-both", "relatedItemId-pattern"],
)
def test_requests_aws_rejects_are_rejected(
    fake: FakeIncidentManager, lax: Any, overrides: dict[str, Any], message: str
) -> None:
    arn = fake.add_incident("Validation")
    with pytest.raises(lax.exceptions.ValidationException) as exc:
        lax.create_timeline_event(**event_args(arn, **overrides))
    assert_validation_error(exc, message)
    assert fake.events() == []


def test_too_many_event_references(fake: FakeIncidentManager, lax: Any) -> None:
    arn = fake.add_incident("Refs")
    refs = [
        {"resource": f"arn:aws:ec2:eu-west-1:111122223333:instance/i-{i}"} for i in range(REFERENCES_MAX + 1)
    ]
    with pytest.raises(lax.exceptions.ValidationException) as exc:
        lax.create_timeline_event(**event_args(arn, eventReferences=refs))
    message = exc.value.response["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value '[")
    assert message.endswith(
        f"]' at 'eventReferences' failed to satisfy constraint: Member must have length less than or equal to "
        f"{REFERENCES_MAX}"
    )
    lax.create_timeline_event(**event_args(arn, eventReferences=refs[:REFERENCES_MAX]))
    assert len(fake.events(arn)[0]["eventReferences"]) == REFERENCES_MAX


def test_missing_required_member_and_error_count(fake: FakeIncidentManager, lax: Any) -> None:
    arn = fake.add_incident("Missing")
    args = event_args(arn)
    del args["eventTime"]
    with pytest.raises(lax.exceptions.ValidationException) as exc:
        lax.create_timeline_event(**args)
    assert_validation_error(
        exc,
        "1 validation error detected: Value null at 'eventTime' failed to satisfy constraint: "
        "Member must not be null",
    )
    assert "eventTime" not in fake.calls_to("CreateTimelineEvent")[0].params

    del args["eventData"]
    with pytest.raises(lax.exceptions.ValidationException) as exc:
        lax.create_timeline_event(**args, clientToken="c" * 200)
    message = exc.value.response["Error"]["Message"]
    assert message.startswith("3 validation errors detected: ")
    assert message.count("; Value ") == 2
    assert "Value null at 'eventData' failed to satisfy constraint: Member must not be null" in message
    assert fake.events() == []


def test_non_creatable_event_type_is_rejected(fake: FakeIncidentManager, lax: Any) -> None:
    arn = fake.add_incident("Types")
    with pytest.raises(lax.exceptions.ValidationException):
        lax.create_timeline_event(**event_args(arn, eventType="SSM Incident Record Update"))
    lax.create_timeline_event(**event_args(arn, eventType="Note"))
    assert [e["eventType"] for e in fake.events(arn)] == ["Note"]


def test_hand_built_bodies_unknown_members_and_wrong_types(fake: FakeIncidentManager) -> None:
    arn = fake.add_incident("Raw")
    good = {
        "incidentRecordArn": arn,
        "eventTime": 1714566615.5,
        "eventType": "Custom Event",
        "eventData": "ok",
    }
    status, headers, body = signed_request(fake, "POST", "/createTimelineEvent", json.dumps(good).encode())
    assert status == 201, body
    assert fake.events(arn)[0]["eventTime"] == datetime(2024, 5, 1, 12, 30, 15, 500000, tzinfo=UTC)

    status, headers, body = signed_request(
        fake, "POST", "/createTimelineEvent", json.dumps({**good, "severity": "high"}).encode()
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert "'severity'" in body["message"]

    status, headers, body = signed_request(
        fake,
        "POST",
        "/createTimelineEvent",
        json.dumps({**good, "eventTime": "2024-05-01T12:00:00Z"}).encode(),
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "SerializationException"
    status, headers, body = signed_request(fake, "POST", "/createTimelineEvent", b"{not json")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    assert len(fake.events(arn)) == 1


# ------------------------------------------------------------------------------------- errors

SIX_ERRORS = [
    ("ThrottlingException", 429),
    ("ResourceNotFoundException", 404),
    ("AccessDeniedException", 403),
    ("ValidationException", 400),
    ("ConflictException", 409),
    ("InternalServerException", 500),
]


def test_create_timeline_event_models_exactly_these_errors() -> None:
    modeled = {
        s.name: s.metadata["error"]["httpStatusCode"]
        for s in MODEL.operation_model("CreateTimelineEvent").error_shapes
    }
    assert modeled == dict(SIX_ERRORS)


@pytest.mark.parametrize(("code", "status"), SIX_ERRORS, ids=[c for c, _ in SIX_ERRORS])
def test_each_error_raises_the_modeled_exception(
    fake: FakeIncidentManager, strict: Any, code: str, status: int
) -> None:
    arn = fake.add_incident("Errors")
    fake.fail_next("CreateTimelineEvent", code)
    with pytest.raises(getattr(strict.exceptions, code)) as exc:
        strict.create_timeline_event(**event_args(arn))
    response = exc.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["Error"]["Code"] == code
    assert response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == code
    assert response["ResponseMetadata"]["RequestId"]
    # required members of the error shape arrive and botocore maps them
    for member in MODEL.shape_for(code).required_members:
        if member != "message":
            assert member in response, member
    assert fake.events() == []
    assert fake.calls_to("CreateTimelineEvent")[-1].error_code == code
    # only the next call fails
    strict.create_timeline_event(**event_args(arn))
    assert len(fake.events(arn)) == 1


def test_injected_error_details(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Details")
    fake.fail_next("CreateTimelineEvent", "ThrottlingException")
    fake.fail_next("CreateTimelineEvent", "AccessDeniedException")
    with pytest.raises(strict.exceptions.ThrottlingException) as throttled:
        strict.create_timeline_event(**event_args(arn))
    assert throttled.value.response["serviceCode"] == "ssm-incidents"
    assert throttled.value.response["quotaCode"]
    with pytest.raises(strict.exceptions.AccessDeniedException) as denied:
        strict.create_timeline_event(**event_args(arn))
    assert denied.value.response["Error"]["Message"] == (
        "User: arn:aws:sts::111122223333:assumed-role/bot/i-1 is not authorized to perform: "
        f"ssm-incidents:CreateTimelineEvent on resource: {arn}"
    )
    # Faults come before validation, as at AWS: an invalid request is throttled, not rejected.
    fake.fail_next("CreateTimelineEvent", "ThrottlingException")
    lax = make_client(fake, retries={"total_max_attempts": 1}, parameter_validation=False)
    with pytest.raises(lax.exceptions.ThrottlingException):
        lax.create_timeline_event(**event_args(arn, eventType="E" * 101))
    with pytest.raises(ValueError, match="cannot fail with ResourceNotFoundException"):
        fake.fail_next("ListTimelineEvents", "ResourceNotFoundException")


def test_stop_failing_ends_an_injected_outage(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Outage")
    fake.fail_next("CreateTimelineEvent", "InternalServerException", times=1000)
    fake.fail_next("GetIncidentRecord", "InternalServerException", times=1000)
    for _ in range(2):
        with pytest.raises(strict.exceptions.InternalServerException):
            strict.create_timeline_event(**event_args(arn))
    fake.stop_failing("CreateTimelineEvent")
    strict.create_timeline_event(**event_args(arn))
    assert len(fake.events(arn)) == 1
    with pytest.raises(strict.exceptions.InternalServerException):
        strict.get_incident_record(arn=arn)
    fake.stop_failing()
    assert strict.get_incident_record(arn=arn)["incidentRecord"]["arn"] == arn


def test_brief_client_config_retries_once(fake: FakeIncidentManager, client: Any) -> None:
    """retries={'max_attempts': 1} (legacy mode) = 1 retry: a single throttle is absorbed by botocore."""
    arn = fake.add_incident("Retry")
    fake.fail_next("CreateTimelineEvent", "ThrottlingException")
    client.create_timeline_event(**event_args(arn))
    assert [c.status for c in fake.calls_to("CreateTimelineEvent")] == [429, 201]
    fake.fail_next("CreateTimelineEvent", "ThrottlingException", times=2)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.create_timeline_event(**event_args(arn))


def test_client_token_idempotency_and_conflict(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Idempotent")
    first = strict.create_timeline_event(**event_args(arn), clientToken="slack-1712345.000100")
    again = strict.create_timeline_event(**event_args(arn), clientToken="slack-1712345.000100")
    assert again["eventId"] == first["eventId"]
    assert len(fake.events(arn)) == 1

    with pytest.raises(strict.exceptions.ConflictException) as exc:
        strict.create_timeline_event(
            **event_args(arn, eventData="edited"), clientToken="slack-1712345.000100"
        )
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert exc.value.response["Error"]["Code"] == "ConflictException"
    assert [e["eventData"] for e in fake.events(arn)] == ["DB failover started"]

    other = strict.create_timeline_event(**event_args(arn), clientToken="slack-other")
    assert other["eventId"] != first["eventId"]
    assert len(fake.events(arn)) == 2


def test_unknown_incident_is_resource_not_found(fake: FakeIncidentManager, strict: Any) -> None:
    with pytest.raises(strict.exceptions.ResourceNotFoundException) as exc:
        strict.create_timeline_event(**event_args(MISSING_ARN))
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert exc.value.response["resourceIdentifier"] == MISSING_ARN
    assert exc.value.response["resourceType"] == "INCIDENT_RECORD"
    with pytest.raises(strict.exceptions.ResourceNotFoundException) as exc:
        strict.get_incident_record(arn=MISSING_ARN)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"

    arn = fake.add_incident("Deleted")
    fake.delete_incident(arn)
    with pytest.raises(strict.exceptions.ResourceNotFoundException):
        strict.get_incident_record(arn=arn)
    assert fake.events() == []


def test_unimplemented_operation_is_loud(fake: FakeIncidentManager, strict: Any, lax: Any) -> None:
    with pytest.raises(strict.exceptions.InternalServerException) as exc:
        strict.list_response_plans()
    assert exc.value.response["Error"]["Message"] == "operation ListResponsePlans not implemented by the fake"
    # ...but it is still validated first
    with pytest.raises(lax.exceptions.ValidationException):
        lax.list_response_plans(maxResults=1000)


# ------------------------------------------------------------------------------------- auth & region


def test_region_of_credential_scope_is_recorded(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Regions")
    client.get_incident_record(arn=arn)
    make_client(fake, region="us-east-2").get_incident_record(arn=arn)
    assert [c.region for c in fake.calls_to("GetIncidentRecord")] == ["eu-west-1", "us-east-2"]


def test_requests_must_be_sigv4_signed_for_ssm_incidents(fake: FakeIncidentManager) -> None:
    arn = fake.add_incident("Auth")
    path = "/getIncidentRecord?arn=" + urllib.parse.quote(arn, safe="")
    assert signed_request(fake, "GET", path)[0] == 200

    status, headers, body = signed_request(fake, "GET", path, sign=False)
    assert (status, headers["x-amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")

    status, headers, body = signed_request(fake, "GET", path, service="ssm")
    assert (status, headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    assert body["message"] == "Credential should be scoped to correct service: 'ssm-incidents'. "

    status, headers, body = signed_request(fake, "GET", path, secret="wrong")
    assert (status, headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    assert body["message"].startswith("The request signature we calculated does not match")

    status, headers, body = signed_request(fake, "GET", path, key="AKIAUNKNOWN")
    assert (status, headers["x-amzn-ErrorType"]) == (403, "UnrecognizedClientException")

    unsigned = boto3.client(
        "ssm-incidents",
        region_name=REGION,
        endpoint_url=fake.endpoint_url,
        config=Config(signature_version=UNSIGNED),
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        unsigned.get_incident_record(arn=arn)
    assert exc.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [c.status for c in fake.calls_to("GetIncidentRecord")] == [200, 403, 403, 403, 403, 403]


def test_default_fake_accepts_any_key_but_still_checks_the_scope() -> None:
    with FakeIncidentManager() as fake:
        arn = fake.add_incident("Any key")
        path = "/getIncidentRecord?arn=" + urllib.parse.quote(arn, safe="")
        assert signed_request(fake, "GET", path, key="AKIDTESTTESTTEST", secret="whatever")[0] == 200
        status, headers, _ = signed_request(fake, "GET", path, service="ssm-contacts")
        assert (status, headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
        status, headers, _ = signed_request(fake, "GET", path, sign=False)
        assert (status, headers["x-amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")


def test_fixed_region_endpoint_rejects_other_regions() -> None:
    with FakeIncidentManager(region="eu-west-1") as fake:
        arn = fake.add_incident("Regional")
        make_client(fake).get_incident_record(arn=arn)
        other = make_client(fake, region="us-east-1", retries={"total_max_attempts": 1})
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            other.get_incident_record(arn=arn)
        assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"


# ------------------------------------------------------------------------------------- faults


def test_latency_injection(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Slow")
    fake.set_latency(0.3, "CreateTimelineEvent")
    started = time.monotonic()
    strict.create_timeline_event(**event_args(arn))
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    strict.get_incident_record(arn=arn)
    assert time.monotonic() - started < 0.3


def test_throttle_above_fails_part_of_a_burst(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Burst")
    fake.throttle_above(5, "CreateTimelineEvent")
    ok = throttled = 0
    started = time.monotonic()
    for i in range(20):
        try:
            strict.create_timeline_event(**event_args(arn, eventData=f"burst {i}"))
            ok += 1
        except strict.exceptions.ThrottlingException as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            throttled += 1
    elapsed = time.monotonic() - started
    assert throttled >= 1
    assert 5 <= ok <= 5 + 5 * elapsed + 1
    assert len(fake.events(arn)) == ok
    strict.get_incident_record(arn=arn)  # other operations are not limited


def test_throttle_above_admits_no_more_than_the_burst_in_any_sliding_window(
    fake: FakeIncidentManager, strict: Any
) -> None:
    arn = fake.add_incident("Sliding")
    fake.throttle_above(1, "CreateTimelineEvent", burst=2)  # at most 2 calls in any 2 seconds

    def admitted(i: int) -> bool:
        try:
            strict.create_timeline_event(**event_args(arn, eventData=f"sliding {i}"))
        except strict.exceptions.ThrottlingException:
            return False
        return True

    first = time.monotonic()
    assert [admitted(0), admitted(1)] == [True, True]
    time.sleep(1.1)  # a token bucket (rate 1) has a token back by now; the window still holds both calls
    assert not admitted(2)
    time.sleep(max(0.0, first + 2.1 - time.monotonic()))  # the first two calls are out of the window
    assert admitted(3)
    assert len(fake.events(arn)) == 3


def test_set_down_raises_a_connection_error(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Down")
    fake.set_down(True)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        client.create_timeline_event(**event_args(arn))
    assert fake.events() == []
    assert {c.status for c in fake.calls_to("CreateTimelineEvent")} == {0}
    fake.set_down(False)
    client.create_timeline_event(**event_args(arn))
    assert len(fake.events(arn)) == 1


def test_reset_forgets_everything(fake: FakeIncidentManager, strict: Any) -> None:
    arn = fake.add_incident("Reset")
    fake.fail_next("GetIncidentRecord", "InternalServerException")
    fake.set_down(True)
    fake.reset()
    assert fake.calls == []
    with pytest.raises(strict.exceptions.ResourceNotFoundException):
        strict.get_incident_record(arn=arn)


async def test_usable_from_async_code_on_another_loop(fake: FakeIncidentManager, client: Any) -> None:
    arn = fake.add_incident("Async")
    results = await asyncio.gather(
        *(
            asyncio.to_thread(client.create_timeline_event, **event_args(arn, eventData=f"n{i}"))
            for i in range(5)
        )
    )
    assert len({r["eventId"] for r in results}) == 5
    assert sorted(e["eventData"] for e in fake.events(arn)) == [f"n{i}" for i in range(5)]


def test_cli_runs_standalone_and_prints_seeded_arn() -> None:
    command = [
        sys.executable,
        "-m",
        "tests.fakes.incident_manager",
        "--port",
        "0",
        "--incident",
        "CLI incident",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stderr is not None and process.stdout is not None
            endpoint = process.stderr.readline().strip().rsplit(" ", 1)[-1]
            arn = process.stdout.readline().strip()
            assert endpoint.startswith("http://127.0.0.1:")
            assert ARN_RE.match(arn)
            client = boto3.client(
                "ssm-incidents",
                region_name=REGION,
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            assert client.get_incident_record(arn=arn)["incidentRecord"]["title"] == "CLI incident"
            # Its timeline starts as Incident Manager's does: with an event of Incident Manager's own.
            [started] = client.list_timeline_events(incidentRecordArn=arn)["eventSummaries"]
            assert started["eventType"] == "SSM Incident Trigger"
        finally:
            process.terminate()
        assert process.wait(5) == 0  # SIGTERM stops it cleanly


def test_incident_id_is_uuid() -> None:
    arn = FakeIncidentManager().add_incident("No server needed for seeding")
    uuid.UUID(arn.rsplit("/", 1)[-1])
