"""Builders of requests exactly as Slack sends them to the bot, signed with the signing secret.

Every builder is pure and returns ``(body, headers)``: ``body`` is the raw text to POST and
``headers`` holds ``Content-Type``, ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature``
(``v0=`` + hex HMAC-SHA256 of ``f"v0:{ts}:{body}"`` with the signing secret), plus the
``X-Slack-Retry-Num``/``X-Slack-Retry-Reason`` headers when asked for.

Bad requests for the signature checks:

* ``timestamp=stale_timestamp()`` on any builder -> a correctly signed request older than the
  5 minutes Slack's verifiers accept;
* ``tampered(headers)`` -> the same request with a wrong signature;
* ``unsigned(headers)`` -> the request without the signature and timestamp headers.

The defaults (team ``T0001`` ``acme``, channel ``C0001`` ``#inc-db``, user ``U0001`` ``alice``,
app ``A0001``, bot user ``UBOT``) match what ``tests.fakes.slack_api.FakeSlack`` seeds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

JSONDict = dict[str, Any]

FORM = "application/x-www-form-urlencoded"
JSON_CT = "application/json"
# The deprecated verification token Slack still puts in payloads (Bolt ignores it).
VERIFICATION_TOKEN = "Jhj5dZrVaK7ZwHHjRyZWjbDl"
# Slack's verifiers refuse requests more than 5 minutes old.
MAX_AGE_SECONDS = 5 * 60


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two signature headers for ``body`` (Content-Type is the caller's)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def stale_timestamp(age_seconds: int = MAX_AGE_SECONDS + 60) -> int:
    """A unix timestamp older than Slack's 5-minute replay window."""
    return int(time.time()) - age_seconds


def tampered(headers: dict[str, str]) -> dict[str, str]:
    """A copy of ``headers`` whose signature no longer matches (one hex digit changed)."""
    out = dict(headers)
    sig = out["X-Slack-Signature"]
    last = sig[-1]
    out["X-Slack-Signature"] = sig[:-1] + ("0" if last != "0" else "1")
    return out


def unsigned(headers: dict[str, str]) -> dict[str, str]:
    """A copy of ``headers`` without the signature and timestamp headers."""
    drop = {"x-slack-signature", "x-slack-request-timestamp"}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def new_trigger_id() -> str:
    """A trigger_id in Slack's format (NOT known to FakeSlack: use ``fake.issue_trigger_id()``)."""
    return f"{secrets.randbelow(10**10) + 10**10}.{secrets.randbelow(10**9) + 10**9}.{secrets.token_hex(16)}"


def _ts_now() -> str:
    return f"{time.time():.6f}"


def _headers(
    body: str,
    secret: str,
    content_type: str,
    timestamp: int | None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> dict[str, str]:
    headers = {"Content-Type": content_type, **sign(body, secret, timestamp)}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    elif retry_reason is not None:
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


# ---------------------------------------------------------------------- slash commands


def slash_command(
    secret: str,
    *,
    text: str,
    response_url: str,
    trigger_id: str,
    command: str = "/incident-note",
    team_id: str = "T0001",
    team_domain: str = "acme",
    channel_id: str = "C0001",
    channel_name: str = "inc-db",
    user_id: str = "U0001",
    user_name: str = "alice",
    api_app_id: str = "A0001",
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> tuple[str, dict[str, str]]:
    """A slash command POST: form-encoded fields in the order Slack sends them."""
    fields = [
        ("token", VERIFICATION_TOKEN),
        ("team_id", team_id),
        ("team_domain", team_domain),
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", api_app_id),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id),
    ]
    body = urlencode(fields)
    return body, _headers(body, secret, FORM, timestamp, retry_num)


# ---------------------------------------------------------------------- interactivity


def interactivity(
    secret: str,
    payload: JSONDict,
    *,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> tuple[str, dict[str, str]]:
    """An interactivity POST (shortcut, view submission, block action): ``payload=<json>``."""
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    return body, _headers(body, secret, FORM, timestamp, retry_num)


def message_shortcut_payload(
    callback_id: str = "add_to_timeline",
    *,
    message: JSONDict | None = None,
    message_text: str = "db primary failed over",
    message_ts: str | None = None,
    message_user: str = "U0001",
    channel_id: str = "C0001",
    channel_name: str = "inc-db",
    user_id: str = "U0001",
    user_name: str = "alice",
    team_id: str = "T0001",
    team_domain: str = "acme",
    trigger_id: str,
    response_url: str,
    action_ts: str | None = None,
) -> JSONDict:
    """A ``message_action`` payload (message shortcut).  Pass ``message`` (e.g. one seeded in
    FakeSlack) or let it be built from ``message_text``/``message_ts``/``message_user``."""
    if message is None:
        message = {
            "type": "message",
            "user": message_user,
            "text": message_text,
            "ts": message_ts or _ts_now(),
            "team": team_id,
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": "rt1",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": message_text}]}
                    ],
                }
            ],
        }
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": action_ts or _ts_now(),
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "channel": {"id": channel_id, "name": channel_name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }


