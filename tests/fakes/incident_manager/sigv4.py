"""SigV4, checked like AWS does (see the package docstring for what is and is not verified)."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import logging
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast
from urllib.parse import quote

from aiohttp import web

from .config import Settings
from .errors import SIGNATURE_MISMATCH, AwsError
from .model import SERVICE_NAME

# The package's logger, as when the fake was one module.
log = logging.getLogger(__package__)

MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Auth:
    access_key: str | None = None
    region: str | None = None


class SigV4Checker:
    """Checks a request's ``Authorization`` header against the fake's region and credentials."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, request: web.BaseRequest, body: bytes) -> Auth:
        header = request.headers.get("Authorization")
        if header is None:
            raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        algorithm, _, rest = header.strip().partition(" ")
        parts: dict[str, str] = {}
        for item in rest.split(","):
            key, sep, value = item.strip().partition("=")
            if sep:
                parts[key.strip()] = value.strip()
        amz_date = request.headers.get("X-Amz-Date")
        date_header = request.headers.get("Date")
        problems = [
            f"Authorization header requires '{name}' parameter."
            for name in ("Credential", "Signature", "SignedHeaders")
            if name not in parts
        ]
        if amz_date is None and date_header is None:
            problems.append(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            )
        if algorithm != "AWS4-HMAC-SHA256" or problems:
            if algorithm != "AWS4-HMAC-SHA256":
                problems.insert(0, f"Unsupported Authorization Type: '{algorithm}'.")
            raise AwsError(
                "IncompleteSignatureException", " ".join(problems) + f" Authorization={header}", 403
            )

        credential = parts["Credential"]
        scope = credential.split("/")
        if len(scope) != 5:
            raise AwsError(
                "IncompleteSignatureException",
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
                f" got '{credential}'",
                403,
            )
        access_key, scope_date, region, service, terminator = scope
        auth = Auth(access_key=access_key, region=region)
        if service != SERVICE_NAME:
            raise AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE_NAME}'. ",
                403,
            )
        if terminator != "aws4_request":
            raise AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. ",
                403,
            )
        if self.settings.region is not None and region != self.settings.region:
            raise AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'. ",
                403,
            )
        signed_headers = parts["SignedHeaders"].split(";")
        if "host" not in signed_headers:
            raise AwsError(
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                403,
            )
        try:
            if amz_date is not None:
                request_time = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                timestamp = amz_date
            else:
                request_time = email.utils.parsedate_to_datetime(cast(str, date_header)).astimezone(UTC)
                timestamp = request_time.strftime("%Y%m%dT%H%M%SZ")
        except (ValueError, TypeError):
            raise AwsError(
                "IncompleteSignatureException",
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.",
                403,
            ) from None
        if scope_date != timestamp[:8]:
            raise AwsError(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope_date}' != '{timestamp[:8]}', from '{timestamp}'.",
                403,
            )
        now = datetime.now(UTC)
        fmt = "%Y%m%dT%H%M%SZ"
        if request_time < now - MAX_CLOCK_SKEW:
            raise AwsError(
                "InvalidSignatureException",
                f"Signature expired: {timestamp} is now earlier than {(now - MAX_CLOCK_SKEW).strftime(fmt)} "
                f"({now.strftime(fmt)} - 5 min.)",
                403,
            )
        if request_time > now + MAX_CLOCK_SKEW:
            raise AwsError(
                "InvalidSignatureException",
                f"Signature not yet current: {timestamp} is still later than "
                f"{(now + MAX_CLOCK_SKEW).strftime(fmt)} ({now.strftime(fmt)} + 5 min.)",
                403,
            )
        if self.settings.credentials is None:
            return auth
        secret = self.settings.credentials.get(access_key)
        if secret is None:
            log.warning(
                "FakeIncidentManager: unknown access key %r (known: %s); pass credentials= to the fake",
                access_key,
                sorted(self.settings.credentials),
            )
            raise AwsError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        expected = self._signature(request, body, signed_headers, timestamp, scope_date, region, secret)
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise AwsError("InvalidSignatureException", SIGNATURE_MISMATCH, 403)
        return auth

    @staticmethod
    def _signature(
        request: web.BaseRequest,
        body: bytes,
        signed_headers: list[str],
        timestamp: str,
        scope_date: str,
        region: str,
        secret: str,
    ) -> str:
        raw_path, _, raw_query = request.raw_path.partition("?")
        normalized = posixpath.normpath(raw_path) if raw_path not in ("", "/") else "/"
        if raw_path.endswith("/") and not normalized.endswith("/"):
            normalized += "/"
        canonical_uri = quote(normalized, safe="/~")
        pairs = sorted(tuple(p.partition("=")[::2]) for p in raw_query.split("&")) if raw_query else []
        canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
        canonical_headers = "".join(
            f"{name}:{','.join(' '.join(v.split()) for v in request.headers.getall(name, []))}\n"
            for name in signed_headers
        )
        payload_hash = request.headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
        canonical_request = "\n".join(
            [
                request.method,
                canonical_uri,
                canonical_query,
                canonical_headers,
                ";".join(signed_headers),
                payload_hash,
            ]
        )
        scope = f"{scope_date}/{region}/{SERVICE_NAME}/aws4_request"
        string_to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key = f"AWS4{secret}".encode()
        for part in (scope_date, region, SERVICE_NAME, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
