"""bot.core imports no channel, store, web framework or SDK module (DESIGN.md convention 2)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "bot" / "core"
FORBIDDEN = (
    "bot.channels",
    "bot.stores",
    "bot.app.server",
    "bot.app.wiring",
    "bot.compliance",
    "bot.guard",
    "starlette",
    "uvicorn",
    "httpx",
    "redis",
    "sqlalchemy",
    "psycopg",
    "twilio",
    "anthropic",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_modules_import_nothing_from_the_edges() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in CORE.glob("*.py")
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not offenders, offenders
