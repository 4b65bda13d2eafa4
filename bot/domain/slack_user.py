"""Slack users as the bot knows them: the shape of a user id, and the name people see."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Slack user ids: U… (workspace users) or W… (Enterprise Grid users), upper-case letters and digits.
USER_ID = re.compile(r"[UW][A-Z0-9]+")


def is_user_id(text: str) -> bool:
    return USER_ID.fullmatch(text) is not None


def display_name_of(user: Mapping[str, Any]) -> str | None:
    """The name people see in the channel: display name first, then real name, then handle."""
    profile = user.get("profile") or {}
    for candidate in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None
