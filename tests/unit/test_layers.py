"""The pure domain imports nothing but itself and the standard library (lint-imports checks the layers
between bot's packages; this checks what no contract can list: every third-party package there is)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module)
    return roots


def test_the_domain_imports_only_itself_and_the_standard_library() -> None:
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) >= 6
    outside = {
        f"{path.name}: {name}"
        for path in files
        for name in imported_roots(path)
        if not (name == "bot.domain" or name.startswith("bot.domain."))
        and name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}
    }
    assert outside == set()
