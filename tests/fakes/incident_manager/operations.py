"""The operations the fake implements, on already validated parameters (the state's lock held).

Modeled operations without a handler here are still routed, parsed and validated, then answered
500 InternalServerException "operation X not implemented by the fake".
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .config import Settings
from .errors import AwsError
from .model import epoch, truncate_ms
from .state import Event, Incident, State

Handler = Callable[["Ctx", dict[str, Any]], dict[str, Any]]


@dataclass
class Ctx:
    region: str | None
    request_id: str
    now: datetime
    caller_arn: str


class Operations:
    """One handler per implemented operation, by operation name (``handlers``)."""

    def __init__(self, state: State, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.handlers: dict[str, Handler] = {
            "CreateTimelineEvent": self._create_timeline_event,
            "GetTimelineEvent": self._get_timeline_event,
            "ListTimelineEvents": self._list_timeline_events,
            "UpdateTimelineEvent": self._update_timeline_event,
            "DeleteTimelineEvent": self._delete_timeline_event,
            "GetIncidentRecord": self._get_incident_record,
            "ListIncidentRecords": self._list_incident_records,
            "UpdateIncidentRecord": self._update_incident_record,
            "UpdateRelatedItems": self._update_related_items,
            "ListRelatedItems": self._list_related_items,
        }

    def _require_incident(self, arn: str) -> Incident:
        incident = self.state.incidents.get(arn)
        if incident is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Incident record {arn} not found",
                resourceIdentifier=arn,
                resourceType="INCIDENT_RECORD",
            )
        return incident

    def _idempotent(
        self, operation: str, params: Mapping[str, Any], arn: str, run: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        token = params.get("clientToken")
        if token is None:
            return run()
        fingerprint = json.dumps(
            {k: v for k, v in params.items() if k != "clientToken"}, sort_keys=True, default=str
        )
        previous = self.state.tokens.get((operation, token))
        if previous is not None:
            if previous[0] != fingerprint:
                raise AwsError(
                    "ConflictException",
                    f"The clientToken {token} was already used with different parameters",
                    resourceIdentifier=arn,
                    resourceType="INCIDENT_RECORD",
                )
            return copy.deepcopy(previous[1])
        result = run()
        self.state.tokens[(operation, token)] = (fingerprint, copy.deepcopy(result))
        return result

    def _check_event_type(self, event_type: str) -> None:
        if event_type not in self.settings.creatable_event_types:
            allowed = ", ".join(sorted(self.settings.creatable_event_types))
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{event_type}' at 'eventType' failed to satisfy "
                f"constraint: Timeline events can only be created with eventType in [{allowed}]",
            )

    def _create_timeline_event(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["incidentRecordArn"]
        self._require_incident(arn)
        self._check_event_type(params["eventType"])

        def run() -> dict[str, Any]:
            event = self.state.store_event(
                arn,
                truncate_ms(params["eventTime"]),
                params["eventType"],
                params["eventData"],
                params.get("eventReferences") or [],
                params.get("clientToken"),
                ctx.now,
            )
            return {"eventId": event.event_id, "incidentRecordArn": arn}

        return self._idempotent("CreateTimelineEvent", params, arn, run)

    def _find_event(self, arn: str, event_id: str) -> Event:
        self._require_incident(arn)
        event = self.state.events.get(event_id)
        if event is None or event.incident_arn != arn:
            raise AwsError(
                "ResourceNotFoundException",
                f"Timeline event {event_id} not found",
                resourceIdentifier=event_id,
                resourceType="TIMELINE_EVENT",
            )
        return event

    def _get_timeline_event(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        return {"event": self._find_event(params["incidentRecordArn"], params["eventId"]).full()}

    def _update_timeline_event(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["incidentRecordArn"]
        event = self._find_event(arn, params["eventId"])
        if event.event_type not in self.settings.creatable_event_types:
            # Botocore's model: "You can update events of type Custom Event and Note"; the events Incident
            # Manager writes itself (its triggers, record updates) are not updatable.
            allowed = ", ".join(sorted(self.settings.creatable_event_types))
            raise AwsError(
                "ValidationException",
                f"Timeline events of type '{event.event_type}' cannot be updated; only events of type "
                f"[{allowed}] can",
            )
        if "eventType" in params:
            self._check_event_type(params["eventType"])

        def run() -> dict[str, Any]:
            if "eventData" in params:
                event.event_data = params["eventData"]
            if "eventTime" in params:
                event.event_time = truncate_ms(params["eventTime"])
            if "eventType" in params:
                event.event_type = params["eventType"]
            if "eventReferences" in params:
                event.event_references = copy.deepcopy(params["eventReferences"])
            event.event_updated_time = ctx.now
            return {}

        return self._idempotent("UpdateTimelineEvent", params, arn, run)

    def _delete_timeline_event(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        # The model gives DeleteTimelineEvent no ResourceNotFoundException: an event (or incident) that is
        # not there is answered as deleted.
        event = self.state.events.get(params["eventId"])
        if event is not None and event.incident_arn == params["incidentRecordArn"]:
            del self.state.events[event.event_id]
        return {}

    @staticmethod
    def _page_token(cursor: list[Any], query: str) -> str:
        raw = json.dumps({"c": cursor, "q": hashlib.sha256(query.encode()).hexdigest()[:16]})
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @staticmethod
    def _read_page_token(token: str, query: str) -> list[Any]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            if data["q"] != hashlib.sha256(query.encode()).hexdigest()[:16]:
                raise ValueError("token belongs to another query")
            return list(data["c"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise AwsError("ValidationException", "The nextToken provided is invalid") from None

    def _paginate(
        self,
        items: list[Any],
        key: Callable[[Any], list[Any]],
        descending: bool,
        params: Mapping[str, Any],
    ) -> tuple[list[Any], str | None]:
        query = json.dumps(
            {k: v for k, v in params.items() if k not in ("nextToken", "maxResults")},
            sort_keys=True,
            default=str,
        )
        items = sorted(items, key=key, reverse=descending)
        if params.get("nextToken") is not None:
            cursor = self._read_page_token(params["nextToken"], query)
            items = [i for i in items if (key(i) < cursor if descending else key(i) > cursor)]
        size: int = params.get("maxResults") or self.settings.default_page_size
        page, rest = items[:size], items[size:]
        return page, (self._page_token(key(page[-1]), query) if rest else None)

    @staticmethod
    def _filter_error(message: str) -> AwsError:
        return AwsError("ValidationException", message)

    def _list_timeline_events(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["incidentRecordArn"]
        events = [e for e in self.state.events.values() if e.incident_arn == arn]
        for flt in params.get("filters") or []:
            key, condition = flt["key"], flt["condition"]
            if key == "eventTime":
                if "before" in condition:
                    events = [e for e in events if e.event_time < condition["before"]]
                elif "after" in condition:
                    events = [e for e in events if e.event_time > condition["after"]]
                else:
                    raise self._filter_error("Filter eventTime supports only the before and after conditions")
            elif key in ("eventType", "eventReference"):
                values = condition.get("equals", {}).get("stringValues")
                if values is None:
                    raise self._filter_error(f"Filter {key} supports only equals with stringValues")
                if key == "eventType":
                    events = [e for e in events if e.event_type in values]
                else:
                    events = [
                        e
                        for e in events
                        if any(v in values for ref in e.event_references for v in ref.values())
                    ]
            else:
                raise self._filter_error(f"Unsupported filter key: {key}")
        descending = params.get("sortOrder", "DESCENDING") == "DESCENDING"
        page, token = self._paginate(events, lambda e: [epoch(e.event_time), e.seq], descending, params)
        return {"eventSummaries": [e.summary() for e in page], "nextToken": token}

    def _get_incident_record(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        return {"incidentRecord": copy.deepcopy(self._require_incident(params["arn"]).record())}

    def _list_incident_records(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        incidents = list(self.state.incidents.values())
        for flt in params.get("filters") or []:
            key, condition = flt["key"], flt["condition"]
            equals = condition.get("equals", {})
            if key == "creationTime":
                if "before" in condition:
                    incidents = [i for i in incidents if i.creation_time < condition["before"]]
                elif "after" in condition:
                    incidents = [i for i in incidents if i.creation_time > condition["after"]]
                else:
                    raise self._filter_error(
                        "Filter creationTime supports only the before and after conditions"
                    )
            elif key == "impact" and "integerValues" in equals:
                incidents = [i for i in incidents if i.impact in equals["integerValues"]]
            elif key in ("status", "createdBy") and "stringValues" in equals:
                values = equals["stringValues"]
                incidents = [
                    i for i in incidents if (i.status if key == "status" else i.source["createdBy"]) in values
                ]
            else:
                raise self._filter_error(f"Unsupported filter: {key} with {sorted(condition)}")
        page, token = self._paginate(incidents, lambda i: [epoch(i.creation_time), i.arn], True, params)
        return {
            "incidentRecordSummaries": [copy.deepcopy(i.summary_record()) for i in page],
            "nextToken": token,
        }

    def _update_related_items(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        """Add or remove one related item (the union, already validated, holds exactly one of the two).

        Chosen where AWS documents nothing: adding an item whose identifier (type and value) the incident
        already has is a ConflictException, and removing one it doesn't have a ResourceNotFoundException;
        a repeated clientToken with the same parameters answers as the first call did."""
        arn: str = params["incidentRecordArn"]
        incident = self._require_incident(arn)
        update = params["relatedItemsUpdate"]

        def run() -> dict[str, Any]:
            if "itemToAdd" in update:
                item = copy.deepcopy(update["itemToAdd"])
                if any(known["identifier"] == item["identifier"] for known in incident.related_items):
                    raise AwsError(
                        "ConflictException",
                        "A related item with this identifier already exists on the incident record",
                        resourceIdentifier=arn,
                        resourceType="INCIDENT_RECORD",
                    )
                kind = item["identifier"]["type"]
                item.setdefault("generatedId", f"related-item/{kind}/{uuid.uuid4().hex.upper()}")
                item["seq"] = self.state.next_seq()
                incident.related_items.append(item)
            else:
                identifier = update["itemToRemove"]
                kept = [known for known in incident.related_items if known["identifier"] != identifier]
                if len(kept) == len(incident.related_items):
                    raise AwsError(
                        "ResourceNotFoundException",
                        "The related item was not found on the incident record",
                        resourceIdentifier=arn,
                        resourceType="INCIDENT_RECORD",
                    )
                incident.related_items[:] = kept
            incident.last_modified_time = ctx.now
            incident.last_modified_by = ctx.caller_arn
            return {}

        return self._idempotent("UpdateRelatedItems", params, arn, run)

    def _list_related_items(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        # ListRelatedItems models no ResourceNotFoundException: an unknown incident has no items.
        incident = self.state.incidents.get(params["incidentRecordArn"])
        items = list(incident.related_items) if incident is not None else []
        page, token = self._paginate(items, lambda item: [item["seq"]], False, params)
        listed = [{k: copy.deepcopy(v) for k, v in item.items() if k != "seq"} for item in page]
        return {"relatedItems": listed, "nextToken": token}

    def _update_incident_record(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["arn"]
        incident = self._require_incident(arn)

        def run() -> dict[str, Any]:
            if "title" in params:
                incident.title = params["title"]
            if "impact" in params:
                incident.impact = params["impact"]
            if "summary" in params:
                incident.summary = params["summary"]
            if "chatChannel" in params:
                incident.chat_channel = copy.deepcopy(params["chatChannel"])
            if "notificationTargets" in params:
                incident.notification_targets = copy.deepcopy(params["notificationTargets"])
            if "status" in params and params["status"] != incident.status:
                incident.status = params["status"]
                incident.resolved_time = ctx.now if incident.status == "RESOLVED" else None
            incident.last_modified_time = ctx.now
            incident.last_modified_by = ctx.caller_arn
            return {}

        return self._idempotent("UpdateIncidentRecord", params, arn, run)
