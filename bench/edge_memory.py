"""Memory of a hostile body: 300 MB, chunked (no Content-Length), POSTed to every body-reading route.

Starts `bot run` (embedded default, one worker) in a subprocess on 127.0.0.1 with a throw-away var dir,
waits for /health, then for each route streams a chunked body of --megabytes over loopback and prints
the status it got, how many bytes the server accepted before answering, and the server's resident memory:
before, peak during the request (VmHWM, reset per route through /proc/<pid>/clear_refs) and after.

    .venv/bin/python bench/edge_memory.py                # 300 MB per route
    .venv/bin/python bench/edge_memory.py --megabytes 50 --route /webhooks/rest/webhook

Loopback only; each route is bounded by --seconds. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
AGENT_TOKEN = "bench-agent-token"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ROUTES = [  # (path, content type, extra headers)
    ("/webhooks/rest/webhook", JSON, {}),
    ("/model/parse", JSON, {}),
    ("/agent/conversations/c0ffee/handback", JSON, {"authorization": f"Bearer {AGENT_TOKEN}"}),
    ("/agent/conversations/c0ffee/messages", JSON, {"authorization": f"Bearer {AGENT_TOKEN}"}),
    ("/agent/conversations/c0ffee/templates", JSON, {"authorization": f"Bearer {AGENT_TOKEN}"}),
    ("/webhooks/twilio/whatsapp", FORM, {"x-twilio-signature": "bench"}),
    ("/webhooks/twilio/status", FORM, {"x-twilio-signature": "bench"}),
]
CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def post_chunked(port: int, path: str, ctype: str, headers: dict[str, str], total: int,
                 deadline: float) -> tuple[str, int]:
    """Stream ``total`` bytes as a chunked body; the status line and the bytes sent before the answer."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{port}", f"content-type: {ctype}",
            "transfer-encoding: chunked", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    answer: list[bytes] = []

    def read() -> None:
        data = b""
        try:
            while b"\r\n" not in data:
                part = sock.recv(4096)
                if not part:
                    break
                data += part
        except OSError:
            pass
        answer.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    filler = (b"[" if ctype == JSON else b"a") * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + filler + b"\r\n"
    try:
        sock.sendall("\r\n".join(head).encode())
        while sent < total and not answer and time.monotonic() < deadline:
            sock.sendall(frame)
            sent += CHUNK
        if not answer:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server answered and closed while we were still sending: what we want
        pass
    reader.join(max(0.0, deadline - time.monotonic()))
    sock.close()
    status = answer[0].split(b"\r\n", 1)[0].decode(errors="replace") if answer and answer[0] else "(none)"
    return status, sent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=120.0, help="bound per route")
    parser.add_argument("--route", action="append", help="only these paths (repeatable)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BOT_PUBLIC_URL")}
    env["BOT_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-edge-")
    env.setdefault("BOT_DATA_KEY", base64.b64encode(b"b" * 32).decode())
    env["BOT_AGENT_TOKEN"] = AGENT_TOKEN
    env["TWILIO_AUTH_TOKEN"] = "bench-twilio-token"
    env["BOT_ENV"] = "development"  # the developer endpoints open without a token, as on the embedded default
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "run", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    total = args.megabytes * 1024 * 1024
    routes = [r for r in ROUTES if not args.route or r[0] in args.route]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while True:
                if server.poll() is not None:
                    print(server.stderr.read().decode()[-2000:] if server.stderr else "server died")
                    return 1
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            client.post("/webhooks/rest/webhook", json={"sender": "warm", "message": "hola"})
        print(f"server pid {server.pid}; body {args.megabytes} MB chunked per route, loopback")
        print(f"{'route':42} {'status':28} {'sent MB':>8} {'RSS before':>11} {'peak':>9} {'after':>9}")
        for path, ctype, headers in routes:
            before = memory(server.pid)["VmRSS"]
            reset_peak(server.pid)
            started = time.monotonic()
            status, sent = post_chunked(port, path, ctype, headers, total, started + args.seconds)
            time.sleep(0.3)
            mem = memory(server.pid)
            print(f"{path:42} {status[:28]:28} {sent / 2**20:8.1f} {before / 1024:9.0f}MB "
                  f"{mem['VmHWM'] / 1024:7.0f}MB {mem['VmRSS'] / 1024:7.0f}MB "
                  f"({time.monotonic() - started:.1f}s)")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
