"""A fake Slack Web API (plus ``response_url`` service) served over real HTTP on loopback.

The bot under test is pointed at it with ``SLACK_API_URL=fake.api_url`` (used as
``AsyncWebClient(base_url=...)``), so every Web API call arrives as
``GET|POST {api_url}{method}``, e.g. ``/api/chat.postEphemeral``.

The server runs in its OWN thread with its own asyncio loop, so it can serve an app that
runs on the test's loop, plain synchronous tests and benchmarks alike.  All state is
guarded by one lock; the query helpers can be called from any thread.

Behaviour modelled on Slack (https://docs.slack.dev/reference/methods/...):

* Errors are HTTP 200 with ``{"ok": false, "error": "..."}``; only rate limiting is
  HTTP 429 with a ``Retry-After: <seconds>`` header and ``{"ok": false, "error": "ratelimited"}``.
* Token: ``Authorization: Bearer <token>`` header, or a ``token`` form/query parameter (not
  accepted inside a JSON body, as on Slack).  No token -> ``not_authed``; a wrong one ->
  ``invalid_auth``.  Unknown method -> ``unknown_method`` (checked before the token).
* ``trigger_id``: issued by :meth:`FakeSlack.issue_trigger_id`, valid 3 s, exchangeable ONCE.
  Unknown -> ``invalid_trigger_id``; older than 3 s -> ``expired_trigger_id``; used a second
  time -> ``exchanged_trigger_id`` (Slack's documented error for a reused trigger).
* ``views.*``: the view is validated with ``slack_sdk.models.views.View`` (``validate_json()``
  and the nested block validation of ``to_dict()``) plus Slack's own required fields
  (``type``, ``blocks``, a modal's ``title``, ``submit`` when a modal has input blocks).  A
  refused view -> ``invalid_arguments`` with ``response_metadata.messages`` in Slack's
  ``"[ERROR] ... [json-pointer:/view/...]"`` style.  Blocks without ``block_id`` get one, as
  Slack does.
* ``response_url`` (``POST`` JSON, or a form ``payload=``): HTTP 200 body ``ok`` on success; it
  accepts 5 responses within 30 minutes.  The 6th -> HTTP 404 body ``used_url``; after 30 min
  -> HTTP 404 body ``expired_url``; a URL the fake never issued -> HTTP 404 body ``no_service``;
  a body that is not JSON -> HTTP 400 ``invalid_payload``; no ``text``/``blocks``/
  ``attachments`` (and not ``delete_original``) -> HTTP 400 ``no_text``.  (The 5-in-30-min limit is
  documented by Slack; the exact 404 body strings are what Slack answers in practice and are not
  spelled out in its docs.)
* Private channels the bot is not in look like ``channel_not_found``; public ones answer
  ``not_in_channel`` for posting and history.  Archived channels -> ``is_archived`` on post.

Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode/,
https://docs.slack.dev/reference/methods/apps.connections.open):

* ``apps.connections.open`` takes ONLY the app-level token (``app_token``, ``xapp-...``) and only in
  the ``Authorization`` header (Slack: "passing it as a POST parameter will result in an error";
  the fake answers that with ``not_authed``).  The bot token there -> ``not_allowed_token_type``;
  any other token -> ``invalid_auth``; not a POST -> ``insecure_request``.  Success ->
  ``{"ok": true, "url": "ws://127.0.0.1:PORT/socket-mode/<ticket>"}``.  Slack only says the URL is
  temporary; here a ticket opens ONE connection (a reused or unknown one is refused with HTTP 401
  before the upgrade: the fake's choice), which slack_sdk's client copes with because every
  reconnect calls ``apps.connections.open`` again.  The app-level token used on any other method
  -> ``not_allowed_token_type``.
* On connect the server sends ``{"type": "hello", "num_connections": N, "debug_info": {...},
  "connection_info": {"app_id": "A0001"}}``, keeps the connection open and answers WebSocket
  pings with pongs carrying the same data (RFC 6455; slack_sdk's client measures liveness with
  ``sdk-ping-pong:<time>`` pings).
* :meth:`FakeSlack.send_envelope` sends ``{"envelope_id": <uuid>, "payload": ..., "type":
  "events_api" | "slash_commands" | "interactive", "accepts_response_payload": ...}`` (plus
  ``retry_attempt``/``retry_reason`` on ``events_api`` envelopes, as Slack does) to the newest open
  connection (``accepts_response_payload`` defaults to Slack's: false for ``events_api``, true
  otherwise); the app's ack ``{"envelope_id": ..., "payload": ...}`` is recorded with its latency
  (:meth:`FakeSlack.wait_for_ack`, :meth:`FakeSlack.envelope`).  Neither the 3-second ack deadline
  nor the redelivery of unacked envelopes is enforced; the 10-connection limit is not modelled.
* :meth:`FakeSlack.send_disconnect` sends ``{"type": "disconnect", "reason": ..., "debug_info":
  {...}}`` (``refresh_requested``, ``warning``, ``link_disabled``); :meth:`FakeSlack.reset` and
  :meth:`FakeSlack.stop` close every connection with a normal close (code 1000).

Seeded by default (``seed_defaults=True``): team ``T0001`` "Acme"; bot user ``UBOT`` /
bot ``BBOT`` / app ``A0001``; user ``U0001`` "alice"; public channel ``C0001`` ``#inc-db`` with
the bot as a member.  These match the defaults of ``tests.support.slack_requests``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSCloseCode, WSMsgType, web
from slack_sdk.models.views import View

JSONDict = dict[str, Any]

DEFAULT_BOT_TOKEN = "xoxb-test-token"
DEFAULT_APP_TOKEN = "xapp-test-token"
TEAM_ID = "T0001"
TEAM_NAME = "Acme"
TEAM_DOMAIN = "acme"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0001"
WORKSPACE_URL = "https://fake.slack.com/"

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
VIEW_MAX_BYTES = 250 * 1024
VIEW_STACK_LIMIT = 3

SOCKET_MODE_PATH = "/socket-mode/"
SOCKET_ENVELOPE_TYPES = frozenset({"events_api", "slash_commands", "interactive"})
SOCKET_DISCONNECT_REASONS = frozenset({"refresh_requested", "warning", "link_disabled"})
# What a real hello reported (slack-go's captured fixture): Slack refreshes after about 5 hours.
SOCKET_APPROXIMATE_CONNECTION_TIME = 18060
SOCKET_CLOSE_TIMEOUT = 2.0  # how long a server-side close waits for the app's close frame
SOCKET_SEND_TIMEOUT = 5.0


@dataclass
class RecordedCall:
    """One Web API call as the fake received it (recorded once it has been answered)."""

    method: str
    params: JSONDict
    headers: dict[str, str]
    time: float
    http_method: str = "POST"
    status: int = 200
    response: JSONDict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        err = self.response.get("error")
        return err if isinstance(err, str) else None


@dataclass
class RecordedResponse:
    """One POST to a response_url, accepted or refused."""

    url: str
    payload: Any
    status: int
    answer: str
    time: float

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class RecordedEnvelope:
    """One Socket Mode envelope the fake sent, and the app's ack once it came."""

    envelope_id: str
    type: str
    message: JSONDict
    """The envelope exactly as it was sent."""
    connection_id: str
    sent_at: float
    ack: JSONDict | None = None
    """The first message the app sent back with this ``envelope_id``."""
    acked_at: float | None = None
    extra_acks: list[JSONDict] = field(default_factory=list)
    """Any further messages with the same ``envelope_id`` (Slack ignores them)."""

    @property
    def payload(self) -> JSONDict:
        payload = self.message.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def accepts_response_payload(self) -> bool:
        return bool(self.message.get("accepts_response_payload"))

    @property
    def acked(self) -> bool:
        return self.ack is not None

    @property
    def ack_seconds(self) -> float | None:
        """Seconds from sending the envelope to receiving its ack (Slack allows 3)."""
        return None if self.acked_at is None else self.acked_at - self.sent_at


