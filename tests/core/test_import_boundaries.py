"""The layers hold (DESIGN.md "Layout"): a package imports only from its own layer or below, and bot.core
imports no channel, store, web framework or SDK module (convention 2). No import cycle between packages.

A function-level import counts like a module-level one: deferring an import does not change the layering.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "bot" / "core"

# lowest first; every package of the project is in exactly one layer
LAYERS: list[set[str]] = [
    {"bot.errors", "bot.settings", "bot.config_files", "bot.db", "bot.edge", "bot.metrics",
     "bot.client_address"},  # base
    {"bot.core"},
    {"bot.nlu", "bot.nlg", "bot.guard", "bot.flow", "flows", "policies"},
    {"bot.scheduling", "bot.compliance", "bot.stores"},
    {"bot.channels", "bot.inbox", "bot.portal", "actions"},
    {"bot.app", "bot.report", "bot.testing", "bot.migrations"},  # what composes and runs the rest
]
LAYER_OF = {package: i for i, layer in enumerate(LAYERS) for package in layer}
CORE_FORBIDDEN = ("starlette", "uvicorn", "httpx", "redis", "sqlalchemy", "psycopg", "twilio", "anthropic")


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "bot" and len(parts) > 1:
        return f"bot.{parts[1]}"
    return parts[0] if parts[0] in ("actions", "policies", "flows") else None


def _modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("bot", "actions", "policies", "flows"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # ``from bot import db``
    return names


def _edges() -> dict[str, set[tuple[str, str]]]:
    """package → {(imported package, importing module)}."""
    edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for module, path in _modules():
        source = _package(module) or module
        for name in _imports(path):
            target = _package(name)
            if target is not None and target != source:
                edges[source].add((target, module))
    return edges


def test_every_package_has_a_layer() -> None:
    packages = {_package(module) for module, _ in _modules()} - {None}
    assert packages <= set(LAYER_OF), f"add to LAYERS: {sorted(packages - set(LAYER_OF))}"


def test_no_package_imports_from_a_higher_layer() -> None:
    offenders = sorted(
        f"{module} imports {target} (layer {LAYER_OF[target]} > {LAYER_OF[source]})"
        for source, targets in _edges().items()
        for target, module in targets
        if source in LAYER_OF and target in LAYER_OF and LAYER_OF[target] > LAYER_OF[source]
    )
    assert not offenders, "\n".join(offenders)


def test_no_import_cycle_between_packages() -> None:
    graph = {source: {target for target, _ in targets} for source, targets in _edges().items()}
    cycles = sorted(
        f"{a} <-> {b}" for a, targets in graph.items() for b in targets if a < b and a in graph.get(b, ())
    )
    assert not cycles, cycles


def test_core_modules_import_nothing_from_the_edges() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in CORE.glob("*.py")
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in CORE_FORBIDDEN)
    }
    assert not offenders, offenders
