"""A Slack channel tied to one incident record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit


@dataclass(frozen=True)
class Binding:
    team_id: str
    channel_id: str
    incident_arn: str
    incident_title: str
    bound_by: str
    bound_at: datetime


# RelatedItem limits (botocore model: Url max 1000, RelatedItemTitleString max 200).
RELATED_URL_LIMIT = 1000
RELATED_TITLE_LIMIT = 200
# What slash commands call channels whose name they don't give (private groups, DMs).
_UNNAMED = {"", "privategroup", "directmessage", "mpdm"}


@dataclass(frozen=True)
class ChannelLink:
    """The channel as a related item of its incident: where responders work it, as the console shows it."""

    channel_id: str
    url: str
    title: str


def channel_link(team_id: str, channel_id: str, channel_name: str, workspace_url: str | None) -> ChannelLink:
    """The channel's address in its workspace (auth.test's `url`), else Slack's redirect that finds it."""
    base = (workspace_url or "").strip()
    if base.startswith("https://"):
        url = f"{base.rstrip('/')}/archives/{quote(channel_id)}"
    else:
        url = f"https://slack.com/app_redirect?{urlencode({'team': team_id, 'channel': channel_id})}"
    name = channel_name.strip().lstrip("#")
    title = f"Slack: #{name}" if name not in _UNNAMED else f"Slack channel {channel_id}"
    return ChannelLink(channel_id, url[:RELATED_URL_LIMIT], title[:RELATED_TITLE_LIMIT])


def links_to_channel(url: str, channel_id: str) -> bool:
    """Whether a related item's address is this channel's, whatever the workspace's address was then."""
    parts = urlsplit(url)
    segments = [unquote(segment) for segment in parts.path.split("/")]
    if "archives" in segments and segments.index("archives") + 1 < len(segments):
        return segments[segments.index("archives") + 1] == channel_id
    return channel_id in parse_qs(parts.query).get("channel", [])
