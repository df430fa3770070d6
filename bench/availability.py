"""Benchmark of slot search (``find_slots``) on the repo's clinic.yml with a busy month.

Prints milliseconds per search (best of N rounds, and p50/p99 over all searches) for three kinds of
question: the earliest slots, near a moment, and inside a window. Goal: < 2 ms per search (a booking
turn may search several times). Run from the project directory:

    .venv/bin/python bench/availability.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.scheduling.availability import Near, find_slots  # noqa: E402
from bot.scheduling.clinic_loader import load_clinic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of 60 searches (default 20)")
    args = parser.parse_args()
    clinic = load_clinic(ROOT / "clinic.yml")
    tz = clinic.timezone
    monday = datetime(2026, 11, 30, 7, 0, tzinfo=tz)
    physicians = [p.id for p in clinic.physicians]
    service = clinic.services[0].id
    # a busy month: every physician holds a 30-minute appointment every second hour, 09:00-19:00
    taken = [
        (pid, monday + timedelta(days=d, hours=2 + h), monday + timedelta(days=d, hours=2 + h, minutes=30))
        for d in range(30)
        for h in range(0, 10, 2)
        for pid in physicians
    ]
    cases: dict[str, Near] = {
        "earliest": None,
        "near a moment": monday + timedelta(days=3, hours=3),
        "in a window": (monday + timedelta(days=1, hours=5), monday + timedelta(days=1, hours=12)),
    }
    print(f"clinic.yml: {len(physicians)} physicians, {len(taken)} booked appointments, service {service}")
    for label, near in cases.items():
        samples: list[float] = []
        best = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(60):
                s0 = time.perf_counter()
                find_slots(clinic, taken, service_id=service, near=near, now=monday)
                samples.append((time.perf_counter() - s0) * 1000)
            best = min(best, (time.perf_counter() - t0) / 60 * 1000)
        q = statistics.quantiles(samples, n=100)
        print(f"{label:>14}: best round {best:.3f} ms/search, p50 {q[49]:.3f} ms, p99 {q[98]:.3f} ms")


if __name__ == "__main__":
    main()
