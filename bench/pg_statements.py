"""Benchmark: a worker's CPU per single-statement transaction on PostgreSQL, per way of running it.

The WhatsApp channel runs three or four single statements per message (bot/channels/twilio/_pg.py). This
runs one parameterised statement N times, sequentially, each its own transaction, through:

* ``sqlalchemy`` — ``engine.begin()`` + ``conn.execute(text(...))``: SQLAlchemy Core, as elsewhere;
* ``pool+autocommit`` — a connection borrowed from the engine's pool per statement, switched to
  autocommit and back (what ``DirectStatements`` did before);
* ``direct`` — ``DirectStatements.one``: its own connections, in autocommit mode for good.

Prints CPU µs per statement (``time.process_time``: this process only, the server's work is not counted)
and wall µs, the median of ``--rounds`` alternating rounds.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/pg_statements.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SQL = "SELECT %(a)s::int + 1"


def pooled_autocommit(engine: Any) -> Callable[[], Any]:
    def run() -> Any:
        pooled = engine.raw_connection()
        conn = pooled.driver_connection
        try:
            conn.autocommit = True
            return conn.execute(SQL, {"a": 1}).fetchone()
        finally:
            conn.autocommit = False
            pooled.close()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database, e.g. postgresql://postgres@127.0.0.1:5432/test")

    from sqlalchemy import text

    from bot.channels.twilio._pg import DirectStatements
    from bot.db import make_engine

    engine = make_engine(url)
    direct = DirectStatements(engine)
    statement = text("SELECT CAST(:a AS integer) + 1")

    def core() -> Any:
        with engine.begin() as conn:
            return conn.execute(statement, {"a": 1}).one()

    ways: dict[str, Callable[[], Any]] = {"sqlalchemy": core, "pool+autocommit": pooled_autocommit(engine),
                                          "direct": lambda: direct.one(SQL, {"a": 1})}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, run in ways.items():
            for _ in range(100):  # warm: connections open, statements prepared
                run()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.n):
                run()
            results[name].append(((time.process_time() - cpu) / args.n * 1e6,
                                  (time.perf_counter() - wall) / args.n * 1e6))
    engine.dispose()
    print(f"N={args.n} statements x {args.rounds} rounds (median), each its own transaction")
    for name, rounds in results.items():
        print(f"{name:16s} CPU {statistics.median(r[0] for r in rounds):6.1f} µs/statement   "
              f"wall {statistics.median(r[1] for r in rounds):6.1f} µs/statement")


if __name__ == "__main__":
    main()
