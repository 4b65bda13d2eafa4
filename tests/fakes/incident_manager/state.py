"""What the fake remembers: incident records, timeline events, idempotency tokens and recorded calls.

One re-entrant lock guards all of it (and the fault plan, which shares it), so the seeding and
inspection methods can be called from any thread while the server thread answers requests.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import DEFAULT_ACCOUNT
from .model import truncate_ms


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the fake received (whatever the outcome)."""

    operation: str  # modeled operation name, or "UNKNOWN" when no route matched
    params: dict[str, Any]  # deserialized input (timestamps as aware datetimes, blobs as bytes)
    region: str | None  # region from the SigV4 credential scope (None when unsigned/unparseable)
    status: int  # HTTP status answered; 0 when the connection was aborted (set_down)
    time: datetime  # when the request arrived (UTC)
    error_code: str | None = None
    error_message: str | None = None
    request_id: str = ""
    access_key: str | None = None


@dataclass
class Incident:
    arn: str
    title: str
    status: str
    impact: int
    creation_time: datetime
    last_modified_time: datetime
    last_modified_by: str
    dedupe_string: str
    source: dict[str, Any]
    resolved_time: datetime | None = None
    summary: str | None = None
    chat_channel: dict[str, Any] | None = None
    notification_targets: list[dict[str, Any]] | None = None
    automation_executions: list[dict[str, Any]] | None = None
    # The Related items tab: {"identifier", "title"?, "generatedId"?} each, with "seq" (order added).
    related_items: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "automationExecutions": self.automation_executions,
            "chatChannel": self.chat_channel,
            "creationTime": self.creation_time,
            "dedupeString": self.dedupe_string,
            "impact": self.impact,
            "incidentRecordSource": self.source,
            "lastModifiedBy": self.last_modified_by,
            "lastModifiedTime": self.last_modified_time,
            "notificationTargets": self.notification_targets,
            "resolvedTime": self.resolved_time,
            "status": self.status,
            "summary": self.summary,
            "title": self.title,
        }

    def summary_record(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "creationTime": self.creation_time,
            "impact": self.impact,
            "incidentRecordSource": self.source,
            "resolvedTime": self.resolved_time,
            "status": self.status,
            "title": self.title,
        }


@dataclass
class Event:
    event_id: str
    incident_arn: str
    event_time: datetime
    event_updated_time: datetime
    event_type: str
    event_data: str
    event_references: list[dict[str, Any]]
    client_token: str | None
    seq: int

    def full(self) -> dict[str, Any]:
        return {
            "eventData": self.event_data,
            "eventId": self.event_id,
            "eventReferences": copy.deepcopy(self.event_references) or None,
            "eventTime": self.event_time,
            "eventType": self.event_type,
            "eventUpdatedTime": self.event_updated_time,
            "incidentRecordArn": self.incident_arn,
        }

    def summary(self) -> dict[str, Any]:
        out = self.full()
        del out["eventData"]
        return out


