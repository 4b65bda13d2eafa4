"""What the fake remembers about the workspace: users, channels and their messages, usergroups,
views, trigger_ids and response_urls.

One re-entrant lock (and a condition on it, for the waiters) guards this and every other part of
the fake's memory, so the seeding and inspection methods can be called from any thread.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .common import ApiError, JSONDict, Settings, is_reply, ts_key
from .constants import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID


@dataclass
class Trigger:
    issued_at: float
    user_id: str
    view_id: str | None
    used: bool = False


@dataclass
class ResponseUrl:
    created_at: float
    uses: int = 0


@dataclass
class Channel:
    info: JSONDict
    members: set[str] | None
    messages: list[JSONDict] = field(default_factory=list)


class Workspace:
    """The workspace's state; the helpers at the end expect ``lock`` held.

    The seeding methods are documented on ``FakeSlack``, which delegates to them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.users: dict[str, JSONDict] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.views: dict[str, JSONDict] = {}
        """Views opened/pushed/updated through the fake, by view id (latest version)."""
        self._last_ts_micros = 0
        self._id_counter = 0

    def clear(self) -> None:
        with self.lock:
            self.users.clear()
            self.channels.clear()
            self.usergroups.clear()
            self.triggers.clear()
            self.response_urls.clear()
            self.views.clear()

    def seed_defaults(self) -> None:
        self.add_user(
            BOT_USER_ID, display_name="", real_name="Incident Bot", is_bot=True, name="incident-bot"
        )
        self.add_user("U0001", display_name="alice", real_name="Alice Archer")
        self.add_channel("C0001", "inc-db")

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
        with self.lock:
            self.users[user_id] = user
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
        with self.lock:
            existing = self.channels.get(channel_id)
            msgs = existing.messages if existing else []
            self.channels[channel_id] = Channel(info=info, members=member_set, messages=msgs)
        return copy.deepcopy(info)

    def add_message(self, channel: str, message: JSONDict) -> str:
        with self.lock:
            if channel not in self.channels:
                self.add_channel(channel, channel.lower())
            msg = copy.deepcopy(message)
            msg.setdefault("type", "message")
            if "ts" not in msg:
                msg["ts"] = self.next_ts()
            msg.setdefault("team", TEAM_ID)
            self.store_message(self.channels[channel], msg)
            return str(msg["ts"])

    def edit_message(self, channel: str, ts: str, text: str) -> JSONDict:
        """Its author edits the message: its text (and rich_text blocks) change and it is marked `edited`.
        Returns the `message` event Slack sends for it (subtype `message_changed`)."""
        with self.lock:
            chan = self.channels[channel]
            msg = self.find_message(chan, ts)
            if msg is None:
                raise KeyError(ts)
            previous = copy.deepcopy(msg)
            at = self.next_ts()
            msg["text"] = text
            msg["blocks"] = [_rich_text(text)]
            msg["edited"] = {"user": msg.get("user", ""), "ts": at}
            event: JSONDict = {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "message": copy.deepcopy(msg),
                "channel": channel,
                "previous_message": previous,
                "event_ts": at,
                "ts": at,
                "channel_type": "group" if chan.info.get("is_private") else "channel",
            }
            return event

    def delete_message(self, channel: str, ts: str) -> JSONDict:
        """The message is deleted; returns the `message` event Slack sends. A thread parent that still has
        replies stays as a tombstone ("This message was deleted."): Slack reports that as a
        `message_changed` to subtype `tombstone`, not as `message_deleted`."""
        with self.lock:
            chan = self.channels[channel]
            msg = self.find_message(chan, ts)
            if msg is None:
                raise KeyError(ts)
            previous = copy.deepcopy(msg)
            at = self.next_ts()
            kind = "group" if chan.info.get("is_private") else "channel"
            if msg.get("reply_count") and not is_reply(msg):
                for key in ("user", "blocks", "files", "attachments", "reactions", "edited"):
                    msg.pop(key, None)
                msg.update(
                    subtype="tombstone", text="This message was deleted.", user="USLACKBOT", hidden=True
                )
                return {
                    "type": "message",
                    "subtype": "message_changed",
                    "hidden": True,
                    "message": copy.deepcopy(msg),
                    "channel": channel,
                    "previous_message": previous,
                    "event_ts": at,
                    "ts": at,
                    "channel_type": kind,
                }
            chan.messages.remove(msg)
            return {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "deleted_ts": ts,
                "channel": channel,
                "previous_message": previous,
                "event_ts": at,
                "ts": at,
                "channel_type": kind,
            }

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        with self.lock:
            self.usergroups[usergroup_id] = list(user_ids)

    def messages(self, channel: str) -> list[JSONDict]:
        with self.lock:
            chan = self.channels.get(channel)
            if chan is None:
                return []
            return copy.deepcopy(sorted(chan.messages, key=lambda m: ts_key(m.get("ts"))))

    def user(self, user_id: str) -> JSONDict | None:
        with self.lock:
            u = self.users.get(user_id)
            return copy.deepcopy(u) if u else None

    def issue_trigger_id(self, user_id: str = "U0001", *, view_id: str | None = None) -> str:
        tid = (
            f"{secrets.randbelow(10**10) + 10**10}.{secrets.randbelow(10**9) + 10**9}.{secrets.token_hex(16)}"
        )
        with self.lock:
            self.triggers[tid] = Trigger(issued_at=time.monotonic(), user_id=user_id, view_id=view_id)
        return tid

    def expire_trigger_id(self, trigger_id: str) -> None:
        with self.lock:
            trig = self.triggers.get(trigger_id)
            if trig is not None:
                trig.issued_at -= self.settings.trigger_ttl + 1

    def new_response_url_key(self) -> str:
        key = secrets.token_urlsafe(18)
        with self.lock:
            self.response_urls[key] = ResponseUrl(created_at=time.monotonic())
        return key

    def expire_response_url(self, url: str) -> None:
        with self.lock:
            entry = self.response_urls.get(url.rstrip("/").rsplit("/", 1)[-1])
            if entry is not None:
                entry.created_at -= self.settings.response_url_ttl + 1

    def next_ts(self) -> str:
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        self._id_counter += 1
        return f"{prefix}{self._id_counter:04d}{secrets.token_hex(3).upper()}"

    def store_message(self, chan: Channel, msg: JSONDict) -> None:
        chan.messages.append(msg)
        if is_reply(msg):
            parent = self.find_message(chan, str(msg["thread_ts"]))
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                replies = [m for m in chan.messages if is_reply(m) and m.get("thread_ts") == parent["ts"]]
                users = list(dict.fromkeys(str(m.get("user", "")) for m in replies if m.get("user")))
                parent["reply_count"] = len(replies)
                parent["reply_users_count"] = len(users)
                parent["reply_users"] = users
                parent["latest_reply"] = max((str(m["ts"]) for m in replies), key=ts_key)
                msg.setdefault("parent_user_id", parent.get("user"))

    @staticmethod
    def find_message(chan: Channel, ts: str) -> JSONDict | None:
        key = ts_key(ts)
        for m in chan.messages:
            if ts_key(m.get("ts")) == key:
                return m
        return None

    def resolve_channel(self, value: Any, *, for_write: bool = False, for_read: bool = False) -> Channel:
        if not value:
            raise ApiError("channel_not_found")
        name = str(value)
        chan = self.channels.get(name)
        if chan is None:
            bare = name.lstrip("#")
            chan = next((c for c in self.channels.values() if c.info["name"] == bare), None)
        if chan is None:
            raise ApiError("channel_not_found")
        if chan.info["is_private"] and not chan.info["is_member"]:
            raise ApiError("channel_not_found")
        if (for_write or for_read) and not chan.info["is_member"]:
            raise ApiError("not_in_channel")
        if for_write and chan.info["is_archived"]:
            raise ApiError("is_archived")
        return chan


def _rich_text(text: str) -> JSONDict:
    """The rich_text block Slack's client makes of a plain message."""
    return {
        "type": "rich_text",
        "block_id": secrets.token_urlsafe(4)[:5],
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }
