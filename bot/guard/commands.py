"""``bot guard check``: one message per stdin line in, one JSON verdict per line out.

The operator sees the text they typed echoed back next to the verdict; nothing is logged.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot import settings
from bot.guard.gate import load_gate

__all__ = ["check_command"]


def check_command(args: argparse.Namespace) -> int:
    """Print ``{"text", "allowed", "categories", "spans"}`` per input line; exit 0 even when blocked."""
    channel = getattr(args, "channel", None) or "whatsapp"
    gate = load_gate(settings.project_dir())
    out = sys.stdout
    for raw in sys.stdin:
        text = raw.rstrip("\r\n")
        verdict = gate.check(text, channel=channel)
        record = {
            "text": text,
            "allowed": verdict.allowed,
            "categories": list(verdict.categories),
            "spans": [[s.start, s.end, s.category] for s in verdict.spans],
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
    return 0
