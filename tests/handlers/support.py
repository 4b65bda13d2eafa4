"""The handler tier's in-memory world: each listener is called directly, as Bolt would call it, with a
fake `ack`, a fake Web client and in-memory dependencies. No sockets, no sleeps; what crosses the wire
is the end-to-end tests' business."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import Settings, load_settings
from bot.domain.binding import Binding
from bot.domain.timeline import TimelineEntry
from bot.inflight import InFlight
from bot.listeners.deps import CONTEXT_KEY, Deps
from bot.listeners.middleware import BINDING_KEY, ChannelBinding
from bot.metrics import Metrics
from bot.recent import DeliveredOnce
from bot.store import SqlStore
from bot.usecases.binding import BindingService
from bot.usecases.changes import EntryChanges
from bot.usecases.errors import BindNotAllowed, IncidentManagerError, IncidentNotFound, NotSent
from bot.usecases.outbox import Outbox, Told
from bot.usecases.ports import (
    EventPage,
    EventSummary,
    IncidentPage,
    IncidentSummary,
    OwedChange,
    RelatedItem,
    RelatedItemsPage,
    StoredEntry,
)
from bot.usecases.timeline import TimelineService
from bot.usecases.timeline_events import TimelineReader
from tests.handlers.fake_changes import FakeChanges

TEAM, CHANNEL, BOT_USER = "T0001", "C0001", "UBOT"
ARN_A = "arn:aws:ssm-incidents::111122223333:incident-record/plan/aaaa"
ARN_B = "arn:aws:ssm-incidents::111122223333:incident-record/plan/bbbb"


class FakeAck(AsyncAck):
    """Bolt's `ack` as a listener receives it, recording what each call said."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, text: str | None = None, **kwargs: Any) -> BoltResponse:  # type: ignore[override]
        self.calls.append({"text": text, **kwargs})
        self.response = BoltResponse(status=200, body="")
        return self.response

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


@dataclass
class SentReply:
    channel_id: str
    user_id: str
    response_url: str | None
    text: str
    blocks: list[dict[str, Any]] | None = None
    # In place of the message the person clicked in (a button's), rather than a new reply.
    replaced: bool = False


