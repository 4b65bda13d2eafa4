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

Layout: ``fake`` (the public class, composing the rest), ``workspace`` (users, channels, messages,
views, trigger_ids, response_urls), ``recorder`` (recorded traffic and the waits on it), ``faults``
(injected errors, rate limits, latency), ``http_api`` (the HTTP surface: parsing, tokens, dispatch,
``response_url``), ``methods`` and ``views`` (the Web API methods), ``socket_mode``, ``server`` (the
thread and loop), ``records`` (what tests read back), ``common`` and ``constants``.
"""

from .common import JSONDict
from .constants import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_APP_TOKEN,
    DEFAULT_BOT_TOKEN,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_SECONDS,
    SOCKET_APPROXIMATE_CONNECTION_TIME,
    SOCKET_CLOSE_TIMEOUT,
    SOCKET_DISCONNECT_REASONS,
    SOCKET_ENVELOPE_TYPES,
    SOCKET_MODE_PATH,
    SOCKET_SEND_TIMEOUT,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    TRIGGER_TTL_SECONDS,
    VIEW_MAX_BYTES,
    VIEW_STACK_LIMIT,
    WORKSPACE_URL,
)
from .fake import FakeSlack
from .records import RecordedCall, RecordedEnvelope, RecordedResponse
from .views import validate_view

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BOT_TOKEN",
    "RESPONSE_URL_MAX_USES",
    "RESPONSE_URL_TTL_SECONDS",
    "SOCKET_APPROXIMATE_CONNECTION_TIME",
    "SOCKET_CLOSE_TIMEOUT",
    "SOCKET_DISCONNECT_REASONS",
    "SOCKET_ENVELOPE_TYPES",
    "SOCKET_MODE_PATH",
    "SOCKET_SEND_TIMEOUT",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "TRIGGER_TTL_SECONDS",
    "VIEW_MAX_BYTES",
    "VIEW_STACK_LIMIT",
    "WORKSPACE_URL",
    "FakeSlack",
    "JSONDict",
    "RecordedCall",
    "RecordedEnvelope",
    "RecordedResponse",
    "validate_view",
]
