"""Benchmark: CPU per outbound WhatsApp message through the real twilio SDK, per HTTP transport.

``client.messages.create(to=..., from_=..., body=...)`` N times against the local fake of Twilio's REST API
(tests/fakes/twilio_server.py, in a separate process so its CPU is not counted), sequentially over one
keep-alive connection, with:

* ``requests`` — the SDK's ``TwilioHttpClient`` as we used it before (redirected to the fake, environment
  scan off: ``without_environment_scan``);
* ``transport`` — ``bot.channels.twilio.transport.TwilioTransport`` (what ``TwilioSender.client`` uses:
  keep-alive ``http.client`` connections when no proxy is set).

Prints CPU µs per send (``time.process_time``: the whole SDK call — building the request, HTTP, parsing
Twilio's JSON into a ``MessageInstance``) and wall µs per send (mostly the fake's latency), the median of
``--rounds`` alternating rounds, and the CPU saving.

    .venv/bin/python bench/twilio_send.py [--n 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCOUNT = "AC" + "0" * 32
TWILIO = "https://api.twilio.com"
FAKE = ("import sys, time; sys.path.insert(0, sys.argv[1]); "
        "from tests.fakes.twilio_server import FakeTwilio; "
        "fake = FakeTwilio(); print(fake.base_url, flush=True); time.sleep(1e9)")


def requests_client(base: str) -> Any:
    from twilio.http.http_client import TwilioHttpClient

    from bot.channels.twilio.sender import without_environment_scan

    class Redirecting(TwilioHttpClient):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if url.startswith(TWILIO):
                url = base + url[len(TWILIO):]
            return super().request(method, url, *args, **kwargs)

    return without_environment_scan(Redirecting(timeout=10, max_retries=2))


def our_client(base: str) -> Any:
    from bot.channels.twilio.transport import TwilioTransport

    return TwilioTransport(timeout=10, base_url=base, retries=2)


def one_round(http: Any, n: int, warmup: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per send."""
    from twilio.rest import Client

    client = Client(ACCOUNT, "bench-token", http_client=http)

    def send() -> None:
        client.messages.create(to="whatsapp:+5215512345678", from_="whatsapp:+14155238886",
                               body="Su cita quedó confirmada para mañana a las 10:00. ¡Gracias!")

    for _ in range(warmup):
        send()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        send()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / n * 1e6, wall / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="sends per round and transport")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, "-c", FAKE, str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        transports: dict[str, Callable[[str], Any]] = {"requests": requests_client, "transport": our_client}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in transports}
        for _ in range(args.rounds):
            for name, make in transports.items():
                results[name].append(one_round(make(base), args.n, args.warmup))
    finally:
        server.kill()
        server.wait()

    import requests
    import twilio
    import urllib3

    print(f"python {sys.version.split()[0]}, twilio {twilio.__version__}, requests {requests.__version__}, "
          f"urllib3 {urllib3.__version__}; N={args.n} sends x {args.rounds} rounds (median)")
    cpu = {}
    for name, rounds in results.items():
        cpu[name] = statistics.median(r[0] for r in rounds)
        wall = statistics.median(r[1] for r in rounds)
        print(f"{name:9s} CPU {cpu[name]:7.1f} µs/send   wall {wall:7.1f} µs/send   "
              f"(rounds: {', '.join(f'{r[0]:.0f}' for r in rounds)} µs CPU)")
    print(f"transport saves {1 - cpu['transport'] / cpu['requests']:.0%} of the CPU per send")


if __name__ == "__main__":
    main()
