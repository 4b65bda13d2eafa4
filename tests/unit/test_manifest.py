"""The Slack app manifest declares exactly what the bot serves and the scopes its API calls need."""

from __future__ import annotations

import re
from pathlib import Path

from bot.presentation.ids import CallbackId

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = (ROOT / "manifest.yml").read_text()

# Web API methods the bot calls (bot/), and the bot scope each needs (Slack's method reference).
SCOPE_OF_METHOD: dict[str, str | tuple[str, ...] | None] = {
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_getPermalink": None,  # Slack: no scope required
    "users_info": "users:read",
    "usergroups_users_list": "usergroups:read",
    "reactions_add": "reactions:write",
    "reactions_remove": "reactions:write",
    # Incident channels are public or private; DMs cannot be bound to an incident usefully.
    "conversations_history": ("channels:history", "groups:history"),
    "conversations_replies": ("channels:history", "groups:history"),
    "views_open": None,  # a trigger_id is the permission
    "views_update": None,  # a view id the app opened is the permission
    "auth_test": None,
    "apps_connections_open": None,  # the app-level token's connections:write, not a bot scope
    "is_connected": None,  # the Socket Mode client, not a Web API method
}


# Events the bot subscribes to, and the bot scope each needs (Slack's event reference).
SCOPE_OF_EVENT: dict[str, str] = {
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    # `message` events, in public and in private channels: edits and deletes of messages on the timeline.
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


def _bot_events() -> list[str]:
    block = MANIFEST.split("bot_events:", 1)[1].split("interactivity:", 1)[0]
    return re.findall(r"^\s*-\s*([a-z_.]+)", block, re.MULTILINE)


def _bot_scopes() -> set[str]:
    block = MANIFEST.split("bot:", 1)[1].split("settings:", 1)[0]
    return set(re.findall(r"^\s*-\s*([a-z:.]+)", block, re.MULTILINE))


def _methods_called() -> set[str]:
    source = "\n".join(path.read_text() for path in (ROOT / "bot").rglob("*.py"))
    return set(re.findall(r"client\.(\w+)\(", source))


def test_every_api_call_has_its_scope_and_no_scope_is_spare() -> None:
    called = _methods_called()
    assert called <= set(SCOPE_OF_METHOD), f"unmapped Slack methods: {called - set(SCOPE_OF_METHOD)}"
    needed: set[str] = set()
    for method in called:
        scopes = SCOPE_OF_METHOD[method]
        needed |= {scopes} if isinstance(scopes, str) else set(scopes or ())
    # commands: the slash command and the shortcut; the rest: what the subscribed events need.
    needed |= {"commands"} | {SCOPE_OF_EVENT[event] for event in _bot_events()}
    assert _bot_scopes() == needed


def test_the_events_are_exactly_the_ones_the_bot_follows() -> None:
    # 📌 on and off, and `message` events (edits, deletes) in public and private channels; nothing else:
    # no DMs or group DMs (never bound), no app_mention.
    assert _bot_events() == ["reaction_added", "reaction_removed", "message.channels", "message.groups"]
    assert set(_bot_events()) <= set(SCOPE_OF_EVENT)


def test_the_message_events_ride_on_the_history_scopes_pins_already_needed() -> None:
    # Reading a pinned message back needed channels:history and groups:history already: following edits
    # and deletes adds no scope (only the subscriptions).
    assert {"channels:history", "groups:history"} <= _bot_scopes()
    assert not {"im:history", "mpim:history", "chat:write.public", "reactions:history"} & _bot_scopes()


def test_surface_matches_the_contract() -> None:
    assert re.search(r"command: /incident-note\b", MANIFEST)
    assert re.search(r"callback_id: add_to_timeline\b", MANIFEST)
    assert re.search(r"callback_id: add_thread_to_timeline\b", MANIFEST)
    assert re.search(r"type: message\b", MANIFEST)
    assert re.search(r"bot_events:\s*\n\s*- reaction_added\b", MANIFEST)
    assert re.search(r"^\s+- reaction_removed\b", MANIFEST, re.MULTILINE)
    assert re.search(r"interactivity:\s*\n\s*is_enabled: true", MANIFEST)
    urls = re.findall(r"(?:url|request_url|message_menu_options_url): (\S+)", MANIFEST)
    assert len(urls) == 4 and all(url.endswith("/slack/events") for url in urls)


def test_the_pickers_search_has_its_options_load_url_and_nothing_else_was_added() -> None:
    interactivity = MANIFEST.split("interactivity:", 1)[1].split("org_deploy_enabled", 1)[0]
    assert re.search(r"^\s+message_menu_options_url: https://\S+/slack/events$", interactivity, re.MULTILINE)
    # The picker and `timeline` need no scope and no event beyond what notes and their lifecycle use.
    assert set(_bot_events()) == {"reaction_added", "reaction_removed", "message.channels", "message.groups"}
    assert "bind [incident-record-arn]" in MANIFEST and "timeline [n]" in MANIFEST


def test_both_message_shortcuts_are_declared_with_the_ids_the_listeners_use() -> None:
    shortcuts = MANIFEST.split("shortcuts:", 1)[1].split("oauth_config:", 1)[0]
    declared = re.findall(r"callback_id: (\S+)", shortcuts)
    assert declared == [CallbackId.ADD_TO_TIMELINE, CallbackId.ADD_THREAD_TO_TIMELINE]
    assert re.findall(r"type: (\S+)", shortcuts) == ["message", "message"]
    # Reading a thread (conversations.replies) needs the history scopes pins already have.
    assert {"channels:history", "groups:history"} <= _bot_scopes()
