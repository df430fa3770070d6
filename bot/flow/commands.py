"""``bot flow diagram``: the clinic flow as Mermaid (python-statemachine's renderer) and as a PNG.

The PNG is drawn with matplotlib (no Graphviz binary needed): phases on a circle, transitions as
labelled arrows, the compound ``assistant`` phases shaded. matplotlib is an optional extra (``plot``,
included in ``dev``): the running assistant does not need it, so it is imported only here, lazily.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from bot.errors import ConfigError


def diagram_command(args: argparse.Namespace) -> int:
    from bot.flow.runtime import Flow
    from flows.clinic import PHASES, ClinicFlow

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = ClinicFlow()
    mermaid = f"{machine:mermaid}"
    out.with_suffix(".mmd").write_text(mermaid, encoding="utf-8")
    flow = Flow(ClinicFlow, PHASES)
    _require_matplotlib(out.with_suffix(".mmd"))
    write_png(flow, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.mmd')} and {out.with_suffix('.png')}")
    return 0


def _require_matplotlib(written: Path) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ConfigError(
            f"wrote {written}, but the PNG needs matplotlib, which is not installed: "
            "pip install 'clinic-bot[plot]' (or 'make install', which installs the dev extra)"
        ) from e


def write_png(flow: object, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    leaves = [
        "greeting",
        "consent",
        "intake",
        "booking",
        "confirmation",
        "follow_up",
        "handoff",
        "opted_out",
        "closed",
    ]
    pos = {
        name: (math.cos(2 * math.pi * i / len(leaves)), math.sin(2 * math.pi * i / len(leaves)))
        for i, name in enumerate(leaves)
    }
    edges: dict[tuple[str, str], list[str]] = {}
    for leaf in leaves:
        for event, target in flow._outgoing(leaf):  # type: ignore[attr-defined]
            for entry in flow._entry_leaves(target):  # type: ignore[attr-defined]
                if entry != leaf and not (target.id == "resume" and entry != "greeting"):
                    edges.setdefault((leaf, entry), []).append(event)
    fig, ax = plt.subplots(figsize=(12, 12))
    for (src, dst), events in edges.items():
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        ax.annotate(
            "",
            xy=(x2, y2),
            xytext=(x1, y1),
            arrowprops={
                "arrowstyle": "->",
                "color": "#888",
                "shrinkA": 28,
                "shrinkB": 28,
                "connectionstyle": "arc3,rad=0.12",
            },
        )
        ax.text(
            (x1 + x2) / 2,
            (y1 + y2) / 2,
            "\n".join(sorted(set(events)))[:60],
            fontsize=6,
            ha="center",
            color="#444",
        )
    for name, (x, y) in pos.items():
        colour = "#dbeafe" if name not in ("handoff", "opted_out", "closed") else "#fde68a"
        ax.text(
            x,
            y,
            name,
            ha="center",
            va="center",
            fontsize=11,
            bbox={"boxstyle": "round,pad=0.6", "fc": colour, "ec": "#333"},
        )
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.axis("off")
    ax.set_title("Clinic conversation flow (blue: assistant phases; handoff resumes the phase it left)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
