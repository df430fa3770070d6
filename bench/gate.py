"""Benchmark of the disclosure gate over the test corpora.

Prints microseconds per message (mean, p50, p99) for ``check()`` and ``filter()``, the block rate on
tests/guard/corpus/must_block.yml and the false-block rate on tests/guard/corpus/benign.yml; then the
cost of new text: the generated corpora (tests/guard/generate_corpora.py: >= 1000 benign staff messages,
thousands of evasion variants) sent by an agent with the verdict memo and the views cache emptied, each
message's best of a few rounds.
Goal: <= 50 us per message (mean). Run from the project directory:

    .venv/bin/python bench/gate.py [--rounds N]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.guard.gate import DisclosureGate, Provenance, _head, load_gate  # noqa: E402
from bot.guard.normalise import cached_views  # noqa: E402

CORPUS = ROOT / "tests" / "guard" / "corpus"
AGENT = Provenance("agent", "bench")


def _items(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))
    return list(data["items"])


def _cases(items: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...], bool]]:
    cases = []
    for item in items:
        if "split" in item:
            parts = tuple(item["split"])
            cases.append((parts[-1], parts[:-1], bool(item.get("patient_specific", False))))
        else:
            cases.append((item["text"], (), bool(item.get("patient_specific", False))))
    return cases


def _time(fn: Callable[[], object], rounds: int = 1) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def _summary(label: str, samples: list[float], per_message: int = 0) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    line = (f"{label:<28} mean {statistics.fmean(samples):7.1f} us   p50 {statistics.median(samples):7.1f} us"
            f"   p99 {p99:7.1f} us   (n={len(samples)})")
    if per_message:
        # samples[k::per_message] are the rounds of message k: its best round is its cost without the
        # interruptions a busy machine adds (the mean is sensitive to them).
        best = [min(samples[k::per_message]) for k in range(per_message)]
        line += f"   best-of-rounds mean {statistics.fmean(best):6.1f} us"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over each corpus")
    args = parser.parse_args(argv)
    logging.getLogger("bot.guard").setLevel(logging.CRITICAL)  # blocks are expected here

    t0 = time.perf_counter()
    gate: DisclosureGate = load_gate(ROOT, registered_responses=())
    print(f"load_gate (policy + lexicon compile): {(time.perf_counter() - t0) * 1000:.0f} ms")

    must_block = _cases(_items("must_block.yml"))
    benign = _cases(_items("benign.yml"))
    every = must_block + benign

    for text, recent, ps in every:  # warm-up
        gate.filter(text, channel="whatsapp", provenance=AGENT, patient_specific=ps, recent=recent)

    check_samples: list[float] = []
    filter_samples: list[float] = []
    recent_samples: list[float] = []
    history = tuple(text for text, _, _ in benign[:3])
    for _ in range(args.rounds):
        for text, recent, ps in every:
            check_samples += _time(partial(gate.check, text, patient_specific=ps))
            filter_samples += _time(
                partial(gate.filter, text, channel="whatsapp", provenance=AGENT, patient_specific=ps,
                        recent=recent)
            )
            recent_samples += _time(
                partial(gate.filter, text, channel="whatsapp", provenance=AGENT, patient_specific=ps,
                        recent=recent or history)
            )
    n = len(every)
    print(_summary("check()", check_samples, n))
    print(_summary("filter()", filter_samples, n))
    print(_summary("filter(recent=3 messages)", recent_samples, n))

    # The figures above reuse the views of texts seen before (cached_views: the recent messages' tail,
    # repeated templates). A new conversation's messages are new text: measure with the cache emptied
    # before every call, and the recent check for allowed and blocked messages apart.
    cold: list[float] = []
    allowed: list[float] = []
    blocked_samples: list[float] = []
    for _ in range(max(1, args.rounds // 4)):
        for text, recent, ps in every:
            cached_views.cache_clear()
            _head.cache_clear()
            cold += _time(
                partial(gate.filter, text, channel="whatsapp", provenance=AGENT, patient_specific=ps,
                        recent=recent or history)
            )
    for _ in range(args.rounds):
        for samples, cases in ((blocked_samples, must_block), (allowed, benign)):
            for text, recent, ps in cases:
                samples += _time(
                    partial(gate.filter, text, channel="whatsapp", provenance=AGENT, patient_specific=ps,
                            recent=recent or history)
                )
    # A conversation replayed: each message filtered with the three sent before it as `recent` (their
    # views are cached from their own turn; the joined tail is new text every time), cache emptied first.
    replay: list[float] = []
    texts = [text for text, _, _ in benign]
    for _ in range(args.rounds):
        cached_views.cache_clear()
        _head.cache_clear()
        for i, text in enumerate(texts):
            window = texts[max(0, i - 3):i]
            replay += _time(partial(gate.filter, text, channel="whatsapp", provenance=AGENT, recent=window))
    print(_summary("  recent, benign (allowed)", allowed, len(benign)))
    print(_summary("  recent, must_block", blocked_samples, len(must_block)))
    print(_summary("  recent, views cache cold", cold, n))
    print(_summary("  benign conversation replay", replay, len(texts)))

    blocked = sum(
        gate.filter(t, channel="whatsapp", provenance=AGENT, patient_specific=p, recent=r).blocked
        for t, r, p in must_block
    )
    false_blocks = sum(
        gate.filter(t, channel="whatsapp", provenance=AGENT, patient_specific=p, recent=r).blocked
        for t, r, p in benign
    )
    print(f"must_block: {blocked}/{len(must_block)} blocked ({100 * blocked / len(must_block):.1f} %)")
    print(f"benign:     {false_blocks}/{len(benign)} false blocks ({100 * false_blocks / len(benign):.1f} %)")
    _new_text(max(1, args.rounds // 5))
    return 0


def _new_text(rounds: int) -> None:
    """filter() of texts never seen before: the generated corpora, verdict memo and views cache empty."""
    for name in ("benign_logistics.yml", "evasion_generated.yml"):
        if not (CORPUS / name).exists():
            continue
        texts = [item["text"] for item in _items(name)]
        best = [float("inf")] * len(texts)
        for _ in range(rounds):
            gate = load_gate(ROOT, registered_responses=())  # an empty verdict memo
            cached_views.cache_clear()
            _head.cache_clear()
            for k, text in enumerate(texts):
                start = time.perf_counter_ns()
                gate.filter(text, channel="whatsapp", provenance=AGENT, patient_specific=True)
                best[k] = min(best[k], (time.perf_counter_ns() - start) / 1000)
        print(_summary(f"new text, {name.removesuffix('.yml')}", best))


if __name__ == "__main__":
    sys.exit(main())
