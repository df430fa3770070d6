"""Benchmark: signed Twilio WhatsApp webhooks through uvicorn on loopback, replies to a fake Twilio.

Prints acknowledged messages/s, p50/p99 webhook latency (time to the empty TwiML), and the time until
all replies reached the fake REST API. Uses a trivial processor so the channel itself is measured.

    .venv/bin/python bench/twilio_webhook.py [N] [CONCURRENCY]
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKEN = "bench-token"


class EchoProcessor:
    def handle(self, message):  # type: ignore[no-untyped-def]
        from bot.core.processor import OutgoingMessage

        return [OutgoingMessage(message.reply_to or message.sender_id, "¡Hola! ¿En qué le ayudo?")]


class State:
    processor = EchoProcessor()
    interpreter = None

    def hand_back(self, *_):  # type: ignore[no-untyped-def]
        return []

    def close(self) -> None:
        pass


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    os.environ.update(BOT_DATA_KEY=base64.b64encode(b"b" * 32).decode(), TWILIO_AUTH_TOKEN=TOKEN,
                      TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_WHATSAPP_FROM="whatsapp:+14155238886")
    os.environ.pop("BOT_PUBLIC_URL", None)
    import httpx
    import uvicorn

    from bot import db
    from bot.channels.twilio_whatsapp import TwilioWhatsApp
    from bot.server import create_app
    from tests.fakes.twilio_server import FakeTwilio, sign

    fake = FakeTwilio()
    engine = db.make_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    app = create_app(State())
    app.state.twilio_channel = TwilioWhatsApp(engine, http_client=fake.http_client())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/webhooks/twilio/whatsapp"

    async def run() -> list[float]:
        latencies: list[float] = []
        sem = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=30) as client:
            async def one(i: int) -> None:
                params = {"Body": "hola", "From": f"whatsapp:+52155{i:08d}", "To": "whatsapp:+14155238886",
                          "MessageSid": f"SM{i:032x}", "NumMedia": "0"}
                headers = {"content-type": "application/x-www-form-urlencoded",
                           "x-twilio-signature": sign(TOKEN, url, params)}
                async with sem:
                    t = time.perf_counter()
                    r = await client.post(url, content=urlencode(params).encode(), headers=headers)
                    latencies.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        raise SystemExit(f"unexpected {r.status_code}")
            await asyncio.gather(*(one(i) for i in range(n)))
        return latencies

    start = time.perf_counter()
    latencies = asyncio.run(run())
    acked = time.perf_counter() - start
    while len(fake.messages) < n and time.perf_counter() - start < 120:
        time.sleep(0.01)
    done = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(f"messages: {n}  concurrency: {concurrency}")
    print(f"acknowledged: {n / acked:.0f} msg/s  p50 {statistics.median(latencies) * 1000:.1f} ms  "
          f"p99 {p99 * 1000:.1f} ms")
    sent = len(fake.messages)
    print(f"replies delivered to fake Twilio: {sent}/{n} in {done:.2f} s ({sent / done:.0f}/s)")
    server.should_exit = True
    thread.join(5)
    fake.close()


if __name__ == "__main__":
    main()
