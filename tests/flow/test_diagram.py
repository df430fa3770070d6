"""``bot flow diagram``: Mermaid, SVG and PNG from python-statemachine's renderers, nothing hand-drawn."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import bot.flow.commands
from bot.app.cli import main
from flows.clinic import ClinicFlow

HAS_PYDOT = importlib.util.find_spec("pydot") is not None
HAS_DOT = shutil.which("dot") is not None
needs_graphviz = pytest.mark.skipif(
    not (HAS_PYDOT and HAS_DOT),
    reason="the SVG/PNG checks need pydot (the `plot` extra) and Graphviz's `dot` (apt-get install graphviz)",
)
SVG = "{http://www.w3.org/2000/svg}"

COMPOUNDS = [s for s in ClinicFlow.states_map.values() if s.is_compound]
HISTORIES = [h for s in COMPOUNDS for h in s.history]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("diagram") / "flow"
    code = main(["flow", "diagram", "--out", str(out)])
    assert code == (0 if HAS_PYDOT and HAS_DOT else 2)  # 2: the Mermaid is written, then it says why not
    return out


def _groups(svg: Path, cls: str) -> dict[str, list[str]]:
    """``<title>`` → visible texts of each ``<g class=cls>`` in the SVG."""
    root = ET.parse(svg).getroot()
    return {
        g.findtext(f"{SVG}title", ""): [t.text or "" for t in g.iter(f"{SVG}text")]
        for g in root.iter(f"{SVG}g")
        if g.get("class") == cls
    }


def test_the_chart_has_what_the_diagram_must_show() -> None:
    # the checks below are only as good as the chart's own compound and history states
    assert COMPOUNDS and HISTORIES


def test_the_mermaid_shows_the_compound_state_and_its_history(drawn: Path) -> None:
    mermaid = drawn.with_suffix(".mmd").read_text(encoding="utf-8")
    assert mermaid.startswith("stateDiagram-v2")
    for compound in COMPOUNDS:
        assert f'state "{compound.name}" as {compound.id} {{' in mermaid
    for history in HISTORIES:
        assert f'state "H" as {history.id}' in mermaid


@needs_graphviz
def test_the_command_writes_svg_and_png(drawn: Path) -> None:
    png = drawn.with_suffix(".png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert 400 < width < 4000 and 400 < height < 4000, (width, height)
    assert drawn.with_suffix(".svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


@needs_graphviz
def test_the_svg_draws_the_compound_state_and_its_history(drawn: Path) -> None:
    svg = drawn.with_suffix(".svg")
    clusters = _groups(svg, "cluster")
    nodes = _groups(svg, "node")
    for compound in COMPOUNDS:
        assert clusters.get(f"cluster_{compound.id}") == [compound.name]
    for history in HISTORIES:
        assert nodes.get(history.id) == ["H"]
    # every state is drawn, once, under its name; no other labelled box (e.g. a stray "<state>_anchor")
    names = [s.name for s in ClinicFlow.states_map.values() if not s.is_compound]
    labels = [text for texts in nodes.values() for text in texts]
    assert sorted(labels) == sorted([*names, *["H"] * len(HISTORIES)])


def test_without_dot_the_command_writes_the_mermaid_and_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not HAS_PYDOT:
        pytest.skip("pydot (the `plot` extra) is not installed: the missing-`dot` message comes after it")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "flow"
    assert main(["flow", "diagram", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"wrote {out.with_suffix('.mmd')}" in err
    assert "apt-get install graphviz" in err
    assert out.with_suffix(".mmd").read_text(encoding="utf-8").startswith("stateDiagram-v2")
    assert not out.with_suffix(".png").exists()


def test_without_pydot_the_command_writes_the_mermaid_and_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pydot", None)  # import pydot now raises ImportError
    out = tmp_path / "flow"
    assert main(["flow", "diagram", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"wrote {out.with_suffix('.mmd')}" in err
    assert "clinic-bot[plot]" in err
    assert out.with_suffix(".mmd").exists()


def test_the_drawing_code_names_no_phase_and_draws_nothing_by_hand() -> None:
    source = Path(bot.flow.commands.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    ids = {*ClinicFlow.states_map, *(h.id for h in HISTORIES)}
    assert not strings & ids, strings & ids
    imported = {
        alias.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for alias in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])
    }
    assert "matplotlib" not in imported


@needs_graphviz
def test_the_svg_is_the_same_on_every_run(drawn: Path, tmp_path: Path) -> None:
    # docs/flow.svg is committed: a regeneration without a change to the chart must not show a diff
    again = tmp_path / "flow"
    bot.flow.commands.write_diagrams(ClinicFlow, again)
    assert again.with_suffix(".svg").read_bytes() == drawn.with_suffix(".svg").read_bytes()