class RecordingReplies:
    """The `Repliers` port: every reply a handler gives, in order."""

    def __init__(self) -> None:
        self.sent: list[SentReply] = []

    def __call__(self, channel_id: str, user_id: str, response_url: str | None = None) -> RecordingReplies.To:
        return RecordingReplies.To(self, channel_id, user_id, response_url)

    @dataclass
    class To:
        log: RecordingReplies
        channel_id: str
        user_id: str
        response_url: str | None

        async def send(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> bool:
            shown = list(blocks) if blocks is not None else None
            self.log.sent.append(SentReply(self.channel_id, self.user_id, self.response_url, text, shown))
            return True

        async def replace(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> bool:
            shown = list(blocks) if blocks is not None else None
            reply = SentReply(self.channel_id, self.user_id, self.response_url, text, shown, replaced=True)
            self.log.sent.append(reply)
            return True

    @property
    def texts(self) -> list[str]:
        return [reply.text for reply in self.sent]


@dataclass
class FakeWebClient:
    """The few Web API methods the handlers call, answered from memory and recorded."""

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Threads by their parent's ts, parent first: conversations.replies pages through them by `limit`.
    threads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Slack errors the next calls of a method answer with (each once).
    errors: dict[str, list[str]] = field(default_factory=dict)

    def _fail(self, method: str, kwargs: dict[str, Any]) -> None:
        pending = self.errors.get(method)
        if pending:
            error = pending.pop(0)
            body = {"ok": False, "error": error}
            response = AsyncSlackResponse(
                client=None,
                http_verb="POST",
                api_url=method,
                req_args=kwargs,
                data=body,
                headers={},
                status_code=200,
            )
            raise SlackApiError(error, response)  # type: ignore[no-untyped-call]

    def called(self, method: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == method]

    async def views_open(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("views.open", kwargs))
        self._fail("views.open", kwargs)
        return {"ok": True, "view": {"id": f"V{len(self.called('views.open'))}", "hash": "h1"}}

    async def views_update(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("views.update", kwargs))
        self._fail("views.update", kwargs)
        return {"ok": True}

    async def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat.postMessage", kwargs))
        return {"ok": True}

    async def reactions_add(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("reactions.add", kwargs))
        return {"ok": True}

    async def reactions_remove(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("reactions.remove", kwargs))
        return {"ok": True}

    async def chat_getPermalink(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat.getPermalink", kwargs))
        ts = str(kwargs["message_ts"]).replace(".", "")
        return {"ok": True, "permalink": f"https://acme.slack.com/archives/{kwargs['channel']}/p{ts}"}

    async def conversations_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("conversations.history", kwargs))
        found = self.messages.get(str(kwargs["latest"]))
        return {"ok": True, "messages": [found] if found else []}

    async def conversations_replies(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("conversations.replies", kwargs))
        self._fail("conversations.replies", kwargs)
        ts = str(kwargs["ts"])
        thread = next((t for t in self.threads.values() if any(m["ts"] == ts for m in t)), None)
        if thread is None or kwargs.get("latest"):
            return {"ok": True, "messages": []}
        # Pages of `limit`, the cursor an offset; later pages without the parent (readers take either).
        start = int(kwargs.get("cursor") or 0)
        end = start + int(kwargs.get("limit") or 1000)
        more = end < len(thread)
        answer: dict[str, Any] = {"ok": True, "messages": thread[start:end], "has_more": more}
        if more:
            answer["response_metadata"] = {"next_cursor": str(end)}
        return answer


@dataclass
class StoredEvent:
    event_id: str
    event_type: str
    event_time: datetime
    event_data: str
    updated_time: datetime


def _page(items: list[Any], size: int, token: str | None) -> tuple[list[Any], str | None]:
    """A page of `items` and the token of the next (the offset, as text)."""
    start = int(token or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


@dataclass
class MemoryGateway:
    """The IncidentGateway port in memory: incidents by ARN, every event created, the related items."""

    incidents: dict[str, IncidentSummary] = field(default_factory=dict)
    created: list[TimelineEntry] = field(default_factory=list)
    region: str | None = "eu-west-1"
    # While set, every CreateTimelineEvent (and update, delete) fails with it (Incident Manager throttling).
    outage: IncidentManagerError | None = None
    # Events deleted (by eventId), and what each update made an event say (by eventId), in order.
    deleted: list[str] = field(default_factory=list)
    updates: dict[str, list[TimelineEntry]] = field(default_factory=dict)
    # Events besides the ones created (Incident Manager's own, the console's), by incident.
    other_events: dict[str, list[StoredEvent]] = field(default_factory=dict)
    related: dict[str, list[RelatedItem]] = field(default_factory=dict)
    # Every call by operation name, in order, with its arguments.
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Operation name -> the error its next calls raise (each raised once).
    failures: dict[str, list[BaseException]] = field(default_factory=dict)
    page_size: int = 100

    def add_incident(
        self, arn: str, title: str, status: str = "OPEN", impact: int = 2, created: datetime | None = None
    ) -> None:
        self.incidents[arn] = IncidentSummary(arn, title, status, impact, None, created or datetime.now(UTC))

    def add_event(self, arn: str, event_type: str, data: str, at: datetime) -> str:
        event_id = f"other-{len(self.other_events.get(arn, [])) + 1}"
        self.other_events.setdefault(arn, []).append(StoredEvent(event_id, event_type, at, data, at))
        return event_id

    def fail_next(self, operation: str, error: BaseException) -> None:
        self.failures.setdefault(operation, []).append(error)

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == operation]

    def _call(self, operation: str, **kwargs: Any) -> None:
        self.calls.append((operation, kwargs))
        pending = self.failures.get(operation)
        if pending:
            raise pending.pop(0)

    def _events(self, arn: str) -> list[StoredEvent]:
        mine = [
            StoredEvent(
                f"event-{entry.client_token[:12]}",
                entry.event_type.value,
                entry.event_time,
                entry.event_data,
                entry.event_time,
            )
            for entry in self.events_on(arn)
        ]
        return sorted(mine + self.other_events.get(arn, []), key=lambda event: event.event_time, reverse=True)

    async def list_open_incidents(self, next_token: str | None = None) -> IncidentPage:
        self._call("ListIncidentRecords", next_token=next_token)
        open_ones = [incident for incident in self.incidents.values() if not incident.is_resolved]
        page, token = _page(open_ones, self.page_size, next_token)
        return IncidentPage(page, token)

    async def list_timeline_events(self, arn: str, limit: int, next_token: str | None = None) -> EventPage:
        self._call("ListTimelineEvents", arn=arn, limit=limit, next_token=next_token)
        page, token = _page(self._events(arn), limit, next_token)
        summaries = [EventSummary(e.event_id, e.event_type, e.event_time, e.updated_time) for e in page]
        return EventPage(summaries, token)

    async def get_timeline_event_data(self, arn: str, event_id: str) -> str:
        self._call("GetTimelineEvent", arn=arn, event_id=event_id)
        for event in self._events(arn):
            if event.event_id == event_id:
                return event.event_data
        raise IncidentNotFound("no such event", code="ResourceNotFoundException", status=404)

    async def list_related_items(self, arn: str, next_token: str | None = None) -> RelatedItemsPage:
        self._call("ListRelatedItems", arn=arn, next_token=next_token)
        page, token = _page(self.related.get(arn, []), self.page_size, next_token)
        return RelatedItemsPage(page, token)

    async def add_related_link(self, arn: str, url: str, title: str, client_token: str) -> None:
        self._call("UpdateRelatedItems", arn=arn, add=url, title=title, client_token=client_token)
        if arn not in self.incidents:
            raise IncidentNotFound("no such incident", code="ResourceNotFoundException", status=404)
        items = self.related.setdefault(arn, [])
        if any(item.url == url for item in items):
            raise IncidentManagerError("exists", code="ConflictException", status=409)
        items.append(RelatedItem("OTHER", url, title))

    async def remove_related_link(self, arn: str, url: str, client_token: str) -> None:
        self._call("UpdateRelatedItems", arn=arn, remove=url, client_token=client_token)
        items = self.related.get(arn, [])
        if not any(item.url == url for item in items):
            raise IncidentNotFound("no such item", code="ResourceNotFoundException", status=404)
        self.related[arn] = [item for item in items if item.url != url]

    def events_on(self, arn: str) -> list[TimelineEntry]:
        """What each live event on the incident says now (updates applied, deleted ones gone)."""
        shown = []
        for entry in self.created:
            event_id = f"event-{entry.client_token[:12]}"
            if entry.incident_arn != arn or event_id in self.deleted:
                continue
            shown.append(self.updates[event_id][-1] if self.updates.get(event_id) else entry)
        return shown

    async def update_timeline_event(
        self,
        entry: TimelineEntry,
        event_id: str,
        client_token: str,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        if before_send is not None and not await before_send():
            raise NotSent()
        self._call("UpdateTimelineEvent", event_id=event_id, client_token=client_token, entry=entry)
        if self.outage is not None:
            raise self.outage
        known = {f"event-{seen.client_token[:12]}" for seen in self.created}
        if event_id not in known or event_id in self.deleted:
            raise IncidentNotFound("no such event", code="ResourceNotFoundException", status=404)
        self.updates.setdefault(event_id, []).append(entry)

    async def delete_timeline_event(
        self, incident_arn: str, event_id: str, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        if before_send is not None and not await before_send():
            raise NotSent()
        self._call("DeleteTimelineEvent", arn=incident_arn, event_id=event_id)
        if self.outage is not None:
            raise self.outage
        # As AWS: deleting an event that is not there is no error (the model has no ResourceNotFound).
        if event_id not in self.deleted:
            self.deleted.append(event_id)

    async def get_incident(self, arn: str) -> IncidentSummary:
        self._call("GetIncidentRecord", arn=arn)
        if arn not in self.incidents:
            raise IncidentNotFound("no such incident", code="ResourceNotFoundException", status=404)
        return self.incidents[arn]

    async def create_timeline_event(
        self, entry: TimelineEntry, before_send: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        if before_send is not None and not await before_send():
            raise NotSent()
        if self.outage is not None:
            raise self.outage
        if entry.incident_arn not in self.incidents:
            raise IncidentNotFound("no such incident", code="ResourceNotFoundException", status=404)
        known = [i for i, seen in enumerate(self.created) if seen.client_token == entry.client_token]
        if not known:  # AWS's idempotency: one token, one event
            self.created.append(entry)
        return f"event-{entry.client_token[:12]}"

    async def close(self) -> None:
        pass


class NoFollowUps:
    """Handler tests answer the person directly (AWS answers at once); a later outcome is a bug here."""

    def landed_reply(self, stored: StoredEntry, event_id: str) -> str:
        raise AssertionError("no second reply expected")

    def failed_reply(self, stored: StoredEntry, error: BaseException) -> str:
        raise AssertionError("no second reply expected")

    def change_reply(self, stored: StoredEntry, change: OwedChange, error: BaseException | None) -> str:
        raise AssertionError("no second reply expected")

    async def tell(self, notice: str, reply: str, landed: bool) -> Told:
        raise AssertionError("no second reply expected")


@dataclass
class Permission:
    """Everyone may bind, unless `refuse` names them (BindNotAllowed, as the Slack adapter raises)."""

    refuse: set[str] = field(default_factory=set)

    async def check(self, user_id: str) -> None:
        if user_id in self.refuse:
            raise BindNotAllowed(frozenset({"U0009"}), frozenset())


@dataclass
class World:
    deps: Deps
    store: SqlStore
    gateway: MemoryGateway
    replies: RecordingReplies
    client: FakeWebClient
    permission: Permission
    changes: FakeChanges

    @property
    def web(self) -> AsyncWebClient:
        """The fake, typed as the Web client the handlers take."""
        return cast(AsyncWebClient, self.client)

    def context(self, team_id: str = TEAM, channel_id: str = CHANNEL) -> AsyncBoltContext:
        """What the app's middleware puts in Bolt's context for a request from this channel."""
        context = AsyncBoltContext()
        context["team_id"] = team_id
        context["bot_user_id"] = BOT_USER
        context[CONTEXT_KEY] = self.deps
        context[BINDING_KEY] = ChannelBinding(self.store, team_id, channel_id)
        return context

    async def bind(self, arn: str, title: str, channel_id: str = CHANNEL) -> Binding:
        self.gateway.add_incident(arn, title)
        binding = Binding(TEAM, channel_id, arn, title, "U0001", datetime.now(UTC))
        await self.store.put_binding(binding)
        return binding


def settings(**overrides: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-handler-tier",
        "SLACK_SIGNING_SECRET": "handler-tier-secret",
        "AWS_REGION": "eu-west-1",
        "DATABASE_URL": "sqlite://",
        **overrides,
    }
    return load_settings(env)


def world(store: SqlStore | None = None, *, fake_changes: bool = False, **overrides: str) -> World:
    store = store or SqlStore("sqlite://")
    gateway = MemoryGateway()
    replies = RecordingReplies()
    outbox = Outbox(store, gateway, NoFollowUps(), lease=timedelta(seconds=30), max_in_flight=4)

    class Names:
        async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
            return {user: name for user in user_ids if (name := client.users.get(user))}

        def cached_names(self, user_ids: Iterable[str]) -> dict[str, str]:
            return {user: name for user in user_ids if (name := client.users.get(user))}

    client = FakeWebClient(users={"U0001": "alice", "U0002": "bob"})
    names = Names()
    permission = Permission()
    configured = settings(**overrides)
    # The listeners of the lifecycle are tested against a fake of the use case (`fake_changes=True`);
    # everything else runs the real one.
    changes = FakeChanges()
    deps = Deps(
        settings=configured,
        store=store,
        gateway=gateway,
        outbox=outbox,
        metrics=Metrics(),
        timeline=TimelineService(store, outbox, names),
        changes=cast(EntryChanges, changes)
        if fake_changes
        else EntryChanges(
            store,
            outbox,
            names,
            permission,
            undo_window=configured.undo_window,
            others_may_undo=bool(configured.bind_allowed_users or configured.bind_allowed_usergroups),
            deleted_message_action=configured.deleted_message_action,
        ),
        bindings=BindingService(store, gateway, permission),
        reader=TimelineReader(gateway),
        directory=names,
        repliers=replies,
        inflight=InFlight(),
        delivered_events=DeliveredOnce(store, "event"),
        handled_commands=DeliveredOnce(store, "command"),
    )
    return World(
        deps=deps,
        store=store,
        gateway=gateway,
        replies=replies,
        client=client,
        permission=permission,
        changes=changes,
    )
