"""What the fake recorded, as the tests read it: Web API calls, response_url POSTs, envelopes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import JSONDict


@dataclass
class RecordedCall:
    """One Web API call as the fake received it (recorded once it has been answered)."""

    method: str
    params: JSONDict
    headers: dict[str, str]
    time: float
    http_method: str = "POST"
    status: int = 200
    response: JSONDict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        err = self.response.get("error")
        return err if isinstance(err, str) else None


@dataclass
class RecordedResponse:
    """One POST to a response_url, accepted or refused."""

    url: str
    payload: Any
    status: int
    answer: str
    time: float

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class RecordedEnvelope:
    """One Socket Mode envelope the fake sent, and the app's ack once it came."""

    envelope_id: str
    type: str
    message: JSONDict
    """The envelope exactly as it was sent."""
    connection_id: str
    sent_at: float
    ack: JSONDict | None = None
    """The first message the app sent back with this ``envelope_id``."""
    acked_at: float | None = None
    extra_acks: list[JSONDict] = field(default_factory=list)
    """Any further messages with the same ``envelope_id`` (Slack ignores them)."""

    @property
    def payload(self) -> JSONDict:
        payload = self.message.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def accepts_response_payload(self) -> bool:
        return bool(self.message.get("accepts_response_payload"))

    @property
    def acked(self) -> bool:
        return self.ack is not None

    @property
    def ack_seconds(self) -> float | None:
        """Seconds from sending the envelope to receiving its ack (Slack allows 3)."""
        return None if self.acked_at is None else self.acked_at - self.sent_at
