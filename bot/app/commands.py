"""CLI commands that need the composition root: the clinic's chart (``bot flow diagram``) and the
installed channels (``bot retention run``); the rest live with the package they belong to."""

from __future__ import annotations

import argparse
from pathlib import Path


def diagram_command(args: argparse.Namespace) -> int:
    from bot.flow.commands import write_diagrams
    from flows.clinic import ClinicFlow

    written = write_diagrams(ClinicFlow, Path(args.out))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def retention_run_command(args: argparse.Namespace) -> int:
    """``bot retention run`` with the erasers of the installed channels (compliance knows no channel)."""
    from bot.app.wiring import channel_erasers
    from bot.compliance.commands import retention_run_command as run

    return run(args, erasers=channel_erasers())
