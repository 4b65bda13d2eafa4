"""botocore's ssm-incidents model, and the wire formats its rest-json protocol uses.

Everything here is stateless: the cached service model, Java-regex translation for the model's
``pattern`` traits, and the timestamp / JSON-type helpers the (de)serializers share.
"""

from __future__ import annotations

import calendar
import email.utils
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import botocore.session

SERVICE_NAME = "ssm-incidents"

INT_RANGES: Mapping[str, tuple[int, int]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
}

_LINE_TERMINATORS = "\\n\\r\\u0085\\u2028\\u2029"


@cache
def service_model() -> Any:
    """botocore's ServiceModel for ssm-incidents (cached)."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def iter_model_patterns() -> Iterator[str]:
    """Every ``pattern`` in the ssm-incidents model (for tests that they all compile)."""
    model = service_model()
    for name in model.shape_names:
        pattern = model.shape_for(name).metadata.get("pattern")
        if pattern:
            yield pattern


def java_regex_to_python(pattern: str) -> str:
    """Translate the Java-regex features AWS patterns use whose meaning differs in Python.

    Java's ``.`` excludes all line terminators and ``$`` (without MULTILINE) matches at the end or
    before a final line terminator; Python's only know ``\\n``.  Everything else the model uses
    (classes, groups, ``{m,n}``, ``(?!...)``) means the same in both.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
            # A leading ']' (or '^]') is literal in both dialects.
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                out.append("\\]")
                i += 1
        elif ch == ".":
            out.append(f"[^{_LINE_TERMINATORS}]")
        elif ch == "$":
            out.append(f"(?=(?:\\r\\n|[{_LINE_TERMINATORS}])?\\Z)")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@cache
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(java_regex_to_python(pattern))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def to_datetime(epoch: float) -> datetime:
    whole = math.floor(epoch)
    millis = round((epoch - whole) * 1000)
    return datetime.fromtimestamp(whole, UTC) + timedelta(milliseconds=millis)


def truncate_ms(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def epoch(value: datetime) -> float | int:
    ts = calendar.timegm(value.utctimetuple()) + value.microsecond // 1000 / 1000
    return int(ts) if float(ts).is_integer() else round(ts, 3)


def _parse_iso8601(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def timestamp_from_string(text: str, fmt: str) -> datetime:
    if fmt == "unixtimestamp":
        return to_datetime(float(text))
    if fmt == "rfc822":
        return email.utils.parsedate_to_datetime(text).astimezone(UTC)
    return _parse_iso8601(text)