class State:
    """The fake's memory; every method expects ``lock`` held or takes it itself.

    The seeding and inspection methods are documented on ``FakeIncidentManager``, which delegates."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.incidents: dict[str, Incident] = {}
        self.events: dict[str, Event] = {}
        # (operation, clientToken) -> (fingerprint of the other parameters, the answer given)
        self.tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.calls: list[RecordedCall] = []
        self._seq = 0

    def clear(self) -> None:
        with self.lock:
            self.incidents.clear()
            self.events.clear()
            self.tokens.clear()
            self.calls.clear()

    def record(self, call: RecordedCall) -> None:
        with self.lock:
            self.calls.append(call)

    def store_event(
        self,
        arn: str,
        event_time: datetime,
        event_type: str,
        event_data: str,
        references: list[dict[str, Any]],
        client_token: str | None,
        now: datetime,
    ) -> Event:
        self._seq += 1
        event = Event(
            event_id=str(uuid.uuid4()),
            incident_arn=arn,
            event_time=event_time,
            event_updated_time=now,
            event_type=event_type,
            event_data=event_data,
            event_references=copy.deepcopy(references),
            client_token=client_token,
            seq=self._seq,
        )
        self.events[event.event_id] = event
        return event

    def add_incident(
        self,
        title: str,
        status: str = "OPEN",
        plan: str = "db-plan",
        account: str = DEFAULT_ACCOUNT,
        impact: int = 2,
        *,
        summary: str | None = None,
        created_by: str | None = None,
        source: str = "aws.ssm-incidents.custom",
        invoked_by: str | None = None,
    ) -> str:
        if status not in ("OPEN", "RESOLVED"):
            raise ValueError(f"status must be OPEN or RESOLVED, not {status!r}")
        if not 1 <= impact <= 5:
            raise ValueError("impact must be 1..5")
        now = truncate_ms(datetime.now(UTC))
        incident_id = str(uuid.uuid4())
        arn = f"arn:aws:ssm-incidents::{account}:incident-record/{plan}/{incident_id}"
        creator = created_by or f"arn:aws:iam::{account}:role/IncidentResponder"
        incident_source: dict[str, Any] = {"createdBy": creator, "source": source}
        if invoked_by is not None:
            incident_source["invokedBy"] = invoked_by
        incident = Incident(
            arn=arn,
            title=title,
            status=status,
            impact=impact,
            creation_time=now,
            last_modified_time=now,
            last_modified_by=creator,
            dedupe_string=hashlib.sha256(f"{plan}/{incident_id}".encode()).hexdigest(),
            source=incident_source,
            resolved_time=now if status == "RESOLVED" else None,
            summary=summary,
            chat_channel={"empty": {}},
            notification_targets=[],
            automation_executions=[],
        )
        with self.lock:
            self.incidents[arn] = incident
        return arn

    def related_item_list(self, arn: str) -> list[dict[str, Any]]:
        with self.lock:
            items = self.incident_or_key_error(arn).related_items
            return [{k: copy.deepcopy(v) for k, v in item.items() if k != "seq"} for item in items]

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def resolve_incident(self, arn: str) -> None:
        with self.lock:
            incident = self.incident_or_key_error(arn)
            now = truncate_ms(datetime.now(UTC))
            incident.status = "RESOLVED"
            incident.resolved_time = now
            incident.last_modified_time = now

    def delete_incident(self, arn: str) -> None:
        with self.lock:
            self.incident_or_key_error(arn)
            del self.incidents[arn]
            for event_id in [e.event_id for e in self.events.values() if e.incident_arn == arn]:
                del self.events[event_id]

    def add_event(
        self,
        arn: str,
        event_type: str,
        event_data: str,
        event_time: datetime | None = None,
        event_references: list[dict[str, Any]] | None = None,
    ) -> str:
        with self.lock:
            self.incident_or_key_error(arn)
            now = truncate_ms(datetime.now(UTC))
            return self.store_event(
                arn,
                truncate_ms(event_time or now),
                event_type,
                event_data,
                event_references or [],
                None,
                now,
            ).event_id

    def incident(self, arn: str) -> dict[str, Any]:
        with self.lock:
            record = self.incident_or_key_error(arn).record()
        return {k: copy.deepcopy(v) for k, v in record.items() if v is not None}

    def incident_or_key_error(self, arn: str) -> Incident:
        try:
            return self.incidents[arn]
        except KeyError:
            raise KeyError(f"no incident {arn}") from None

    def event_list(self, arn: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            stored = sorted(self.events.values(), key=lambda e: e.seq)
            return [
                {
                    "eventId": e.event_id,
                    "incidentRecordArn": e.incident_arn,
                    "eventTime": e.event_time,
                    "eventUpdatedTime": e.event_updated_time,
                    "eventType": e.event_type,
                    "eventData": e.event_data,
                    "eventReferences": copy.deepcopy(e.event_references),
                    "clientToken": e.client_token,
                }
                for e in stored
                if arn is None or e.incident_arn == arn
            ]

    def calls_snapshot(self) -> list[RecordedCall]:
        with self.lock:
            return list(self.calls)

    def calls_to(self, operation: str) -> list[RecordedCall]:
        with self.lock:
            return [c for c in self.calls if c.operation == operation]
