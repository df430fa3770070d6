"""``bot flow diagram``: the clinic's chart drawn by python-statemachine's own renderers.

The Mermaid text comes from its Mermaid renderer; the SVG and PNG from its Graphviz renderer, which draws
the compound state as a cluster and its history state as an ``H`` node, laid out by Graphviz's ``dot``.
That renderer needs pydot (the ``plot`` extra) and the ``dot`` program (Debian's ``graphviz`` package);
the running assistant needs neither, so both are reached only here, lazily. Without them the Mermaid is
still written and the command says what to install.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import BotError, ConfigError

if TYPE_CHECKING:
    from statemachine import StateChart

#: Graphviz attributes on top of the renderer's: top to bottom follows the script's order and fits a page
#: (left to right is twice as wide, with the labels of the edges leaving the compound state piled up);
#: more room between nodes keeps the edge labels inside the compound state off each other.
_GRAPH_ATTRS = {"rankdir": "TB", "nodesep": "0.9", "ranksep": "0.6"}


def write_diagrams(chart: type[StateChart], out: Path) -> list[Path]:
    """Write ``out`` with the suffixes .mmd, .svg and .png; the Mermaid first, whatever fails after."""
    from statemachine.contrib.diagram import formatter

    out.parent.mkdir(parents=True, exist_ok=True)
    mmd = out.with_suffix(".mmd")
    mmd.write_text(formatter.render(chart, "mermaid"), encoding="utf-8")
    dot_source = _stable_names(dot_graph(chart, mmd).to_string())
    written = [mmd]
    for fmt in ("svg", "png"):
        path = out.with_suffix(f".{fmt}")
        path.write_bytes(_run_dot(dot_source, fmt, mmd))
        written.append(path)
    return written


def dot_graph(chart: type[StateChart], written: Path | None = None) -> Any:
    """The chart as a ``pydot.Dot`` from python-statemachine's Graphviz renderer."""
    try:
        import pydot
    except ImportError as e:
        raise ConfigError(
            f"{_wrote(written)}the SVG and PNG need pydot, which is not installed: "
            "pip install 'clinic-bot[plot]' (or 'make install', which installs the dev extra)"
        ) from e
    from statemachine.contrib.diagram import DotGraphMachine

    graph = DotGraphMachine(chart).get_graph()
    for name, value in _GRAPH_ATTRS.items():
        graph.set(name, value)
    _anchor_cluster_edges(graph, pydot)
    return graph


def _anchor_cluster_edges(graph: Any, pydot: Any) -> None:
    """Give every edge clipped at a cluster (``lhead``/``ltail``) an end node inside that cluster.

    python-statemachine 3.2.2 points the initial arrow of a compound state that is both entered and left
    by transitions at an anchor node it never declares, so ``dot`` draws a stray ellipse named
    ``<state>_anchor`` outside the cluster. Declaring that node, invisible, inside the cluster puts the
    arrow on the cluster's border. A no-op once the renderer declares its anchors itself.
    """
    declared: set[str] = set()
    clusters: dict[str, Any] = {}
    edges: list[Any] = []

    def walk(g: Any) -> None:
        declared.update(n.get_name().strip('"') for n in g.get_nodes())
        edges.extend(g.get_edges())
        for sub in g.get_subgraphs():
            clusters[sub.get_name().strip('"')] = sub
            walk(sub)

    walk(graph)
    for edge in edges:
        for end, cluster_attr in ((edge.get_destination(), "lhead"), (edge.get_source(), "ltail")):
            name, cluster = str(end).strip('"'), str(edge.get(cluster_attr) or "").strip('"')
            if name not in declared and cluster in clusters:
                clusters[cluster].add_node(
                    pydot.Node(name, shape="point", style="invis", width=0, height=0, fixedsize="true")
                )
                declared.add(name)


def _stable_names(dot_source: str) -> str:
    """Number the renderer's helper nodes and clusters in order: it names them after ``id()`` of Python
    objects, which would change the committed SVG on every run."""
    numbers: dict[str, str] = {}
    return re.sub(
        r"\b(__initial_|cluster___atomic_)(\d+)",
        lambda m: m[1] + numbers.setdefault(m[2], str(len(numbers))),
        dot_source,
    )


def _run_dot(dot_source: str, fmt: str, written: Path) -> bytes:
    from statemachine.contrib.diagram import GraphvizError, GraphvizNotFoundError, run_graphviz

    try:
        return run_graphviz(dot_source, fmt)
    except GraphvizNotFoundError as e:
        raise ConfigError(
            f"{_wrote(written)}the SVG and PNG need Graphviz's `dot` program, which is not on PATH: "
            "apt-get install graphviz (Debian/Ubuntu; brew install graphviz on macOS; "
            "others: https://graphviz.org/download/)"
        ) from e
    except GraphvizError as e:
        raise BotError(f"{_wrote(written)}Graphviz could not draw the {fmt.upper()}: {e}") from e


def _wrote(path: Path | None) -> str:
    return f"wrote {path}, but " if path is not None else ""
