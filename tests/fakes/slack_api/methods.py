"""The Web API methods other than ``views.*``, on parsed and authenticated parameters (the lock held).

Each takes the call's parameters and returns the answer's fields (``ok`` is added by the caller) or
raises ``ApiError``.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .common import ApiError, JSONDict, is_reply, json_param, message_blocks_valid, truthy, ts_key
from .constants import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_NAME, WORKSPACE_URL
from .workspace import Workspace

if TYPE_CHECKING:
    from .socket_mode import SocketMode

Method = Callable[[JSONDict], JSONDict]


def has_content(params: JSONDict) -> bool:
    return any(params.get(k) for k in ("text", "blocks", "attachments", "markdown_text"))


def page_limit(params: JSONDict, default: int) -> int:
    try:
        value = int(params.get("limit") or default)
    except (TypeError, ValueError):
        value = default
    return value if value > 0 else default


def cursor_offset(params: JSONDict) -> int:
    cursor = params.get("cursor")
    if not cursor:
        return 0
    try:
        decoded = base64.b64decode(str(cursor)).decode()
        if decoded.startswith("offset:"):
            return int(decoded[len("offset:") :])
    except ValueError:
        pass
    raise ApiError("invalid_cursor")


def paginate(items: list[JSONDict], offset: int, limit: int) -> tuple[list[JSONDict], bool, str]:
    page = items[offset : offset + limit]
    has_more = offset + limit < len(items)
    cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if has_more else ""
    return page, has_more, cursor


def in_range(ts: Any, params: JSONDict) -> bool:
    key = ts_key(ts)
    inclusive = truthy(params.get("inclusive"))
    oldest, latest = params.get("oldest"), params.get("latest")
    if oldest not in (None, ""):
        lo = ts_key(oldest)
        if key < lo or (key == lo and not inclusive):
            return False
    if latest not in (None, ""):
        hi = ts_key(latest)
        if key > hi or (key == hi and not inclusive):
            return False
    return True


class WebApi:
    """``methods``: Web API method name -> handler, for every method but ``views.*``."""

    def __init__(self, workspace: Workspace, socket_mode: SocketMode) -> None:
        self._ws = workspace
        self._socket_mode = socket_mode
        self.methods: dict[str, Method] = {
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
            "reactions.remove": self._reactions_remove,
            "usergroups.users.list": self._usergroups_users_list,
        }

    def _api_test(self, params: JSONDict) -> JSONDict:
        args = {k: v for k, v in params.items() if k != "token"}
        return {"args": args} if args else {}

    def _apps_connections_open(self, params: JSONDict) -> JSONDict:
        return {"url": self._socket_mode.open_ticket()}

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
        user = self._ws.users.get(str(params.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        chan = self._ws.resolve_channel(params.get("channel"), for_write=True)
        user = params.get("user")
        if not user:
            raise ApiError("user_not_in_channel")
        if chan.members is not None and user not in chan.members:
            raise ApiError("user_not_in_channel")
        if not has_content(params):
            raise ApiError("no_text")
        if not message_blocks_valid(params.get("blocks")):
            raise ApiError("invalid_blocks")
        return {"message_ts": self._ws.next_ts()}

    def _chat_post_message(self, params: JSONDict) -> JSONDict:
        chan = self._ws.resolve_channel(params.get("channel"), for_write=True)
        if not has_content(params):
            raise ApiError("no_text")
        if not message_blocks_valid(params.get("blocks")):
            raise ApiError("invalid_blocks")
        msg: JSONDict = {
            "user": BOT_USER_ID,
            "type": "message",
            "ts": self._ws.next_ts(),
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": params.get("text") or "",
            "team": TEAM_ID,
        }
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key):
                msg[key] = json_param(params[key])
        if params.get("thread_ts"):
            parent = self._ws.find_message(chan, str(params["thread_ts"]))
            if parent is not None and is_reply(parent):
                parent_ts = str(parent["thread_ts"])
            else:
                parent_ts = str(params["thread_ts"])
            msg["thread_ts"] = parent_ts
            if truthy(params.get("reply_broadcast")):
                msg["subtype"] = "thread_broadcast"
        self._ws.store_message(chan, msg)
        return {"channel": chan.info["id"], "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _chat_get_permalink(self, params: JSONDict) -> JSONDict:
        chan = self._ws.resolve_channel(params.get("channel"))
        ts = params.get("message_ts")
        msg = self._ws.find_message(chan, str(ts)) if ts else None
        if msg is None:
            raise ApiError("message_not_found")
        cid = chan.info["id"]
        link = f"https://fake.slack.com/archives/{cid}/p{str(msg['ts']).replace('.', '')}"
        if is_reply(msg):
            link += f"?thread_ts={msg['thread_ts']}&cid={cid}"
        return {"channel": cid, "permalink": link}

    def _conversations_history(self, params: JSONDict) -> JSONDict:
        chan = self._ws.resolve_channel(params.get("channel"), for_read=True)
        for bound, err in (("latest", "invalid_ts_latest"), ("oldest", "invalid_ts_oldest")):
            if params.get(bound) not in (None, "") and ts_key(params[bound]) < 0:
                raise ApiError(err)
        top = [
            m
            for m in chan.messages
            if (not is_reply(m) or m.get("subtype") == "thread_broadcast") and in_range(m.get("ts"), params)
        ]
        top.sort(key=lambda m: ts_key(m.get("ts")), reverse=True)
        page, has_more, cursor = paginate(top, cursor_offset(params), page_limit(params, 100))
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
        chan = self._ws.resolve_channel(params.get("channel"), for_read=True)
        ts = params.get("ts")
        msg = self._ws.find_message(chan, str(ts)) if ts else None
        if msg is None:
            raise ApiError("thread_not_found")
        root_ts = str(msg["thread_ts"]) if is_reply(msg) else str(msg["ts"])
        thread = [
            m
            for m in chan.messages
            if (ts_key(m.get("ts")) == ts_key(root_ts) or (is_reply(m) and m.get("thread_ts") == root_ts))
            and in_range(m.get("ts"), params)
        ]
        thread.sort(key=lambda m: ts_key(m.get("ts")))
        page, has_more, cursor = paginate(thread, cursor_offset(params), page_limit(params, 1000))
        out: JSONDict = {"messages": copy.deepcopy(page), "has_more": has_more}
        if cursor:
            out["response_metadata"] = {"next_cursor": cursor}
        return out

    def _conversations_info(self, params: JSONDict) -> JSONDict:
        chan = self._ws.resolve_channel(params.get("channel"))
        return {"channel": copy.deepcopy(chan.info)}

    def _reactions_add(self, params: JSONDict) -> JSONDict:
        name = str(params.get("name") or "").strip(":")
        if not params.get("channel") or not params.get("timestamp"):
            raise ApiError("no_item_specified")
        if not name:
            raise ApiError("invalid_name")
        chan = self._ws.resolve_channel(params.get("channel"))
        msg = self._ws.find_message(chan, str(params["timestamp"]))
        if msg is None:
            raise ApiError("message_not_found")
        reactions: list[JSONDict] = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if BOT_USER_ID in entry["users"]:
            raise ApiError("already_reacted")
        entry["users"].append(BOT_USER_ID)
        entry["count"] += 1
        return {}

    def _reactions_remove(self, params: JSONDict) -> JSONDict:
        """Slack's reactions.remove: only the caller's own reaction; `no_reaction` when it has none there."""
        name = str(params.get("name") or "").strip(":")
        if not params.get("channel") or not params.get("timestamp"):
            raise ApiError("no_item_specified")
        if not name:
            raise ApiError("invalid_name")
        chan = self._ws.resolve_channel(params.get("channel"))
        msg = self._ws.find_message(chan, str(params["timestamp"]))
        if msg is None:
            raise ApiError("message_not_found")
        reactions: list[JSONDict] = msg.get("reactions") or []
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None or BOT_USER_ID not in entry["users"]:
            raise ApiError("no_reaction")
        entry["users"].remove(BOT_USER_ID)
        entry["count"] -= 1
        if not entry["users"]:
            reactions.remove(entry)
        return {}

    def _usergroups_users_list(self, params: JSONDict) -> JSONDict:
        group = self._ws.usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group)}

    # -- views
