"""Compare Spanish (MX) date/time extractors on tests/nlu/time_expressions.yml.

Run: ``.venv/bin/python bench/time_libraries.py [--repeat N]``

Libraries: (a) ours, ``bot.nlu.timeparse``; (b) dateparser ``search_dates`` (languages es, PREFER_DATES_FROM
future, RELATIVE_BASE, TIMEZONE); (c) Duckling through ``pyduckling-native-phihos`` (locale ES_MX, the
reference time, dimension time). A library that is not installed is reported as such.

Scoring, the same for all: the *primary* result of an expression is the longest one found; it is exact
when its value and grain equal the table's. A case whose value is null is exact when nothing is found.
dateparser returns no grain and no intervals, so it is scored leniently: its datetime only has to equal
the expected point (for a day/week/month grain only the date has to match); expected intervals are misses.
Latency: the median of ``--repeat`` calls per expression (after one warm-up call); the first call of each
library (loading data, compiling patterns) is reported separately as "cold".

Second table, what decides a booking: tests/nlu/time_windows.yml (expressions at several reference times,
late night and just after midnight included). Every library's primary result goes through the same
``bot.nlu.timeparse_window.search_window`` (a named day is its whole clinic-local day); "window" counts
results equal to the expected clinic-local window, "right day" those whose first day is the expected one.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "tests" / "nlu" / "time_expressions.yml"
WINDOWS = ROOT / "tests" / "nlu" / "time_windows.yml"

Result = tuple[Any, str | None] | None  # (value, grain) of the primary result, None when nothing found


@dataclass(frozen=True)
class Case:
    text: str
    reference: datetime  # aware, in ``timezone``
    timezone: str
    value: Any
    grain: str | None


def load_cases(path: Path = TABLE) -> list[Case]:
    """The expression table, references made aware in each case's time zone."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = []
    for raw in data["cases"]:
        zone = raw.get("timezone", data["timezone"])
        ref = datetime.fromisoformat(raw.get("reference", data["reference"]))
        ref = ref.replace(tzinfo=ZoneInfo(zone)) if ref.tzinfo is None else ref.astimezone(ZoneInfo(zone))
        cases.append(Case(raw["text"], ref, zone, raw["value"], raw.get("grain")))
    return cases


# ------------------------------------------------------------------------------------------ adapters


def ours() -> Callable[[Case], Result]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bot.nlu.timeparse import extract_times

    def run(case: Case) -> Result:
        found = extract_times(case.text, case.reference, case.timezone)
        if not found:
            return None
        best = max(found, key=lambda m: m.end - m.start)
        return best.value, best.grain

    return run


def dateparser_adapter() -> Callable[[Case], Result]:
    from dateparser.search import search_dates  # type: ignore[import-untyped]

    def run(case: Case) -> Result:
        settings = {
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": case.reference.replace(tzinfo=None),
            "TIMEZONE": case.timezone,
            "RETURN_AS_TIMEZONE_AWARE": True,
        }
        found = search_dates(case.text, languages=["es"], settings=settings)
        if not found:
            return None
        _, moment = max(found, key=lambda pair: len(pair[0]))
        moment = moment.astimezone(ZoneInfo(case.timezone))
        return moment.isoformat(timespec="milliseconds"), None

    return run


def duckling_adapter() -> Callable[[Case], Result]:
    import duckling

    duckling.init()
    zones = duckling.load_time_zones("/usr/share/zoneinfo")
    locale = duckling.parse_locale("ES_MX", duckling.default_locale_lang(duckling.parse_lang("ES")))
    dims = duckling.parse_dimensions(["time"])

    def run(case: Case) -> Result:
        ref = duckling.parse_ref_time(zones, case.timezone, int(case.reference.timestamp()))
        found = [
            e
            for e in duckling.parse(case.text, duckling.Context(ref, locale), dims, False)
            if not e.get("latent")
        ]
        if not found:
            return None
        value = max(found, key=lambda e: e["end"] - e["start"])["value"]
        if value.get("type") == "interval":
            ends = {key: value[key]["value"] for key in ("from", "to") if key in value}
            grain = next(value[key]["grain"] for key in ("from", "to") if key in value)
            return ends, grain
        return value["value"], value["grain"]

    return run


LIBRARIES: dict[str, Callable[[], Callable[[Case], Result]]] = {
    "ours (bot.nlu.timeparse)": ours,
    "dateparser": dateparser_adapter,
    "duckling (pyduckling-native-phihos)": duckling_adapter,
}


# ------------------------------------------------------------------------------------------- scoring


def exact(case: Case, result: Result, lenient: bool) -> bool:
    """Whether ``result`` is exactly the expected value (see the module docstring for ``lenient``)."""
    if case.value is None or result is None:
        return case.value is None and result is None
    value, grain = result
    if not lenient:
        return bool(value == case.value and grain == case.grain)
    if not isinstance(case.value, str) or not isinstance(value, str):
        return False
    if case.grain in ("day", "week", "month"):
        return value[:10] == case.value[:10]
    return value == case.value


def _show(result: Result) -> str:
    if result is None:
        return "nothing"
    value, grain = result
    return f"{value} ({grain})" if grain else str(value)


