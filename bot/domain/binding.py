"""A Slack channel tied to one incident record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Binding:
    team_id: str
    channel_id: str
    incident_arn: str
    incident_title: str
    bound_by: str
    bound_at: datetime
