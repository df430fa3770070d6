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

    code = run(args, erasers=channel_erasers())
    if code == 0:
        _purge_portal(bool(args.dry_run))
    return code


def _purge_portal(dry_run: bool) -> None:
    """The portal's spent one-time links, ended sessions and past lockouts (hashes only; a day kept)."""
    from sqlalchemy import inspect

    from bot.db import get_engine
    from bot.portal.commands import purge

    engine = get_engine()
    if "portal_link" not in inspect(engine).get_table_names():
        return
    if dry_run:
        print("portal: links, sessions and lockouts not purged (dry run)")
        return
    counts = purge(engine)
    print("portal: purged " + ", ".join(f"{v} {k}" for k, v in counts.items()))
