"""The WhatsApp side of deploy/local_e2e.sh: a local fake of Twilio's REST API on a fixed port (the one
``TWILIO_API_BASE_URL`` names), and a patient whose signed webhooks go through the TLS proxy.

Prints what happened, one line per step (the assistant's replies shortened; the patient's number never),
and exits 1 at the first step that fails. Run by deploy/local_e2e.sh; not a test module.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import twilio_server  # noqa: E402 - the repo's fake Twilio, on a fixed port here
from tests.fakes.twilio_server import FakeTwilio, sign  # noqa: E402

PATIENT = "whatsapp:+5215512345678"
TURNS = ("hola", "quiero agendar una cita", "sí, acepto")


def fake_on(port: int) -> FakeTwilio:
    """The repo's FakeTwilio, bound to ``port`` instead of a random one."""

    def server(_address: Any, handler: Any) -> ThreadingHTTPServer:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)

    twilio_server.ThreadingHTTPServer = server  # type: ignore[assignment,misc]
    return FakeTwilio()


def step(ok: bool, text: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {text}", flush=True)
    if not ok:
        sys.exit(1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--public-url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--fake-port", type=int, required=True)
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--sender", required=True, help="the clinic's WhatsApp number (To)")
    parser.add_argument("--metrics-url", required=True)
    parser.add_argument("--metrics-token", required=True)
    parser.add_argument("--timeout", type=float, default=20)
    args = parser.parse_args()

    fake = fake_on(args.fake_port)
    url = args.public_url.rstrip("/") + "/webhooks/twilio/whatsapp"
    client = httpx.Client(verify=args.ca, timeout=15)
    try:
        ready = client.get(args.public_url.rstrip("/") + "/ready")
        step(ready.status_code == 200, f"GET /ready through the proxy: {ready.status_code} {ready.json()}")
        for n, text in enumerate(TURNS, 1):
            before = len(fake.accepted)
            params = {"Body": text, "From": PATIENT, "To": args.sender, "AccountSid": args.account,
                      "MessageSid": "SM" + secrets.token_hex(16), "NumMedia": "0",
                      "ProfileName": "Paciente Prueba", "WaId": PATIENT.split("+")[1]}
            started = time.monotonic()
            response = client.post(url, data=params,
                                   headers={"x-twilio-signature": sign(args.auth_token, url, params)})
            step(response.status_code == 200 and "<Response" in response.text,
                 f"turn {n}: signed webhook over TLS -> {response.status_code} (empty TwiML)")
            while len(fake.accepted) <= before and time.monotonic() - started < args.timeout:
                time.sleep(0.05)
            replies = fake.accepted[before:]
            took = time.monotonic() - started
            step(bool(replies) and all(r.get("To") == PATIENT for r in replies),
                 f"turn {n}: {len(replies)} repl{'y' if len(replies) == 1 else 'ies'} sent through the "
                 f"Twilio API to the patient in {took:.2f} s")
            for reply in replies:
                body = (reply.get("Body") or reply.get("ContentSid") or "").replace("\n", " ")
                print(f"       assistant: {body[:90]}{'…' if len(body) > 90 else ''}")
        forged = client.post(url, data={"Body": "hola", "From": PATIENT, "MessageSid": "SM" + "0" * 32},
                             headers={"x-twilio-signature": "forged"})
        step(forged.status_code == 403, f"a forged signature is refused: {forged.status_code}")
        hidden = client.get(args.public_url.rstrip("/") + "/metrics")
        step(hidden.status_code == 404, f"/metrics is not reachable through the proxy: {hidden.status_code}")
        scraped = httpx.get(args.metrics_url, headers={"authorization": f"Bearer {args.metrics_token}"},
                            timeout=10)
        lines = [line for line in scraped.text.splitlines()
                 if line.startswith(("bot_messages_total", "bot_webhook_rejections_total",
                                     "bot_handoffs_waiting", "bot_turn_seconds_count"))]
        step(scraped.status_code == 200 and any('channel="twilio_whatsapp"' in line for line in lines),
             "metrics (both workers, summed) on the loopback port:")
        for line in lines:
            print(f"       {line}")
    finally:
        client.close()
        fake.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
