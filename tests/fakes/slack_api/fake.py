"""``FakeSlack``: the public face, composing workspace state, recorder, fault plan, Web API methods,
Socket Mode and the server."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .common import JSONDict, Settings
from .constants import (
    DEFAULT_APP_TOKEN,
    DEFAULT_BOT_TOKEN,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_SECONDS,
    SOCKET_MODE_PATH,
    TRIGGER_TTL_SECONDS,
)
from .faults import FaultPlan
from .http_api import HttpApi
from .methods import WebApi
from .recorder import Recorder
from .records import RecordedCall, RecordedEnvelope, RecordedResponse
from .server import LoopServer
from .socket_mode import SocketMode
from .views import ViewsApi
from .workspace import Workspace


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
        self._settings = Settings(bot_token, app_token, trigger_ttl, response_url_ttl, response_url_max_uses)
        # One lock (and a condition on it, for the waiters) guards every part's memory.
        self._ws = Workspace(self._settings)
        lock, cond = self._ws.lock, self._ws.cond
        self._recorder = Recorder(lock, cond)
        self._faults = FaultPlan(lock)
        self._server = LoopServer()
        self._socket = SocketMode(lock, cond, self._recorder, self._server)
        methods = {**WebApi(self._ws, self._socket).methods, **ViewsApi(self._ws, self._settings).methods}
        self._http = HttpApi(
            cond, self._settings, self._ws, self._faults, self._recorder, self._server, methods
        )

        self.seed_defaults = seed_defaults
        if seed_defaults:
            self._ws.seed_defaults()

    # ------------------------------------------------------------------ settings (read per request)

    @property
    def bot_token(self) -> str:
        return self._settings.bot_token

    @bot_token.setter
    def bot_token(self, value: str) -> None:
        self._settings.bot_token = value

    @property
    def app_token(self) -> str:
        return self._settings.app_token

    @app_token.setter
    def app_token(self, value: str) -> None:
        self._settings.app_token = value

    @property
    def trigger_ttl(self) -> float:
        return self._settings.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, value: float) -> None:
        self._settings.trigger_ttl = value

    @property
    def response_url_ttl(self) -> float:
        return self._settings.response_url_ttl

    @response_url_ttl.setter
    def response_url_ttl(self, value: float) -> None:
        self._settings.response_url_ttl = value

    @property
    def response_url_max_uses(self) -> int:
        return self._settings.response_url_max_uses

    @response_url_max_uses.setter
    def response_url_max_uses(self, value: int) -> None:
        self._settings.response_url_max_uses = value

    @property
    def views(self) -> dict[str, JSONDict]:
        """Views opened/pushed/updated through the fake, by view id (latest version)."""
        return self._ws.views

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        self._server.start(self._add_routes)
        return self

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._http.handle_api)
        app.router.add_post("/response/{key}", self._http.handle_response_url)
        app.router.add_get(SOCKET_MODE_PATH + "{ticket}", self._socket.handle)

    def stop(self) -> None:
        if not self._server.running:
            return
        self._socket.close_all()
        self._server.stop()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.base_url

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
        return self._ws.add_user(
            user_id, display_name, real_name, is_bot, name=name, email=email, deleted=deleted, tz=tz
        )

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
        return self._ws.add_channel(
            channel_id,
            name,
            is_private=is_private,
            is_archived=is_archived,
            is_member=is_member,
            members=members,
            topic=topic,
            purpose=purpose,
        )

    def add_message(self, channel: str, message: JSONDict) -> str:
        """Seed a message (top level, or a thread reply when it has a ``thread_ts`` != its ts).

        Missing ``type``/``ts`` are filled in; an unknown channel is created (public, bot member).
        Returns the message ts.
        """
        return self._ws.add_message(channel, message)

    def edit_message(self, channel: str, ts: str, text: str) -> JSONDict:
        """Its author edits a stored message; returns the `message_changed` event Slack would deliver."""
        return self._ws.edit_message(channel, ts, text)

    def delete_message(self, channel: str, ts: str) -> JSONDict:
        """Delete a stored message; returns the event Slack would deliver (`message_deleted`, or for a
        thread parent with replies a `message_changed` to a tombstone)."""
        return self._ws.delete_message(channel, ts)

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        self._ws.add_usergroup(usergroup_id, user_ids)

    def messages(self, channel: str) -> list[JSONDict]:
        """All stored messages of a channel (seeded and posted), oldest first, replies included."""
        return self._ws.messages(channel)

    def user(self, user_id: str) -> JSONDict | None:
        return self._ws.user(user_id)

    # ------------------------------------------------------------------ triggers & response urls

    def issue_trigger_id(self, user_id: str = "U0001", *, view_id: str | None = None) -> str:
        """A trigger_id as Slack hands out with an interaction: valid ``trigger_ttl`` s, one view.

        ``view_id`` ties it to an open modal (as a trigger from a modal's button would be), which
        ``views.push`` pushes onto.
        """
        return self._ws.issue_trigger_id(user_id, view_id=view_id)

    def expire_trigger_id(self, trigger_id: str) -> None:
        self._ws.expire_trigger_id(trigger_id)

    def new_response_url(self) -> str:
        """A response_url served by this fake: 5 POSTs within 30 minutes are accepted."""
        return f"{self.base_url}/response/{self._ws.new_response_url_key()}"

    def expire_response_url(self, url: str) -> None:
        self._ws.expire_response_url(url)

    # ------------------------------------------------------------------ Socket Mode

    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        return self._socket.connections()

    def socket_connections_opened(self) -> int:
        """How many Socket Mode connections were opened since start (or the last ``reset()``)."""
        return self._socket.connections_opened()

    def socket_pings(self) -> int:
        """How many WebSocket pings the fake answered on the connections open now."""
        return self._socket.pings()

    def socket_messages(self) -> list[Any]:
        """Every text frame the app sent over Socket Mode, in order (JSON decoded when it parses)."""
        return self._socket.messages()

    def wait_for_socket_connection(self, timeout: float = 5.0, count: int = 1) -> int:
        """Block until at least ``count`` connections are open; return how many are.  AssertionError
        (naming the ``apps.connections.open`` calls and their answers) on timeout."""
        return self._socket.wait_for_connection(timeout, count)

    async def await_socket_connection(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        count: int = 1,
    ) -> int:
        """Like :meth:`wait_for_socket_connection` but polls without blocking the running loop."""
        return await self._socket.await_connection(timeout, count)

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
        return self._socket.send_envelope(
            type, payload, accepts_response_payload, retry_attempt, retry_reason
        )

    def send_disconnect(self, reason: str = "refresh_requested") -> int:
        """Send Slack's ``disconnect`` message (``refresh_requested``, ``warning`` or ``link_disabled``)
        to every open connection; return how many got it.  The connection stays open: the app is
        expected to open a new one (slack_sdk's client does, and then closes the old one)."""
        return self._socket.send_disconnect(reason)

    def close_socket_connections(self) -> None:
        """Close every open connection with a normal close (code 1000), as a dropped link looks to
        the app; waits (bounded) for the closes to finish."""
        self._socket.close_all()

    def envelopes(self) -> list[RecordedEnvelope]:
        """Every envelope sent since start (or the last ``reset()``), with its ack if it came."""
        return self._socket.envelopes()

    def envelope(self, envelope_id: str) -> RecordedEnvelope:
        return self._socket.envelope(envelope_id)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSONDict:
        """Block until the app acked ``envelope_id``; return the ack message it sent
        (``{"envelope_id": ..., "payload": {...}}``, ``payload`` only if the app gave one).
        AssertionError (with everything the app sent) on timeout."""
        return self._socket.wait_for_ack(envelope_id, timeout)

    async def await_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> JSONDict:
        """Like :meth:`wait_for_ack` but polls without blocking the running event loop (use it when
        the app under test runs on the same loop as the test)."""
        return await self._socket.await_ack(envelope_id, timeout)

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._faults.fail_next(method, error, times)

    def rate_limit_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429, ``Retry-After: retry_after``."""
        self._faults.rate_limit_next(method, times, retry_after)

    def fail_next_http(
        self, method: str, status: int = 503, body: str = "upstream connect error", times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` answer HTTP ``status`` with a plain-text, non-JSON body, as
        Slack's edge or a proxy in front of it does during an outage."""
        self._faults.fail_next_http(method, status, body, times)

    def set_down(self, *methods: str, down: bool = True) -> None:
        """Until set back (``down=False``), every call of these methods (``"response_url"`` for every
        response_url) answers HTTP 503 with a plain-text body, as Slack's edge does during an outage."""
        self._faults.set_down(methods, down)

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay answers by ``seconds`` (all Web API methods, or one; ``"response_url"`` too)."""
        self._faults.set_latency(seconds, method)

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[RecordedCall]:
        return self._recorder.calls_snapshot()

    def calls_to(self, method: str) -> list[RecordedCall]:
        return self._recorder.calls_to(method)

    def responses(self, url: str) -> list[Any]:
        """Payloads accepted by one response_url, in order."""
        return self._recorder.responses(url)

    def all_responses(self) -> list[Any]:
        """Payloads accepted by any response_url, in order."""
        return self._recorder.all_responses()

    @property
    def response_log(self) -> list[RecordedResponse]:
        """Every POST to a response_url, refused ones included."""
        return self._recorder.response_log_snapshot()

    def reset(self) -> None:
        """Back to the state of a fresh ``FakeSlack``: recorded calls and responses, faults, latency,
        users, channels and their messages, usergroups, views, trigger_ids and response_urls are
        all forgotten, then the defaults are seeded again (if ``seed_defaults``).  Open Socket Mode
        connections are closed (normal close, code 1000) and tickets, envelopes and acks are
        forgotten.  The server, its port, ``bot_token`` and ``app_token`` stay, so one session-wide
        instance can be reset per test."""
        self._socket.close_all()
        with self._ws.lock:
            self._socket.clear()
            self._recorder.clear()
            self._faults.clear()
            self._ws.clear()
            if self.seed_defaults:
                self._ws.seed_defaults()

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        """Block until ``count`` calls of ``method`` were answered; AssertionError on timeout."""
        return self._recorder.wait_for_calls(method, count, timeout)

    async def await_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedCall]:
        """Like :meth:`wait_for_calls` but polls without blocking the running event loop."""
        return await self._recorder.await_calls(method, count, timeout)

    def wait_for_responses(self, url: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        """Block until ``url`` accepted ``count`` responses; AssertionError on timeout."""
        return self._recorder.wait_for_responses(url, count, timeout)

    async def await_responses(
        self,
        url: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Any]:
        """Like :meth:`wait_for_responses` but polls without blocking the running event loop."""
        return await self._recorder.await_responses(url, count, timeout)