def text_input_values(values: dict[str, dict[str, str | None]]) -> JSONDict:
    """``{block_id: {action_id: "text"}}`` -> Slack's ``view.state.values`` for plain_text_inputs."""
    return {
        block_id: {
            action_id: {"type": "plain_text_input", "value": value} for action_id, value in actions.items()
        }
        for block_id, actions in values.items()
    }


def view_submission_payload(
    view: JSONDict,
    *,
    values: JSONDict,
    user_id: str = "U0001",
    user_name: str = "alice",
    team_id: str = "T0001",
    team_domain: str = "acme",
    api_app_id: str = "A0001",
    trigger_id: str | None = None,
    response_urls: list[JSONDict] | None = None,
) -> JSONDict:
    """A ``view_submission`` payload for ``view`` (ideally the view object FakeSlack answered to
    ``views.open``, so ids, hash and block_ids are Slack's) with ``view.state.values = values``
    (Slack's shape ``{block_id: {action_id: {"type": ..., "value": ...}}}``; see
    :func:`text_input_values`)."""
    submitted: JSONDict = {
        "id": "V" + secrets.token_hex(5).upper(),
        "team_id": team_id,
        "type": "modal",
        "private_metadata": "",
        "callback_id": "",
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": None,
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "external_id": "",
        "app_id": api_app_id,
        "app_installed_team_id": team_id,
        "bot_id": "BBOT",
    }
    submitted.update(json.loads(json.dumps(view)))
    submitted.setdefault("root_view_id", submitted["id"])
    submitted["state"] = {"values": values}
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": submitted,
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_actions_payload(
    action: JSONDict,
    *,
    response_url: str,
    trigger_id: str | None = None,
    message_ts: str | None = None,
    channel_id: str = "C0001",
    channel_name: str = "inc-db",
    user_id: str = "U0001",
    user_name: str = "alice",
    team_id: str = "T0001",
    team_domain: str = "acme",
    api_app_id: str = "A0001",
) -> JSONDict:
    """A ``block_actions`` payload for a click on ``action`` (the element as the bot sent it: its
    ``action_id``, ``value``, ``text``…) in an ephemeral message the bot posted in ``channel_id``.
    Slack sends no ``message`` for an ephemeral one, only its container."""
    clicked = {
        "type": action.get("type", "button"),
        "action_id": action["action_id"],
        "block_id": action.get("block_id") or secrets.token_urlsafe(4)[:5],
        "text": action.get("text"),
        "value": action.get("value"),
        "action_ts": _ts_now(),
    }
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts or _ts_now(),
            "channel_id": channel_id,
            "is_ephemeral": True,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [clicked],
    }


def block_suggestion_payload(
    view: JSONDict,
    *,
    action_id: str,
    block_id: str,
    value: str,
    user_id: str = "U0001",
    user_name: str = "alice",
    team_id: str = "T0001",
    team_domain: str = "acme",
    api_app_id: str = "A0001",
) -> JSONDict:
    """A ``block_suggestion`` payload: the options request of an ``external_select`` in ``view`` (the
    view object FakeSlack answered) while the person has typed ``value``."""
    return {
        "type": "block_suggestion",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "container": {"type": "view", "view_id": view.get("id", "")},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": json.loads(json.dumps(view)),
    }


# ---------------------------------------------------------------------- Events API


def event_callback(
    secret: str,
    event: JSONDict,
    *,
    team_id: str = "T0001",
    authorizing_team_id: str | None = None,
    api_app_id: str = "A0001",
    event_id: str | None = None,
    event_time: int | None = None,
    bot_user_id: str = "UBOT",
    retry_num: int | None = None,
    retry_reason: str | None = None,
    timestamp: int | None = None,
) -> tuple[str, dict[str, str]]:
    """An Events API ``event_callback`` (JSON).  Slack retries carry the same ``event_id`` and the
    ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason`` headers (reason defaults to ``http_timeout``).
    In a Slack Connect channel the body's ``team_id`` may be the other side's while ``authorizations``
    names the workspace the app is installed in (``authorizing_team_id``)."""
    payload = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": authorizing_team_id or team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": authorizing_team_id not in (None, team_id),
        "event_context": "4-" + secrets.token_urlsafe(24),
    }
    body = json.dumps(payload, separators=(",", ":"))
    return body, _headers(body, secret, JSON_CT, timestamp, retry_num, retry_reason)


def url_verification(
    secret: str, challenge: str, *, timestamp: int | None = None
) -> tuple[str, dict[str, str]]:
    """The Events API URL verification handshake; the app must answer with the challenge."""
    body = json.dumps({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})
    return body, _headers(body, secret, JSON_CT, timestamp)


def reaction_removed_event(
    user: str,
    reaction: str,
    channel: str,
    ts: str,
    item_user: str,
    *,
    event_ts: str | None = None,
) -> JSONDict:
    """The inner ``reaction_removed`` event (the same shape as ``reaction_added``)."""
    return {
        **reaction_added_event(user, reaction, channel, ts, item_user, event_ts=event_ts),
        "type": "reaction_removed",
    }


def reaction_added_event(
    user: str,
    reaction: str,
    channel: str,
    ts: str,
    item_user: str,
    *,
    event_ts: str | None = None,
) -> JSONDict:
    """The inner ``reaction_added`` event (wrap it with :func:`event_callback`)."""
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": event_ts or _ts_now(),
    }
