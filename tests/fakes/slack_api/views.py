"""``views.open`` / ``views.push`` / ``views.update``, and the view validation they share.

A view is validated with ``slack_sdk.models.views.View`` plus Slack's own required fields; see the
package docstring for the errors answered.
"""

from __future__ import annotations

import copy
import json
import secrets
import time

from slack_sdk.models.views import View

from .common import ApiError, JSONDict, Settings, json_param
from .constants import APP_ID, BOT_ID, TEAM_ID, VIEW_MAX_BYTES, VIEW_STACK_LIMIT
from .methods import Method
from .workspace import Trigger, Workspace


class ViewsApi:
    """``methods``: the ``views.*`` Web API methods."""

    def __init__(self, workspace: Workspace, settings: Settings) -> None:
        self._ws = workspace
        self._settings = settings
        self.methods: dict[str, Method] = {
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
        }

    def _check_trigger(self, params: JSONDict) -> Trigger:
        tid = params.get("trigger_id") or params.get("interactivity_pointer")
        if not tid:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        trig = self._ws.triggers.get(str(tid))
        if trig is None:
            raise ApiError("invalid_trigger_id")
        if trig.used:
            raise ApiError("exchanged_trigger_id")
        if time.monotonic() - trig.issued_at > self._settings.trigger_ttl:
            raise ApiError("expired_trigger_id")
        return trig

    def _validated_view(self, params: JSONDict) -> JSONDict:
        raw = params.get("view")
        view = json_param(raw)
        if not isinstance(view, dict):
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] must provide an object [json-pointer:/view]"]},
            )
        if len(json.dumps(view)) > VIEW_MAX_BYTES:
            raise ApiError("view_too_large")
        messages = validate_view(view)
        if messages:
            raise ApiError("invalid_arguments", response_metadata={"messages": messages})
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
        self._ws.views[view_id] = obj
        return copy.deepcopy(obj)

    def _check_external_id(self, view: JSONDict, own_id: str | None) -> None:
        ext = view.get("external_id")
        if ext and any(v.get("external_id") == ext and vid != own_id for vid, v in self._ws.views.items()):
            raise ApiError("duplicate_external_id")

    def _views_open(self, params: JSONDict) -> JSONDict:
        trig = self._check_trigger(params)
        view = self._validated_view(params)
        self._check_external_id(view, None)
        trig.used = True
        vid = self._ws.new_id("V")
        return {"view": self._materialize_view(view, view_id=vid, root_view_id=vid, previous_view_id=None)}

    def _views_push(self, params: JSONDict) -> JSONDict:
        trig = self._check_trigger(params)
        view = self._validated_view(params)
        self._check_external_id(view, None)
        previous = self._ws.views.get(trig.view_id) if trig.view_id else None
        if previous is not None:
            depth, cur = 1, previous
            while cur.get("previous_view_id") and cur["previous_view_id"] in self._ws.views:
                depth += 1
                cur = self._ws.views[cur["previous_view_id"]]
            if depth >= VIEW_STACK_LIMIT:
                raise ApiError("push_limit_reached")
        trig.used = True
        vid = self._ws.new_id("V")
        root = previous["root_view_id"] if previous else vid
        prev_id = previous["id"] if previous else None
        return {
            "view": self._materialize_view(view, view_id=vid, root_view_id=root, previous_view_id=prev_id)
        }

    def _views_update(self, params: JSONDict) -> JSONDict:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view_id or external_id"]},
            )
        current: JSONDict | None = None
        if view_id:
            current = self._ws.views.get(str(view_id))
        else:
            current = next((v for v in self._ws.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise ApiError("not_found")
        view = self._validated_view(params)
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
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