@dataclass
class _SocketConnection:
    id: str
    ws: web.WebSocketResponse
    opened_at: float
    hello_sent: asyncio.Event  # nothing may overtake the hello
    pings: int = 0

    async def send(self, data: str) -> None:
        await self.hello_sent.wait()
        await self.ws.send_str(data)


@dataclass
class _Fault:
    kind: str  # "error" | "ratelimit" | "http"
    remaining: int
    error: str = ""
    retry_after: int = 1
    status: int = 200


# Marks a fault answered as plain text rather than Slack's JSON.
_RAW_TEXT = "__raw_text__"


@dataclass
class _Trigger:
    issued_at: float
    user_id: str
    view_id: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    created_at: float
    uses: int = 0


@dataclass
class _Channel:
    info: JSONDict
    members: set[str] | None
    messages: list[JSONDict] = field(default_factory=list)


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _ts_key(ts: Any) -> Decimal:
    try:
        return Decimal(str(ts))
    except (InvalidOperation, ValueError):
        return Decimal(-1)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in {"1", "true", "yes"}


def _json_param(value: Any) -> Any:
    """Form-encoded calls carry ``blocks``/``view``/... as JSON strings; JSON calls as objects."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_reply(msg: JSONDict) -> bool:
    thread_ts = msg.get("thread_ts")
    return thread_ts is not None and thread_ts != msg.get("ts")


class FakeSlack:
    """Fake Slack Web API.  Use as ``with FakeSlack() as fake: ...`` or ``start()``/``stop()``."""

    def __init__(
        self,
        bot_token: str = DEFAULT_BOT_TOKEN,
        *,
        app_token: str = DEFAULT_APP_TOKEN,
        seed_defaults: bool = True,
        trigger_ttl: float = TRIGGER_TTL_SECONDS,
        response_url_ttl: float = RESPONSE_URL_TTL_SECONDS,
        response_url_max_uses: int = RESPONSE_URL_MAX_USES,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.trigger_ttl = trigger_ttl
        self.response_url_ttl = response_url_ttl
        self.response_url_max_uses = response_url_max_uses

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._calls: list[RecordedCall] = []
        self._response_log: list[RecordedResponse] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._latency_default = 0.0
        self._latency: dict[str, float] = {}
        self._users: dict[str, JSONDict] = {}
        self._channels: dict[str, _Channel] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self.views: dict[str, JSONDict] = {}
        """Views opened/pushed/updated through the fake, by view id (latest version)."""
        self._last_ts_micros = 0
        self._id_counter = 0

        # Socket Mode
        self._socket_tickets: set[str] = set()
        self._sockets: dict[str, _SocketConnection] = {}
        self._sockets_opened = 0
        self._envelopes: dict[str, RecordedEnvelope] = {}
        self._socket_received: list[Any] = []
        self._background: set[asyncio.Task[Any]] = set()

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self._methods: dict[str, Callable[[JSONDict], JSONDict]] = {
            "api.test": self._api_test,
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "reactions.add": self._reactions_add,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "usergroups.users.list": self._usergroups_users_list,
        }

        self.seed_defaults = seed_defaults
        if seed_defaults:
            self._seed_defaults()

    def _seed_defaults(self) -> None:
        self.add_user(
            BOT_USER_ID, display_name="", real_name="Incident Bot", is_bot=True, name="incident-bot"
        )
        self.add_user("U0001", display_name="alice", real_name="Alice Archer")
        self.add_channel("C0001", "inc-db")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # pragma: no cover - surfaced to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeSlack did not start within 10 s")
        if failure:
            self._thread = None
            raise RuntimeError("FakeSlack failed to start") from failure[0]
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response_url)
        app.router.add_get(SOCKET_MODE_PATH + "{ticket}", self._handle_socket)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    def stop(self) -> None:
        thread, loop, runner = self._thread, self._loop, self._runner
        if thread is None or loop is None:
            return
        self._close_sockets()
        if runner is not None:
            fut = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            with contextlib.suppress(Exception):  # best-effort shutdown
                fut.result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._thread = self._loop = self._runner = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/`` (trailing slash), for ``AsyncWebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ seeding

    def add_user(
        self,
        user_id: str,
        display_name: str = "",
        real_name: str = "",
        is_bot: bool = False,
        *,
        name: str | None = None,
        email: str | None = None,
        deleted: bool = False,
        tz: str = "Europe/London",
    ) -> JSONDict:
        """Seed a user answered by ``users.info``.  ``display_name`` may be "" as on Slack."""
        handle = name or (display_name or real_name or user_id).lower().replace(" ", ".")
        parts = real_name.split(" ", 1)
        profile: JSONDict = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_emoji_display_info": [],
            "status_expiration": 0,
            "avatar_hash": "g" + user_id.lower()[:11],
            "first_name": parts[0] if real_name else "",
            "last_name": parts[1] if len(parts) > 1 else "",
            "image_24": f"https://fake.slack-edge.com/{user_id}_24.png",
            "image_48": f"https://fake.slack-edge.com/{user_id}_48.png",
            "image_72": f"https://fake.slack-edge.com/{user_id}_72.png",
            "team": TEAM_ID,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = BOT_ID if user_id == BOT_USER_ID else "B" + user_id[1:]
            profile["api_app_id"] = APP_ID if user_id == BOT_USER_ID else ""
            profile["always_active"] = False
        user: JSONDict = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": handle,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "is_email_confirmed": not is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_archived: bool = False,
        is_member: bool = True,
        members: list[str] | None = None,
        topic: str = "",
        purpose: str = "",
    ) -> JSONDict:
        """Seed a conversation.  ``members=None`` means everybody counts as a member."""
        now = int(time.time())
        info: JSONDict = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": now,
            "is_archived": is_archived,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": TEAM_ID,
            "updated": now * 1000,
            "parent_conversation": None,
            "creator": "U0001",
            "is_ext_shared": False,
            "shared_team_ids": [TEAM_ID],
            "pending_connected_team_ids": [],
            "is_member": is_member,
            "last_read": "0000000000.000000",
            "topic": {"value": topic, "creator": "", "last_set": 0},
            "purpose": {"value": purpose, "creator": "", "last_set": 0},
            "previous_names": [],
        }
        member_set = None if members is None else set(members)
        if member_set is not None and is_member:
            member_set.add(BOT_USER_ID)
        with self._lock:
            existing = self._channels.get(channel_id)
            msgs = existing.messages if existing else []
            self._channels[channel_id] = _Channel(info=info, members=member_set, messages=msgs)
        return copy.deepcopy(info)

    def add_message(self, channel: str, message: JSONDict) -> str:
        """Seed a message (top level, or a thread reply when it has a ``thread_ts`` != its ts).

        Missing ``type``/``ts`` are filled in; an unknown channel is created (public, bot member).
        Returns the message ts.
        """
        with self._lock:
            if channel not in self._channels:
                self.add_channel(channel, channel.lower())
            msg = copy.deepcopy(message)
            msg.setdefault("type", "message")
            if "ts" not in msg:
                msg["ts"] = self._next_ts()
            msg.setdefault("team", TEAM_ID)
            self._store_message(self._channels[channel], msg)
            return str(msg["ts"])

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        with self._lock:
            self._usergroups[usergroup_id] = list(user_ids)

    def messages(self, channel: str) -> list[JSONDict]:
        """All stored messages of a channel (seeded and posted), oldest first, replies included."""
        with self._lock:
            chan = self._channels.get(channel)
            if chan is None:
                return []
            return copy.deepcopy(sorted(chan.messages, key=lambda m: _ts_key(m.get("ts"))))

    def user(self, user_id: str) -> JSONDict | None:
        with self._lock:
            u = self._users.get(user_id)
            return copy.deepcopy(u) if u else None

    # ------------------------------------------------------------------ triggers & response urls

    def issue_trigger_id(self, user_id: str = "U0001", *, view_id: str | None = None) -> str:
        """A trigger_id as Slack hands out with an interaction: valid ``trigger_ttl`` s, one view.

        ``view_id`` ties it to an open modal (as a trigger from a modal's button would be), which
        ``views.push`` pushes onto.
        """
        tid = (
            f"{secrets.randbelow(10**10) + 10**10}.{secrets.randbelow(10**9) + 10**9}.{secrets.token_hex(16)}"
        )
        with self._lock:
            self._triggers[tid] = _Trigger(issued_at=time.monotonic(), user_id=user_id, view_id=view_id)
        return tid

    def expire_trigger_id(self, trigger_id: str) -> None:
        with self._lock:
            trig = self._triggers.get(trigger_id)
            if trig is not None:
                trig.issued_at -= self.trigger_ttl + 1

    def new_response_url(self) -> str:
        """A response_url served by this fake: 5 POSTs within 30 minutes are accepted."""
        key = secrets.token_urlsafe(18)
        with self._lock:
            self._response_urls[key] = _ResponseUrl(created_at=time.monotonic())
        return f"{self.base_url}/response/{key}"

    def expire_response_url(self, url: str) -> None:
        with self._lock:
            entry = self._response_urls.get(url.rstrip("/").rsplit("/", 1)[-1])
            if entry is not None:
                entry.created_at -= self.response_url_ttl + 1

    # ------------------------------------------------------------------ Socket Mode

    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        with self._lock:
            return len(self._sockets)

    def socket_connections_opened(self) -> int:
        """How many Socket Mode connections were opened since start (or the last ``reset()``)."""
        with self._lock:
            return self._sockets_opened

    def socket_pings(self) -> int:
        """How many WebSocket pings the fake answered on the connections open now."""
        with self._lock:
            return sum(conn.pings for conn in self._sockets.values())

    def socket_messages(self) -> list[Any]:
        """Every text frame the app sent over Socket Mode, in order (JSON decoded when it parses)."""
        with self._lock:
            return copy.deepcopy(self._socket_received)

    def wait_for_socket_connection(self, timeout: float = 5.0, count: int = 1) -> int:
        """Block until at least ``count`` connections are open; return how many are.  AssertionError
        (naming the ``apps.connections.open`` calls and their answers) on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._sockets) >= count, timeout)
            if len(self._sockets) >= count:
                return len(self._sockets)
            raise AssertionError(self._socket_failure(count, timeout))

    async def await_socket_connection(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        count: int = 1,
    ) -> int:
        """Like :meth:`wait_for_socket_connection` but polls without blocking the running loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self._sockets) >= count:
                    return len(self._sockets)
                if time.monotonic() >= deadline:
                    raise AssertionError(self._socket_failure(count, timeout))
            await asyncio.sleep(0.01)

    def send_envelope(
        self,
        type: str,
        payload: JSONDict,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send an envelope to the newest open connection, as Slack delivers a payload; return its
        ``envelope_id``.  Callable from any thread but the fake's own (the send runs on the fake's
        loop and this waits until it was written).  ``accepts_response_payload`` defaults to what
        Slack sends: ``false`` for ``events_api``, ``true`` otherwise.  ``retry_attempt`` and
        ``retry_reason`` are sent on ``events_api`` envelopes (and on others only if set)."""
        if type not in SOCKET_ENVELOPE_TYPES:
            raise ValueError(f"Socket Mode envelope type must be one of {sorted(SOCKET_ENVELOPE_TYPES)}")
        if accepts_response_payload is None:
            accepts_response_payload = type != "events_api"
        envelope_id = str(uuid.uuid4())
        message: JSONDict = {
            "envelope_id": envelope_id,
            "payload": copy.deepcopy(payload),
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api" or retry_attempt or retry_reason:
            message["retry_attempt"] = retry_attempt
            message["retry_reason"] = retry_reason
        with self._cond:
            conn = self._newest_socket_locked()
            if conn is None:
                raise AssertionError(
                    f"no Socket Mode connection is open to send a {type} envelope to.\n"
                    + self._socket_failure(1, 0.0)
                )
            self._envelopes[envelope_id] = RecordedEnvelope(
                envelope_id=envelope_id,
                type=type,
                message=copy.deepcopy(message),
                connection_id=conn.id,
                sent_at=time.time(),
            )
        self._run_on_loop(conn.send(json.dumps(message)), f"sending envelope {envelope_id}")
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested") -> int:
        """Send Slack's ``disconnect`` message (``refresh_requested``, ``warning`` or ``link_disabled``)
        to every open connection; return how many got it.  The connection stays open: the app is
        expected to open a new one (slack_sdk's client does, and then closes the old one)."""
        if reason not in SOCKET_DISCONNECT_REASONS:
            raise ValueError(f"disconnect reason must be one of {sorted(SOCKET_DISCONNECT_REASONS)}")
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": self._host()}})
        with self._lock:
            conns = list(self._sockets.values())

        async def send_all() -> None:
            await asyncio.gather(*(conn.send(message) for conn in conns))

        if conns:
            self._run_on_loop(send_all(), f"sending disconnect ({reason})")
        return len(conns)

    def close_socket_connections(self) -> None:
        """Close every open connection with a normal close (code 1000), as a dropped link looks to
        the app; waits (bounded) for the closes to finish."""
        self._close_sockets()

    def envelopes(self) -> list[RecordedEnvelope]:
        """Every envelope sent since start (or the last ``reset()``), with its ack if it came."""
        with self._lock:
            return [copy.deepcopy(env) for env in self._envelopes.values()]

    def envelope(self, envelope_id: str) -> RecordedEnvelope:
        with self._lock:
            if envelope_id not in self._envelopes:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
            return copy.deepcopy(self._envelopes[envelope_id])

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSONDict:
        """Block until the app acked ``envelope_id``; return the ack message it sent
        (``{"envelope_id": ..., "payload": {...}}``, ``payload`` only if the app gave one).
        AssertionError (with everything the app sent) on timeout."""
        with self._cond:
            if envelope_id not in self._envelopes:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
            self._cond.wait_for(lambda: self._envelopes[envelope_id].ack is not None, timeout)
            ack = self._envelopes[envelope_id].ack
            if ack is not None:
                return copy.deepcopy(ack)
            raise AssertionError(self._ack_failure(envelope_id, timeout))

    async def await_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> JSONDict:
        """Like :meth:`wait_for_ack` but polls without blocking the running event loop (use it when
        the app under test runs on the same loop as the test)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if envelope_id not in self._envelopes:
                    raise KeyError(f"no envelope {envelope_id!r} was sent")
                ack = self._envelopes[envelope_id].ack
                if ack is not None:
                    return copy.deepcopy(ack)
                if time.monotonic() >= deadline:
                    raise AssertionError(self._ack_failure(envelope_id, timeout))
            await asyncio.sleep(0.01)

    def _newest_socket_locked(self) -> _SocketConnection | None:
        open_conns = [conn for conn in self._sockets.values() if not conn.ws.closed]
        return max(open_conns, key=lambda conn: conn.opened_at, default=None)

    def _host(self) -> str:
        return f"applink-fake-{self._port}"

    def _run_on_loop(self, coro: Any, what: str) -> None:
        """Run ``coro`` on the fake's loop: wait (bounded) from another thread; just schedule it
        when called on the fake's own thread (waiting there would deadlock)."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeSlack is not started")
        if threading.current_thread() is self._thread:
            task = loop.create_task(coro)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            future.result(timeout=SOCKET_SEND_TIMEOUT)
        except Exception as exc:
            future.cancel()
            raise AssertionError(f"FakeSlack failed {what}: {exc!r}") from exc

    def _close_sockets(self) -> None:
        with self._lock:
            conns = list(self._sockets.values())
        loop = self._loop
        if not conns or loop is None:
            return

        async def close_all() -> None:
            await asyncio.gather(
                *(conn.ws.close(code=WSCloseCode.OK, message=b"closed by FakeSlack") for conn in conns),
                return_exceptions=True,
            )

        if threading.current_thread() is self._thread:
            self._run_on_loop(close_all(), "closing Socket Mode connections")
            return
        future = asyncio.run_coroutine_threadsafe(close_all(), loop)
        with contextlib.suppress(Exception):  # bounded: each close waits SOCKET_CLOSE_TIMEOUT at most
            future.result(timeout=SOCKET_CLOSE_TIMEOUT + 3)
        # The handlers drop their connection right after the close; wait for that, bounded.
        closed_ids = {conn.id for conn in conns}
        with self._cond:
            self._cond.wait_for(lambda: not closed_ids & self._sockets.keys(), SOCKET_CLOSE_TIMEOUT)

    def _socket_failure(self, count: int, timeout: float) -> str:
        lines = [
            f"expected {count} open Socket Mode connection(s) within {timeout}s, "
            f"{len(self._sockets)} open ({self._sockets_opened} opened in all)."
        ]
        opens = self._calls_to_locked("apps.connections.open")
        lines.append(f"{len(opens)} call(s) to apps.connections.open:")
        for c in opens:
            lines.append(
                f"  {c.http_method} auth={_short(c.headers.get('Authorization', ''))} -> {_short(c.response)}"
            )
        if not opens:
            lines.append("  (none: is SLACK_API_URL pointing at this fake, and the app in Socket Mode?)")
        return "\n".join(lines)

    def _ack_failure(self, envelope_id: str, timeout: float) -> str:
        env = self._envelopes[envelope_id]
        lines = [
            f"expected an ack of {env.type} envelope {envelope_id} within {timeout}s; none came.",
            f"Sent on connection {env.connection_id} "
            f"({'still open' if env.connection_id in self._sockets else 'since closed'}); "
            f"{len(self._sockets)} connection(s) open.",
            f"All {len(self._socket_received)} message(s) the app sent over Socket Mode:",
        ]
        lines.extend(f"  {_short(m)}" for m in self._socket_received)
        if not self._socket_received:
            lines.append("  (none)")
        return "\n".join(lines)

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        with self._lock:
            self._faults.setdefault(method, deque()).append(_Fault("error", times, error=error))

    def rate_limit_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429, ``Retry-After: retry_after``."""
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault("ratelimit", times, error="ratelimited", retry_after=retry_after)
            )

    def fail_next_http(
        self, method: str, status: int = 503, body: str = "upstream connect error", times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` answer HTTP ``status`` with a plain-text, non-JSON body, as
        Slack's edge or a proxy in front of it does during an outage."""
        with self._lock:
            self._faults.setdefault(method, deque()).append(_Fault("http", times, error=body, status=status))

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay answers by ``seconds`` (all Web API methods, or one; ``"response_url"`` too)."""
        with self._lock:
            if method is None:
                self._latency_default = seconds
            else:
                self._latency[method] = seconds

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def responses(self, url: str) -> list[Any]:
        """Payloads accepted by one response_url, in order."""
        with self._lock:
            return [copy.deepcopy(r.payload) for r in self._response_log if r.url == url and r.accepted]

    def all_responses(self) -> list[Any]:
        """Payloads accepted by any response_url, in order."""
        with self._lock:
            return [copy.deepcopy(r.payload) for r in self._response_log if r.accepted]

    @property
    def response_log(self) -> list[RecordedResponse]:
        """Every POST to a response_url, refused ones included."""
        with self._lock:
            return list(self._response_log)

    def reset(self) -> None:
        """Back to the state of a fresh ``FakeSlack``: recorded calls and responses, faults, latency,
        users, channels and their messages, usergroups, views, trigger_ids and response_urls are
        all forgotten, then the defaults are seeded again (if ``seed_defaults``).  Open Socket Mode
        connections are closed (normal close, code 1000) and tickets, envelopes and acks are
        forgotten.  The server, its port, ``bot_token`` and ``app_token`` stay, so one session-wide
        instance can be reset per test."""
        self._close_sockets()
        with self._lock:
            self._socket_tickets.clear()
            self._sockets_opened = len(self._sockets)  # 0 unless an app reconnected meanwhile
            self._envelopes.clear()
            self._socket_received.clear()
            self._calls.clear()
            self._response_log.clear()
            self._faults.clear()
            self._latency.clear()
            self._latency_default = 0.0
            self._users.clear()
            self._channels.clear()
            self._usergroups.clear()
            self._triggers.clear()
            self._response_urls.clear()
            self.views.clear()
            if self.seed_defaults:
                self._seed_defaults()

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        """Block until ``count`` calls of ``method`` were answered; AssertionError on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._calls_to_locked(method)) >= count, timeout)
            got = self._calls_to_locked(method)
            if len(got) >= count:
                return got
            raise AssertionError(self._calls_failure(method, count, timeout))

    async def await_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedCall]:
        """Like :meth:`wait_for_calls` but polls without blocking the running event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = self._calls_to_locked(method)
                if len(got) >= count:
                    return got
                if time.monotonic() >= deadline:
                    raise AssertionError(self._calls_failure(method, count, timeout))
            await asyncio.sleep(0.01)

    def wait_for_responses(self, url: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        """Block until ``url`` accepted ``count`` responses; AssertionError on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.responses(url)) >= count, timeout)
            got = self.responses(url)
            if len(got) >= count:
                return got
            raise AssertionError(self._responses_failure(url, count, timeout))

    async def await_responses(
        self,
        url: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Any]:
        """Like :meth:`wait_for_responses` but polls without blocking the running event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = self.responses(url)
                if len(got) >= count:
                    return got
                if time.monotonic() >= deadline:
                    raise AssertionError(self._responses_failure(url, count, timeout))
            await asyncio.sleep(0.01)

    def _calls_to_locked(self, method: str) -> list[RecordedCall]:
        return [c for c in self._calls if c.method == method]

    def _calls_failure(self, method: str, count: int, timeout: float) -> str:
        got = self._calls_to_locked(method)
        lines = [f"expected {count} call(s) to {method} within {timeout}s, got {len(got)}."]
        lines.append(f"All {len(self._calls)} recorded call(s):")
        for c in self._calls:
            lines.append(f"  {c.method} {_short(c.params)} -> {c.status} {_short(c.response)}")
        return "\n".join(lines)

    def _responses_failure(self, url: str, count: int, timeout: float) -> str:
        got = self.responses(url)
        lines = [f"expected {count} response(s) to {url} within {timeout}s, got {len(got)}."]
        lines.append(f"All {len(self._response_log)} POST(s) to response URLs:")
        for r in self._response_log:
            lines.append(f"  {r.url} {_short(r.payload)} -> {r.status} {r.answer}")
        if not self._response_log:
            lines.append("  (none)")
        lines.append(f"Web API calls: {[c.method for c in self._calls]}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = time.time()
        method = request.match_info["method"]
        params: JSONDict = dict(request.query)
        body_token: str | None = params.get("token")
        parse_error: str | None = None
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "multipart/form-data":
                form_data = await request.post()
                multipart = {k: v for k, v in form_data.items() if isinstance(v, str)}
                params.update(multipart)
                body_token = multipart.get("token", body_token)
            else:
                raw = await request.read()
                if ctype == "application/json":
                    try:
                        data = json.loads(raw or b"{}")
                        if not isinstance(data, dict):
                            raise ValueError("not an object")
                        params.update(data)
                        params.pop("token", None)  # Slack ignores a token inside a JSON body
                    except ValueError:
                        parse_error = "invalid_json"
                elif ctype in ("application/x-www-form-urlencoded", "text/plain", "application/octet-stream"):
                    form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
                    params.update(form)
                    body_token = form.get("token", body_token)
                else:
                    parse_error = "invalid_post_type"
        auth = request.headers.get("Authorization", "")
        header_token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        token = header_token or body_token

        delay = self._latency_for(method)
        if delay > 0:
            await asyncio.sleep(delay)

        with self._cond:
            status, payload, headers = self._dispatch(
                method, params, token, parse_error, header_token=header_token, http_method=request.method
            )
            self._calls.append(
                RecordedCall(
                    method=method,
                    params=copy.deepcopy(params),
                    headers=dict(request.headers),
                    time=arrived,
                    http_method=request.method,
                    status=status,
                    response=copy.deepcopy(payload),
                )
            )
            self._cond.notify_all()
        if _RAW_TEXT in payload:
            return web.Response(status=status, text=str(payload[_RAW_TEXT]), content_type="text/plain")
        return web.json_response(payload, status=status, headers=headers)

    def _latency_for(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency_default)

    def _dispatch(
        self,
        method: str,
        params: JSONDict,
        token: str | None,
        parse_error: str | None,
        *,
        header_token: str | None = None,
        http_method: str = "POST",
    ) -> tuple[int, JSONDict, dict[str, str]]:
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if parse_error:
            return 200, {"ok": False, "error": parse_error}, {}
        if method == "apps.connections.open":
            refusal = self._app_token_refusal(header_token, http_method)
            if refusal:
                return 200, {"ok": False, "error": refusal}, {}
        elif method != "api.test":
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, {}
            if token != self.bot_token:
                wrong_type = token == self.app_token
                return (
                    200,
                    {"ok": False, "error": "not_allowed_token_type" if wrong_type else "invalid_auth"},
                    {},
                )
        queue = self._faults.get(method)
        if queue:
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            if fault.kind == "ratelimit":
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)}
            if fault.kind == "http":
                return fault.status, {_RAW_TEXT: fault.error}, {}
            return 200, {"ok": False, "error": fault.error}, {}
        try:
            result = handler(params)
        except _ApiError as err:
            return 200, {"ok": False, "error": err.error, **err.extra}, {}
        return 200, {"ok": True, **result}, {}

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        url = f"{self.base_url}/response/{key}"
        raw = await request.text()
        payload: Any = None
        valid = True
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                payload = json.loads(dict(parse_qsl(raw)).get("payload", ""))
            else:
                payload = json.loads(raw)
            if not isinstance(payload, dict):
                valid = False
        except ValueError:
            payload, valid = raw, False

        delay = self._latency_for("response_url")
        if delay > 0:
            await asyncio.sleep(delay)

        with self._cond:
            entry = self._response_urls.get(key)
            if entry is None:
                status, answer = 404, "no_service"
            elif time.monotonic() - entry.created_at > self.response_url_ttl:
                status, answer = 404, "expired_url"
            elif entry.uses >= self.response_url_max_uses:
                status, answer = 404, "used_url"
            elif not valid:
                status, answer = 400, "invalid_payload"
            elif not (
                payload.get("text") or payload.get("blocks") or payload.get("attachments")
            ) and not _truthy(payload.get("delete_original")):
                status, answer = 400, "no_text"
            else:
                entry.uses += 1
                status, answer = 200, "ok"
            self._response_log.append(
                RecordedResponse(url=url, payload=payload, status=status, answer=answer, time=time.time())
            )
            self._cond.notify_all()
        return web.Response(status=status, text=answer, content_type="text/html")

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False, timeout=SOCKET_CLOSE_TIMEOUT)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="expected a WebSocket upgrade")
        ticket = request.match_info["ticket"]
        with self._cond:
            known = ticket in self._socket_tickets
            self._socket_tickets.discard(ticket)  # a ticket opens one connection
        if not known:
            return web.Response(status=401, text="invalid_ticket")
        await ws.prepare(request)
        conn = _SocketConnection(
            id=f"sock-{uuid.uuid4().hex[:12]}", ws=ws, opened_at=time.monotonic(), hello_sent=asyncio.Event()
        )
        hello = {
            "type": "hello",
            "num_connections": 1,  # set below, once this connection counts
            "debug_info": {
                "host": self._host(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "build_number": 1,
                "approximate_connection_time": SOCKET_APPROXIMATE_CONNECTION_TIME,
            },
            "connection_info": {"app_id": APP_ID},
        }
        with self._cond:
            self._sockets[conn.id] = conn
            self._sockets_opened += 1
            hello["num_connections"] = len(self._sockets)
            self._cond.notify_all()
        try:
            await ws.send_str(json.dumps(hello))
            conn.hello_sent.set()
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    with self._lock:
                        conn.pings += 1
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    self._record_socket_message(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._record_socket_message(bytes(msg.data).decode("utf-8", "replace"))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            conn.hello_sent.set()  # let pending sends fail on the closed socket instead of waiting
            with self._cond:
                self._sockets.pop(conn.id, None)
                self._cond.notify_all()
        return ws

    def _record_socket_message(self, raw: str) -> None:
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = raw
        with self._cond:
            self._socket_received.append(data)
            if isinstance(data, dict):
                env = self._envelopes.get(str(data.get("envelope_id")))
                if env is not None:
                    if env.ack is None:
                        env.ack, env.acked_at = copy.deepcopy(data), time.time()
                    else:
                        env.extra_acks.append(copy.deepcopy(data))
            self._cond.notify_all()

    # ------------------------------------------------------------------ helpers (lock held)

    def _next_ts(self) -> str:
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        self._id_counter += 1
        return f"{prefix}{self._id_counter:04d}{secrets.token_hex(3).upper()}"

    def _store_message(self, chan: _Channel, msg: JSONDict) -> None:
        chan.messages.append(msg)
        if _is_reply(msg):
            parent = self._find_message(chan, str(msg["thread_ts"]))
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                replies = [m for m in chan.messages if _is_reply(m) and m.get("thread_ts") == parent["ts"]]
                users = list(dict.fromkeys(str(m.get("user", "")) for m in replies if m.get("user")))
                parent["reply_count"] = len(replies)
                parent["reply_users_count"] = len(users)
                parent["reply_users"] = users
                parent["latest_reply"] = max((str(m["ts"]) for m in replies), key=_ts_key)
                msg.setdefault("parent_user_id", parent.get("user"))

    @staticmethod
    def _find_message(chan: _Channel, ts: str) -> JSONDict | None:
        key = _ts_key(ts)
        for m in chan.messages:
            if _ts_key(m.get("ts")) == key:
                return m
        return None

    def _resolve_channel(self, value: Any, *, for_write: bool = False, for_read: bool = False) -> _Channel:
        if not value:
            raise _ApiError("channel_not_found")
        name = str(value)
        chan = self._channels.get(name)
        if chan is None:
            bare = name.lstrip("#")
            chan = next((c for c in self._channels.values() if c.info["name"] == bare), None)
        if chan is None:
            raise _ApiError("channel_not_found")
        if chan.info["is_private"] and not chan.info["is_member"]:
            raise _ApiError("channel_not_found")
        if (for_write or for_read) and not chan.info["is_member"]:
            raise _ApiError("not_in_channel")
        if for_write and chan.info["is_archived"]:
            raise _ApiError("is_archived")
        return chan

    @staticmethod
    def _has_content(params: JSONDict) -> bool:
        return any(params.get(k) for k in ("text", "blocks", "attachments", "markdown_text"))

    @staticmethod
    def _limit(params: JSONDict, default: int) -> int:
        try:
            value = int(params.get("limit") or default)
        except (TypeError, ValueError):
            value = default
        return value if value > 0 else default

    @staticmethod
    def _cursor_offset(params: JSONDict) -> int:
        cursor = params.get("cursor")
        if not cursor:
            return 0
        try:
            decoded = base64.b64decode(str(cursor)).decode()
            if decoded.startswith("offset:"):
                return int(decoded[len("offset:") :])
        except ValueError:
            pass
        raise _ApiError("invalid_cursor")

    @staticmethod
    def _page(items: list[JSONDict], offset: int, limit: int) -> tuple[list[JSONDict], bool, str]:
        page = items[offset : offset + limit]
        has_more = offset + limit < len(items)
        cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if has_more else ""
        return page, has_more, cursor

    @staticmethod
    def _in_range(ts: Any, params: JSONDict) -> bool:
        key = _ts_key(ts)
        inclusive = _truthy(params.get("inclusive"))
        oldest, latest = params.get("oldest"), params.get("latest")
        if oldest not in (None, ""):
            lo = _ts_key(oldest)
            if key < lo or (key == lo and not inclusive):
                return False
        if latest not in (None, ""):
            hi = _ts_key(latest)
            if key > hi or (key == hi and not inclusive):
                return False
        return True

    # ------------------------------------------------------------------ Web API methods (lock held)

    def _api_test(self, params: JSONDict) -> JSONDict:
        args = {k: v for k, v in params.items() if k != "token"}
        return {"args": args} if args else {}

    def _app_token_refusal(self, header_token: str | None, http_method: str) -> str | None:
        """Why ``apps.connections.open`` refuses this token, or None."""
        if http_method != "POST":
            return "insecure_request"
        if not header_token:  # missing, or only given as a POST parameter
            return "not_authed"
        if header_token == self.app_token:
            return None
        if header_token == self.bot_token:
            return "not_allowed_token_type"
        return "invalid_auth"

    def _apps_connections_open(self, params: JSONDict) -> JSONDict:
        ticket = str(uuid.uuid4())
        self._socket_tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}{SOCKET_MODE_PATH}{ticket}"}

    def _auth_test(self, params: JSONDict) -> JSONDict:
        return {
            "url": WORKSPACE_URL,
            "team": TEAM_NAME,
            "user": "incident-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _users_info(self, params: JSONDict) -> JSONDict:
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        chan = self._resolve_channel(params.get("channel"), for_write=True)
        user = params.get("user")
        if not user:
            raise _ApiError("user_not_in_channel")
        if chan.members is not None and user not in chan.members:
            raise _ApiError("user_not_in_channel")
        if not self._has_content(params):
            raise _ApiError("no_text")
        return {"message_ts": self._next_ts()}

    def _chat_post_message(self, params: JSONDict) -> JSONDict:
        chan = self._resolve_channel(params.get("channel"), for_write=True)
        if not self._has_content(params):
            raise _ApiError("no_text")
        msg: JSONDict = {
            "user": BOT_USER_ID,
            "type": "message",
            "ts": self._next_ts(),
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": params.get("text") or "",
            "team": TEAM_ID,
        }
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key):
                msg[key] = _json_param(params[key])
        if params.get("thread_ts"):
            parent = self._find_message(chan, str(params["thread_ts"]))
            if parent is not None and _is_reply(parent):
                parent_ts = str(parent["thread_ts"])
            else:
                parent_ts = str(params["thread_ts"])
            msg["thread_ts"] = parent_ts
            if _truthy(params.get("reply_broadcast")):
                msg["subtype"] = "thread_broadcast"
        self._store_message(chan, msg)
        return {"channel": chan.info["id"], "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _chat_get_permalink(self, params: JSONDict) -> JSONDict:
        chan = self._resolve_channel(params.get("channel"))
        ts = params.get("message_ts")
        msg = self._find_message(chan, str(ts)) if ts else None
        if msg is None:
            raise _ApiError("message_not_found")
        cid = chan.info["id"]
        link = f"https://fake.slack.com/archives/{cid}/p{str(msg['ts']).replace('.', '')}"
        if _is_reply(msg):
            link += f"?thread_ts={msg['thread_ts']}&cid={cid}"
        return {"channel": cid, "permalink": link}

    def _conversations_history(self, params: JSONDict) -> JSONDict:
        chan = self._resolve_channel(params.get("channel"), for_read=True)
        for bound, err in (("latest", "invalid_ts_latest"), ("oldest", "invalid_ts_oldest")):
            if params.get(bound) not in (None, "") and _ts_key(params[bound]) < 0:
                raise _ApiError(err)
        top = [
            m
            for m in chan.messages
            if (not _is_reply(m) or m.get("subtype") == "thread_broadcast")
            and self._in_range(m.get("ts"), params)
        ]
        top.sort(key=lambda m: _ts_key(m.get("ts")), reverse=True)
        page, has_more, cursor = self._page(top, self._cursor_offset(params), self._limit(params, 100))
        out: JSONDict = {
            "messages": copy.deepcopy(page),
            "has_more": has_more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if cursor:
            out["response_metadata"] = {"next_cursor": cursor}
        return out

    def _conversations_replies(self, params: JSONDict) -> JSONDict:
        chan = self._resolve_channel(params.get("channel"), for_read=True)
        ts = params.get("ts")
        msg = self._find_message(chan, str(ts)) if ts else None
        if msg is None:
            raise _ApiError("thread_not_found")
        root_ts = str(msg["thread_ts"]) if _is_reply(msg) else str(msg["ts"])
        thread = [
            m
            for m in chan.messages
            if (_ts_key(m.get("ts")) == _ts_key(root_ts) or (_is_reply(m) and m.get("thread_ts") == root_ts))
            and self._in_range(m.get("ts"), params)
        ]
        thread.sort(key=lambda m: _ts_key(m.get("ts")))
        page, has_more, cursor = self._page(thread, self._cursor_offset(params), self._limit(params, 1000))
        out: JSONDict = {"messages": copy.deepcopy(page), "has_more": has_more}
        if cursor:
            out["response_metadata"] = {"next_cursor": cursor}
        return out

    def _conversations_info(self, params: JSONDict) -> JSONDict:
        chan = self._resolve_channel(params.get("channel"))
        return {"channel": copy.deepcopy(chan.info)}

    def _reactions_add(self, params: JSONDict) -> JSONDict:
        name = str(params.get("name") or "").strip(":")
        if not params.get("channel") or not params.get("timestamp"):
            raise _ApiError("no_item_specified")
        if not name:
            raise _ApiError("invalid_name")
        chan = self._resolve_channel(params.get("channel"))
        msg = self._find_message(chan, str(params["timestamp"]))
        if msg is None:
            raise _ApiError("message_not_found")
        reactions: list[JSONDict] = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if BOT_USER_ID in entry["users"]:
            raise _ApiError("already_reacted")
        entry["users"].append(BOT_USER_ID)
        entry["count"] += 1
        return {}

    def _usergroups_users_list(self, params: JSONDict) -> JSONDict:
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group)}

    # -- views

    def _check_trigger(self, params: JSONDict) -> _Trigger:
        tid = params.get("trigger_id") or params.get("interactivity_pointer")
        if not tid:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        trig = self._triggers.get(str(tid))
        if trig is None:
            raise _ApiError("invalid_trigger_id")
        if trig.used:
            raise _ApiError("exchanged_trigger_id")
        if time.monotonic() - trig.issued_at > self.trigger_ttl:
            raise _ApiError("expired_trigger_id")
        return trig

    def _validated_view(self, params: JSONDict) -> JSONDict:
        raw = params.get("view")
        view = _json_param(raw)
        if not isinstance(view, dict):
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] must provide an object [json-pointer:/view]"]},
            )
        if len(json.dumps(view)) > VIEW_MAX_BYTES:
            raise _ApiError("view_too_large")
        messages = validate_view(view)
        if messages:
            raise _ApiError("invalid_arguments", response_metadata={"messages": messages})
        return copy.deepcopy(view)

    def _materialize_view(
        self,
        view: JSONDict,
        *,
        view_id: str,
        root_view_id: str,
        previous_view_id: str | None,
    ) -> JSONDict:
        blocks = view.get("blocks") or []
        for block in blocks:
            if isinstance(block, dict) and not block.get("block_id"):
                block["block_id"] = secrets.token_urlsafe(4)[:5]
        obj: JSONDict = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "blocks": blocks,
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self.views[view_id] = obj
        return copy.deepcopy(obj)

    def _check_external_id(self, view: JSONDict, own_id: str | None) -> None:
        ext = view.get("external_id")
        if ext and any(v.get("external_id") == ext and vid != own_id for vid, v in self.views.items()):
            raise _ApiError("duplicate_external_id")

    def _views_open(self, params: JSONDict) -> JSONDict:
        trig = self._check_trigger(params)
        view = self._validated_view(params)
        self._check_external_id(view, None)
        trig.used = True
        vid = self._new_id("V")
        return {"view": self._materialize_view(view, view_id=vid, root_view_id=vid, previous_view_id=None)}

    def _views_push(self, params: JSONDict) -> JSONDict:
        trig = self._check_trigger(params)
        view = self._validated_view(params)
        self._check_external_id(view, None)
        previous = self.views.get(trig.view_id) if trig.view_id else None
        if previous is not None:
            depth, cur = 1, previous
            while cur.get("previous_view_id") and cur["previous_view_id"] in self.views:
                depth += 1
                cur = self.views[cur["previous_view_id"]]
            if depth >= VIEW_STACK_LIMIT:
                raise _ApiError("push_limit_reached")
        trig.used = True
        vid = self._new_id("V")
        root = previous["root_view_id"] if previous else vid
        prev_id = previous["id"] if previous else None
        return {
            "view": self._materialize_view(view, view_id=vid, root_view_id=root, previous_view_id=prev_id)
        }

    def _views_update(self, params: JSONDict) -> JSONDict:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view_id or external_id"]},
            )
        current: JSONDict | None = None
        if view_id:
            current = self.views.get(str(view_id))
        else:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise _ApiError("not_found")
        view = self._validated_view(params)
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        self._check_external_id(view, current["id"])
        return {
            "view": self._materialize_view(
                view,
                view_id=current["id"],
                root_view_id=current["root_view_id"],
                previous_view_id=current.get("previous_view_id"),
            )
        }


_POINTERS = {
    "title": "/view/title/text",
    "close": "/view/close/text",
    "submit": "/view/submit/text",
    "private_metadata": "/view/private_metadata",
    "callback_id": "/view/callback_id",
    "type": "/view/type",
    "views must contain": "/view/blocks",
    "home view": "/view",
}


def validate_view(view: JSONDict) -> list[str]:
    """Slack-style validation messages for a view payload ([] when Slack would accept it)."""
    messages: list[str] = []
    for required in ("type", "blocks"):
        if required not in view:
            messages.append(f"[ERROR] missing required field: {required} [json-pointer:/view]")
    if view.get("type") == "modal":
        if not view.get("title"):
            messages.append("[ERROR] missing required field: title [json-pointer:/view]")
        blocks = view.get("blocks") or []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and not view.get("submit"):
            messages.append(
                "[ERROR] must provide submit when input blocks are present [json-pointer:/view/submit]"
            )
    if messages:
        return messages
    try:
        obj = View(**view)
        obj.validate_json()
        obj.to_dict()  # also validates the nested blocks / elements
    except Exception as exc:
        text = str(exc) or type(exc).__name__
        pointer = next((p for k, p in _POINTERS.items() if text.startswith(k)), "/view")
        if "title must be" in text:
            text = "must be less than 25 characters"
        messages.append(f"[ERROR] {text} [json-pointer:{pointer}]")
    return messages


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
