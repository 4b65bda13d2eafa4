"""Routing: every modeled operation, found by ``http.method`` + ``http.requestUri``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote


@dataclass(frozen=True)
class Route:
    operation: Any
    method: str
    regex: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name
    literal_query: tuple[tuple[str, str], ...]
    literal_length: int


def build_routes(model: Any) -> list[Route]:
    routes: list[Route] = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri: str = op.http["requestUri"]
        path, _, query = uri.partition("?")
        labels: dict[str, str] = {}
        parts: list[str] = []
        literal_length = 0
        pos = 0
        for m in re.finditer(r"\{([^}]+)\}", path):
            literal = path[pos : m.start()]
            parts.append(re.escape(literal))
            literal_length += len(literal)
            label = m.group(1)
            group = f"g{len(labels)}"
            if label.endswith("+"):
                labels[group] = label[:-1]
                parts.append(f"(?P<{group}>.+)")
            else:
                labels[group] = label
                parts.append(f"(?P<{group}>[^/]+)")
            pos = m.end()
        parts.append(re.escape(path[pos:]))
        literal_length += len(path) - pos
        regex = re.compile("^" + "".join(parts).rstrip("/") + "/?$")
        literal_query = tuple(parse_qsl(query, keep_blank_values=True))
        routes.append(Route(op, op.http["method"], regex, labels, literal_query, literal_length))
    # Most specific first: more literal characters, then more literal query parameters.
    routes.sort(key=lambda r: (-r.literal_length, -len(r.literal_query)))
    return routes


class Router:
    """Matches a request to the most specific route of the model."""

    def __init__(self, model: Any) -> None:
        self._routes = build_routes(model)

    def match(
        self, method: str, raw_path: str, query: list[tuple[str, str]]
    ) -> tuple[Any, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            m = route.regex.match(raw_path)
            if m is None:
                continue
            if any((k, v) not in query for k, v in route.literal_query):
                continue
            return route.operation, {route.labels[g]: unquote(v) for g, v in m.groupdict().items()}
        return None
