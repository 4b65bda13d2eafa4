"""Reading Slack's error answers safely."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def slack_error_code(error: SlackApiError) -> str:
    """Slack's `error` field; for a non-JSON answer (an outage page, a proxy) `http_<status>`."""
    response = error.response
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(response, "status_code", None)
    return f"http_{status}" if status else "unknown_error"
