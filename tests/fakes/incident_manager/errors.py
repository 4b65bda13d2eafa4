"""The error answers the fake gives, and the error it raises on its own bugs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Errors AWS can answer although ssm-incidents does not model them (fail_next accepts these too).
UNMODELED_ERRORS: Mapping[str, int] = {
    "ServiceUnavailableException": 503,
    "UnrecognizedClientException": 403,
    "ExpiredTokenException": 403,
    "InvalidSignatureException": 403,
    "SerializationException": 400,
}

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


class AwsError(Exception):
    """An error answer: code, message, HTTP status and the extra members of the error shape."""

    def __init__(self, code: str, message: str, status: int | None = None, **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.members = members


class FakeBugError(Exception):
    """The fake produced something its own model says is invalid."""
