"""Request validation: parameters checked against the input shape, reported the way AWS words it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from .model import INT_RANGES, compiled_pattern


class Validator:
    """Checks parameters against a shape the way AWS's service-side validation reports it."""

    def __init__(self, length_unit: Literal["utf16", "codepoints"], reject_unknown: bool) -> None:
        self.length_unit = length_unit
        self.reject_unknown = reject_unknown

    def validate(self, shape: Any, params: Mapping[str, Any], unknown: list[str]) -> list[str]:
        errors: list[str] = []
        if self.reject_unknown:
            for path in unknown:
                errors.append(
                    f"Value at '{path}' failed to satisfy constraint: Member is not modeled in "
                    f"{shape.name} (the fake rejects unknown members)"
                )
        if shape is not None:
            self._structure(shape, params, "", errors)
        return errors

    def _length(self, value: str) -> int:
        if self.length_unit == "utf16":
            return len(value.encode("utf-16-le")) // 2
        return len(value)

    @staticmethod
    def _join(path: str, name: str) -> str:
        return f"{path}.{name}" if path else name

    def _render(self, value: Any) -> str:
        return "null" if value is None else f"'{self._java(value)}'"

    def _java(self, value: Any) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(self._java(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}={self._java(v)}" for k, v in value.items()) + "}"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, bytes):
            return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
        return str(value)

    def _fail(self, errors: list[str], value: Any, path: str, constraint: str) -> None:
        errors.append(f"Value {self._render(value)} at '{path}' failed to satisfy constraint: {constraint}")

    def _structure(self, shape: Any, value: Mapping[str, Any], path: str, errors: list[str]) -> None:
        for name in shape.required_members:
            if value.get(name) is None:
                self._fail(errors, None, self._join(path, name), "Member must not be null")
        if shape.is_tagged_union:
            set_members = sorted(k for k, v in value.items() if v is not None)
            if len(set_members) != 1:
                self._fail(
                    errors,
                    dict(value),
                    path or shape.name,
                    f"Union must have exactly one member set, but {len(set_members)} were set"
                    + (f": [{', '.join(set_members)}]" if set_members else ""),
                )
        for name, item in value.items():
            if item is None or name not in shape.members:
                continue
            self._value(shape.members[name], item, self._join(path, name), errors)

    def _value(self, shape: Any, value: Any, path: str, errors: list[str]) -> None:
        kind = shape.type_name
        if kind == "structure":
            if isinstance(value, dict):
                self._structure(shape, value, path, errors)
            return
        if kind == "list":
            self._count(shape, value, path, errors)
            for i, item in enumerate(value):
                item_path = f"{path}.{i + 1}.member"
                if item is None:
                    self._fail(errors, None, item_path, "Member must not be null")
                else:
                    self._value(shape.member, item, item_path, errors)
            return
        if kind == "map":
            self._count(shape, value, path, errors)
            for key, item in value.items():
                key_errors = self._scalar_constraints(shape.key, key)
                if key_errors:
                    self._fail(
                        errors, value, path, f"Map keys must satisfy constraint: [{', '.join(key_errors)}]"
                    )
                if item is None:
                    self._fail(
                        errors, value, path, "Map value must satisfy constraint: [Member must not be null]"
                    )
                elif shape.value.type_name in ("structure", "list", "map"):
                    self._value(shape.value, item, f"{path}.{key}", errors)
                else:
                    value_errors = self._scalar_constraints(shape.value, item)
                    if value_errors:
                        self._fail(
                            errors,
                            value,
                            path,
                            f"Map value must satisfy constraint: [{', '.join(value_errors)}]",
                        )
            return
        for constraint in self._scalar_constraints(shape, value):
            self._fail(errors, value, path, constraint)

    def _count(self, shape: Any, value: Any, path: str, errors: list[str]) -> None:
        meta = shape.metadata
        if "max" in meta and len(value) > meta["max"]:
            self._fail(errors, value, path, f"Member must have length less than or equal to {meta['max']}")
        if "min" in meta and len(value) < meta["min"]:
            self._fail(errors, value, path, f"Member must have length greater than or equal to {meta['min']}")

    def _scalar_constraints(self, shape: Any, value: Any) -> list[str]:
        meta = shape.metadata
        found: list[str] = []
        kind = shape.type_name
        if kind == "string":
            enum = meta.get("enum")
            if enum and value not in enum:
                found.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
            length = self._length(value)
            if "max" in meta and length > meta["max"]:
                found.append(f"Member must have length less than or equal to {meta['max']}")
            if "min" in meta and length < meta["min"]:
                found.append(f"Member must have length greater than or equal to {meta['min']}")
            pattern = meta.get("pattern")
            if pattern and not compiled_pattern(pattern).search(value):
                found.append(f"Member must satisfy regular expression pattern: {pattern}")
        elif kind == "blob":
            if "max" in meta and len(value) > meta["max"]:
                found.append(f"Member must have length less than or equal to {meta['max']}")
            if "min" in meta and len(value) < meta["min"]:
                found.append(f"Member must have length greater than or equal to {meta['min']}")
        elif kind in INT_RANGES or kind in ("float", "double"):
            if "max" in meta and value > meta["max"]:
                found.append(f"Member must have value less than or equal to {meta['max']}")
            if "min" in meta and value < meta["min"]:
                found.append(f"Member must have value greater than or equal to {meta['min']}")
        return found
