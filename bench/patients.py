"""Simulated patients against the real assistant on the embedded default: figures and failure classes.

Generates ``--count`` patients (``tests/patients/generator.py``, deterministic for ``--seed``) with a goal
(book, reschedule, cancel, ask then book, change their mind), plays each one against the processor
(memory tracker and lock stores, a fresh SQLite database, the NLU model trained from the current data,
a fixed clock: Monday 2026-11-23 10:00 America/Mexico_City, or the Sunday 23:30 before it) and checks its
goal in the database. Prints the completion rate, mean patient messages to book, mean assistant messages
per booking, triple repeats, stuck and wrong-day conversations, failures by class and incidents;
``--show K`` adds one transcript for each of the K most frequent failure classes. Run from the project
directory:

    .venv/bin/python bench/patients.py [--seed S] [--count N] [--show K] [--only P001,P017] [--tz ZONE]
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _environment(tz: str | None) -> tempfile.TemporaryDirectory[str]:
    """The embedded default, isolated: a throw-away var/ and data key, no DATABASE_URL or REDIS_URL."""
    tmp = tempfile.TemporaryDirectory(prefix="bench-patients-")
    os.environ["BOT_VAR_DIR"] = tmp.name
    os.environ.setdefault("BOT_DATA_KEY", base64.b64encode(b"p" * 32).decode())
    os.environ["BOT_ENV"] = "development"
    for name in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"):
        os.environ.pop(name, None)
    if tz:
        os.environ["TZ"] = tz
        time.tzset()
    return tmp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--count", type=int, default=200, help="patients (default 200)")
    parser.add_argument("--show", type=int, default=0, help="transcripts of the K most frequent failures")
    parser.add_argument("--only", default="", help="comma-separated patient ids: run and print only these")
    parser.add_argument("--models", default="", help="a models directory to use (default: train afresh)")
    parser.add_argument("--tz", default="", help="the process time zone, e.g. UTC or Pacific/Auckland")
    args = parser.parse_args()
    tmp = _environment(args.tz or None)
    try:
        return _run(args, Path(tmp.name))
    finally:
        tmp.cleanup()


def _run(args: argparse.Namespace, tmp: Path) -> int:
    import logging

    logging.disable(logging.CRITICAL)  # the audit key notice, turn tracebacks (counted as "error" incidents)
    from bot.nlu.model import load_latest
    from tests.patients.generator import generate
    from tests.patients.metrics import figures, report, transcript
    from tests.patients.simulator import Harness

    os.chdir(ROOT)
    started = time.perf_counter()
    models = Path(args.models) if args.models else tmp / "models"
    interpreter = load_latest(models, train_if_missing=True)
    trained = time.perf_counter() - started
    patients = generate(args.seed, args.count)
    if args.only:
        wanted = {x.strip() for x in args.only.split(",")}
        patients = [p for p in patients if p.id in wanted]
    with Harness(interpreter) as harness:
        ran = time.perf_counter()
        conversations = harness.run_all(patients)
        elapsed = time.perf_counter() - ran
    if args.only:
        print("\n\n".join(transcript(c) for c in conversations))
        return 0
    f = figures(conversations)
    print(f"bench/patients.py --seed {args.seed} --count {args.count}"
          f"{f' --tz {args.tz}' if args.tz else ''}  (model {trained:.1f} s, "
          f"{elapsed:.1f} s for {len(conversations)} conversations)")  # fmt: skip
    print(report(f, show=args.show))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
