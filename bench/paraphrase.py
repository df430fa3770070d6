"""Per-call cost of Paraphraser.paraphrase: no provider, fake LLM cold/cached, and validation alone.

Run from the repository root:  .venv/bin/python bench/paraphrase.py [--cold N]
The fake LLM servers run on loopback (tests/fakes/llm_servers.py): cold figures are local HTTP + SDK
overhead, not a real model's latency.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

TEMPLATE = "Listo, Ana López: su cita con la Dra. Ramírez quedó agendada para el 12/05/2025 a las 10:30."
SLOTS = {"patient_name": "Ana López", "doctor": "Dra. Ramírez", "date": "12/05/2025", "time": "10:30"}


def _per_call_ns(fn: Callable[[], object], number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e9


def _row(label: str, ns: float) -> None:
    if ns >= 1e6:
        print(f"  {label:<48} {ns / 1e6:10.3f} ms/call")
    elif ns >= 1e3:
        print(f"  {label:<48} {ns / 1e3:10.3f} µs/call")
    else:
        print(f"  {label:<48} {ns:10.1f} ns/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", type=int, default=200, help="cold (uncached) calls per provider")
    args = parser.parse_args()
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)

    from bot.nlg.paraphrase import Paraphraser
    from bot.nlg.providers import make_provider
    from bot.nlg.validate import validate_paraphrase
    from tests.fakes.llm_servers import GOOD_PREFIX, FakeLLMServer, anthropic_config, openai_config

    def bare(response_name: str, template: str, values: object) -> str:
        return template

    off = Paraphraser(None)
    print("provider none (templates only)")
    _row("bare function call (baseline)", _per_call_ns(lambda: bare("utter_x", TEMPLATE, SLOTS), 1_000_000))
    _row(
        "Paraphraser(None).paraphrase",
        _per_call_ns(lambda: off.paraphrase("utter_x", TEMPLATE, SLOTS), 1_000_000),
    )

    print("validation")
    candidate = GOOD_PREFIX + TEMPLATE
    _row(
        "validate_paraphrase (accepted)",
        _per_call_ns(lambda: validate_paraphrase(TEMPLATE, SLOTS, candidate), 5_000),
    )
    bad = candidate + " Llámenos al 55 1234 5678 o visite https://x.example.com"
    _row(
        "validate_paraphrase (rejected)",
        _per_call_ns(lambda: validate_paraphrase(TEMPLATE, SLOTS, bad), 5_000),
    )

    with FakeLLMServer(mode="good") as server:
        for config in (anthropic_config(server), openai_config(server)):
            provider = make_provider(config)
            if provider is None:
                raise SystemExit("bench needs a provider")
            print(f"provider {provider.name} (fake server, loopback)")
            try:
                cold = Paraphraser(provider, cache_size=0)
                cold.paraphrase("utter_x", TEMPLATE, SLOTS)  # warm up the connection pool / SDK
                total = timeit.timeit(lambda: cold.paraphrase("utter_x", TEMPLATE, SLOTS), number=args.cold)  # noqa: B023
                _row(f"cold: HTTP + validate ({args.cold} calls)", total / args.cold * 1e9)
                if cold.stats.accepted != args.cold + 1:
                    raise SystemExit(f"unexpected rejections: {cold.stats.snapshot()}")
                cached = Paraphraser(provider)
                cached.paraphrase("utter_x", TEMPLATE, SLOTS)
                requests = len(server.requests)
                _row("cached", _per_call_ns(lambda: cached.paraphrase("utter_x", TEMPLATE, SLOTS), 100_000))  # noqa: B023
                if len(server.requests) != requests:
                    raise SystemExit("cached calls reached the server")
            finally:
                provider.close()


if __name__ == "__main__":
    main()
