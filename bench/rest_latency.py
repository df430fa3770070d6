"""Whole messages through POST /webhooks/rest/webhook: sequential client over loopback.

Starts `bot run` in a subprocess (embedded default, or Redis + PostgreSQL with --production), waits for
/health, then sends 1,000 messages across 50 conversations (each a short booking conversation, cycled)
and prints p50 / p95 / p99 latency, start-up-to-first-answer time and (on Linux) the server process's
CPU time per message over the measured messages (one worker: uvicorn serves in that process).

    .venv/bin/python bench/rest_latency.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/rest_latency.py --production
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = [
    "hola",
    "quiero una cita de pediatria",
    "ACEPTO",
    "Laura Mendez",
    "mañana a las 10",
    "que horario tienen?",
    "1",
    "si",
    "no gracias",
    "muchas gracias",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc; None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--production", action="store_true", help="Redis stores + DATABASE_URL")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--conversations", type=int, default=50)
    args = parser.parse_args()
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="bench-rest-")
    env["BOT_VAR_DIR"] = tmp
    env.setdefault("BOT_DATA_KEY", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=")
    if args.production:
        env["BOT_ENDPOINTS"] = str(ROOT / "endpoints.production.yml")
    else:
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            while True:
                if server.poll() is not None:
                    print(server.stderr.read().decode()[-2000:] if server.stderr else "server died")
                    return 1
                try:
                    client.post("/webhooks/rest/webhook", json={"sender": "warm", "message": "hola"})
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            first = time.perf_counter() - started
            run = f"{time.time():.0f}"
            cpu_before = cpu_seconds(server.pid)
            latencies = []
            for i in range(args.messages):
                conv = i % args.conversations
                text = SCRIPT[(i // args.conversations) % len(SCRIPT)]
                t0 = time.perf_counter()
                r = client.post(
                    "/webhooks/rest/webhook", json={"sender": f"bench-{run}-{conv}", "message": text}
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    print("error", r.status_code, r.text[:200])
                    return 1
            cpu_after = cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    backend = "Redis + PostgreSQL" if args.production else "embedded (SQLite, memory locks)"
    print(f"backend: {backend}")
    print(f"start-up to first answer: {first:.2f} s (includes training if no model exists)")
    print(f"messages: {len(latencies)} across {args.conversations} conversations, sequential")
    print(f"p50 {q[49]:.2f} ms   p95 {q[94]:.2f} ms   p99 {q[98]:.2f} ms   max {latencies[-1]:.2f} ms")
    if cpu_before is not None and cpu_after is not None:
        per_message = (cpu_after - cpu_before) * 1000 / len(latencies)
        print(f"server CPU: {per_message:.2f} ms per message (user + system, whole server process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