def measure(
    name: str, factory: Callable[[], Callable[[Case], Result]], cases: list[Case], repeat: int
) -> dict[str, Any] | None:
    try:
        started = time.perf_counter()
        run = factory()
        run(cases[0])
        cold = time.perf_counter() - started
    except ImportError as error:
        print(f"{name}: not installed ({error})")
        return None
    lenient = name == "dateparser"
    misses, latencies, hits = [], [], 0
    for case in cases:
        try:
            result = run(case)
        except Exception as error:  # a library crash counts as a miss
            result = ("error: " + type(error).__name__, None)
        timings = []
        for _ in range(repeat):
            begin = time.perf_counter()
            with contextlib.suppress(Exception):  # a crash is already recorded above
                run(case)
            timings.append(time.perf_counter() - begin)
        latencies.append(statistics.median(timings))
        if exact(case, result, lenient):
            hits += 1
        else:
            misses.append((case, result))
    return {
        "name": name,
        "hits": hits,
        "total": len(cases),
        "cold": cold,
        "latencies": latencies,
        "misses": misses,
    }


# ---------------------------------------------------------------------------------- search windows


def _at(zone: ZoneInfo, day: str, clock: str) -> datetime:
    hours, minutes = (int(x) for x in clock.split(":"))
    return datetime.fromisoformat(day).replace(tzinfo=zone) + timedelta(hours=hours, minutes=minutes)


def _window(zone: ZoneInfo, text: str) -> Any:
    """time_windows.yml's notation as a search window (None: the earliest; "none": no time)."""
    if text in ("earliest", "none"):
        return None if text == "earliest" else "none"
    if " / " in text:
        first, last = (part.split() for part in text.split(" / "))
        return _at(zone, *first), _at(zone, *last)
    day, _, clock = text.partition(" ")
    if not clock:
        return _at(zone, day, "00:00"), _at(zone, day, "24:00")
    if "-" in clock:
        lo, hi = clock.split("-")
        return _at(zone, day, lo), _at(zone, day, hi)
    return _at(zone, day, clock)


def load_window_cases(path: Path = WINDOWS) -> list[Case]:
    """One case per (expression, reference) of time_windows.yml; ``value`` is the expected window."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    zone = ZoneInfo(data["timezone"])
    refs = {k: datetime.fromisoformat(v).replace(tzinfo=zone) for k, v in data["references"].items()}
    return [
        Case(raw["text"], ref, data["timezone"], _window(zone, raw[key]), None)
        for raw in data["cases"]
        for key, ref in refs.items()
        if key in raw
    ]


def _first_day(window: Any) -> Any:
    if isinstance(window, tuple):
        return window[0].date()
    return window.date() if isinstance(window, datetime) else window


def measure_windows(
    name: str, factory: Callable[[], Callable[[Case], Result]], cases: list[Case]
) -> str | None:
    from bot.nlu.timeparse_window import search_window

    try:
        run = factory()
    except ImportError:
        return None
    exact_hits = day_hits = 0
    for case in cases:
        zone = ZoneInfo(case.timezone)
        try:
            result = run(case)
        except Exception:  # a library crash counts as a miss
            result = ("error", None)
        got = "none" if result is None else search_window(result[0], zone, result[1], now=case.reference)
        exact_hits += got == case.value
        day_hits += _first_day(got) == _first_day(case.value)
    total = len(cases)
    return (
        f"{name:38} {f'{exact_hits}/{total} {100 * exact_hits / total:5.1f}%':>15} "
        f"{f'{day_hits}/{total} {100 * day_hits / total:5.1f}%':>15}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per expression")
    parser.add_argument("--only", choices=["ours", "dateparser", "duckling"], help="one library only")
    args = parser.parse_args(argv)
    cases = load_cases()
    print(f"{len(cases)} expressions from {TABLE.relative_to(ROOT)}\n")
    rows = []
    for name, factory in LIBRARIES.items():
        if args.only and not name.startswith(args.only):
            continue
        row = measure(name, factory, cases, args.repeat)
        if row is not None:
            rows.append(row)
    print(f"\n{'library':38} {'exact':>13} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'cold ms':>9}")
    for row in rows:
        lat = sorted(row["latencies"])
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        share = f"{row['hits']}/{row['total']} {100 * row['hits'] / row['total']:5.1f}%"
        print(
            f"{row['name']:38} {share:>13} {1000 * statistics.median(lat):10.3f} {1000 * p95:8.3f} "
            f"{1000 * lat[-1]:8.3f} {1000 * row['cold']:9.1f}"
        )
    windows = load_window_cases()
    print(f"\n{len(windows)} expressions x reference times from {WINDOWS.relative_to(ROOT)}")
    print(f"{'library':38} {'window':>15} {'right day':>15}")
    for name, factory in LIBRARIES.items():
        if not args.only or name.startswith(args.only):
            line = measure_windows(name, factory, windows)
            if line is not None:
                print(line)
    for row in rows:
        print(f"\n{row['name']} misses ({len(row['misses'])}):")
        for case, result in row["misses"]:
            expected = "nothing" if case.value is None else f"{case.value} ({case.grain})"
            print(f"  {case.text!r}: got {_show(result)}; expected {expected}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
