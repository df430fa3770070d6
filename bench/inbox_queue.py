"""Benchmark of the inbox's queue page (``GET /inbox/cola``) with N conversations waiting for a person.

Builds the real assistant on a fresh SQLite database (memory tracker store), hands N REST conversations
to a person through the dialogue itself, puts a label on every fifth and marks every other one read by
the member of staff, signs them in and times the full queue page, its live-update fragment and the queue
filtered by a label (in-process HTTP; best, p50 and p95 over the rounds). Goal (issue 19): first paint of
the queue under 200 ms with 500 open conversations. Run from the project directory:

    .venv/bin/python bench/inbox_queue.py [--conversations 500] [--rounds 20]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-inbox-")
    os.environ.setdefault("BOT_VAR_DIR", tmp)
    os.environ.setdefault("BOT_DATA_KEY", base64.b64encode(b"b" * 32).decode())
    os.environ.setdefault("BOT_ENV", "development")
    os.chdir(ROOT)
    from starlette.testclient import TestClient

    from bot.app.server import create_app
    from bot.app.wiring import build_app_state
    from bot.core.processor import UserMessage
    from bot.db import make_engine, migrate
    from bot.inbox.staff import StaffAccounts

    engine = make_engine(f"sqlite:///{tmp}/bot.db")
    migrate(engine)
    state = build_app_state(ROOT, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            engine=engine)
    started = time.perf_counter()
    for i in range(args.conversations):
        state.processor.handle(UserMessage(f"rest:bench-{i}", "quiero hablar con una persona"))
    print(f"{args.conversations} conversations handed to a person in {time.perf_counter() - started:.1f} s")
    StaffAccounts(engine).add("bench", "Bench", "agent", "una-clave-larga")
    from datetime import UTC, datetime

    from bot.inbox.web.extras import Extras

    extras = Extras(engine)
    for i in range(args.conversations):
        ref = state.services.patient_ref(f"rest:bench-{i}")
        if i % 5 == 0:
            extras.add_label(ref, "factura", "bench")
        if i % 2 == 0:
            extras.mark_seen(ref, "bench", datetime.now(UTC))
    with TestClient(create_app(state)) as client:
        page = client.get("/inbox/entrar")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        form = {"csrf": token, "usuario": "bench", "contrasena": "una-clave-larga"}
        client.post("/inbox/entrar", data=form)
        paths = ("/inbox/cola", "/inbox/cola/filas?estado=pending&ver=all", "/inbox/cola?etiqueta=factura")
        for path in paths:
            client.get(path)  # warm
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
            lines = r.text.count('class="line ')
            times.sort()
            print(f"{path}: {lines} lines, {len(r.content) // 1024} KiB; best {times[0]:.1f} ms, "
                  f"p50 {statistics.median(times):.1f} ms, p95 {times[int(len(times) * 0.95) - 1]:.1f} ms")
    state.close()


if __name__ == "__main__":
    main()
