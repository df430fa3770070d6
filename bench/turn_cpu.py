"""Benchmark: CPU time of one patient turn through ``Processor.handle`` (the whole dialogue: NLU,
policies, flow, gate, encryption at rest, the tracker store), with and without the tracker cache
(bot.core.resume).

C conversations of T turns each, round-robin (as concurrent patients arrive), on the store chosen:
``--store memory`` (default), ``sqlite``, or ``redis`` (REDIS_URL, default redis://127.0.0.1:6379/0).
Prints CPU (process_time) per turn and per turn position, so the cost of a longer conversation shows.

    .venv/bin/python bench/turn_cpu.py [--conversations 50] [--turns 12] [--store redis]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRIPT = ["hola", "ACEPTO", "¿cuál es su horario?", "quiero agendar una cita", "mañana a las 10", "1",
          "sí", "¿dónde están ubicados?", "¿cuánto cuesta la consulta?", "quiero cambiar mi cita",
          "el viernes", "gracias"]


def run(store: str, cache: bool, conversations: int, turns: int, tmp: Path) -> list[list[float]]:
    from bot.app.wiring import build_app_state
    from bot.core.processor import UserMessage
    from bot.db import make_engine, migrate

    os.environ["BOT_TRACKER_CACHE"] = "1024" if cache else "0"
    engine = make_engine(f"sqlite:///{tmp / f'bot-{uuid.uuid4().hex[:6]}.db'}")
    migrate(engine)
    tracker: dict[str, str] = {"type": "memory"}
    if store == "sqlite":
        tracker = {"type": "sql", "url": f"sqlite:///{tmp / f'trackers-{uuid.uuid4().hex[:6]}.db'}"}
    elif store == "redis":
        tracker = {"type": "redis", "url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                   "key_prefix": f"bench-{uuid.uuid4().hex[:8]}:"}
    state = build_app_state(ROOT, tracker_store=tracker, lock_store={"type": "memory"}, engine=engine)
    block = uuid.uuid4().int % 900 + 100
    senders = [f"+521555{block:03d}{c:04d}" for c in range(conversations)]  # fictional (555)
    for sender in senders[:2]:  # warm caches, compiled statements
        state.processor.handle(UserMessage(sender_id=sender + "9", text="hola", channel="rest"))
    costs: list[list[float]] = [[] for _ in range(turns)]
    for t in range(turns):
        for sender in senders:
            start = time.process_time()
            state.processor.handle(UserMessage(sender_id=sender, text=SCRIPT[t % len(SCRIPT)],
                                               channel="rest"))
            costs[t].append(time.process_time() - start)
    if store == "redis":
        raw = state.processor.tracker_store
        for sender in senders:
            raw.delete(sender)
    state.close()
    engine.dispose()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--store", choices=("memory", "sqlite", "redis"), default="memory")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each variant")
    args = parser.parse_args()
    os.environ.setdefault("BOT_DATA_KEY", base64.b64encode(b"t" * 32).decode())
    tmp = Path(tempfile.mkdtemp(prefix="bench-turn-"))
    results: dict[bool, list[list[float]]] = {False: [[] for _ in range(args.turns)],
                                              True: [[] for _ in range(args.turns)]}
    for _ in range(args.rounds):
        for cache in (False, True):
            for t, costs in enumerate(run(args.store, cache, args.conversations, args.turns, tmp)):
                results[cache][t].extend(costs)
    n = args.conversations * args.rounds
    print(f"Processor.handle CPU per turn; store {args.store} (sealed: AES-GCM per turn); {n} conversations "
          f"of {args.turns} turns per variant; {args.rounds} alternating rounds; load average "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for cache in (False, True):
        flat = [c for costs in results[cache] for c in costs]
        label = "tracker cache on " if cache else "tracker cache off"
        per_turn = " ".join(f"{statistics.fmean(c) * 1000:.2f}" for c in results[cache])
        print(f"{label}: mean {statistics.fmean(flat) * 1000:.3f} ms  "
              f"p50 {statistics.median(flat) * 1000:.3f} ms  by turn (ms): {per_turn}")


if __name__ == "__main__":
    main()
