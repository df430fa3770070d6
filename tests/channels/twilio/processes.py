"""Real ``bot run`` server processes sharing Redis and a database, for the multi-process tests and bench.

Each process gets the environment of a production deployment (``BOT_ENDPOINTS`` naming Redis tracker and
lock stores, ``DATABASE_URL``) plus ``TWILIO_API_BASE_URL`` pointing the real twilio SDK at a local fake.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "proc-test-auth-token-0123456789ab"
ACCOUNT = "AC" + "1" * 32
FROM_BOT = "whatsapp:+14155238886"
DATA_KEY = base64.b64encode(b"p" * 32).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_endpoints(directory: Path, redis_url: str, prefix: str, lock_lifetime: float) -> Path:
    path = directory / "endpoints.yml"
    path.write_text(
        "tracker_store:\n"
        f"  type: redis\n  url: {redis_url}\n  key_prefix: \"{prefix}tracker:\"\n"
        "lock_store:\n"
        f"  type: redis\n  url: {redis_url}\n  key_prefix: \"{prefix}lock:\"\n"
        f"  lock_lifetime: {lock_lifetime}\n"
        "llm:\n  provider: none\n",
        encoding="utf-8")
    return path


@dataclass
class Cluster:
    """``bot run`` processes (one per port) with a shared configuration."""

    env: dict[str, str]
    ports: list[int]
    prefix: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[BinaryIO] = field(default_factory=list)

    def url(self, i: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[i]}{path}"

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for log in self.logs:
            log.close()


def base_env(tmp: Path, *, redis_url: str, database_url: str | None, twilio_base: str, prefix: str,
             lock_lifetime: float = 30, models_dir: Path | None = None,
             extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "BOT_"))}
    env.update(
        BOT_PROJECT_DIR=str(ROOT), BOT_VAR_DIR=str(tmp / "var"),
        BOT_DATA_KEY=os.environ.get("BOT_DATA_KEY") or DATA_KEY,
        BOT_ENDPOINTS=str(write_endpoints(tmp, redis_url, prefix, lock_lifetime)),
        TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_WHATSAPP_FROM=FROM_BOT,
        TWILIO_API_BASE_URL=twilio_base, REDIS_URL=redis_url, PYTHONUNBUFFERED="1",
        BOT_ENV="development",  # loopback servers: the arrival URL is what the tests sign
    )
    env["DATABASE_URL"] = database_url or f"sqlite:///{tmp / 'shared.db'}"
    if models_dir is not None:
        env["BOT_MODELS_DIR"] = str(models_dir)
    env.update(extra or {})
    return env


def new_prefix() -> str:
    return f"twtest-{uuid.uuid4().hex[:10]}:"


def start(env: dict[str, str], ports: list[int], *, workers: int = 1, log_dir: Path,
          timeout: float = 60) -> Cluster:
    """One ``bot run`` per port (each with ``workers`` processes); returns once all answer /health."""
    cluster = Cluster(env, ports, "")
    for port in ports:
        out = (log_dir / f"server-{port}.log").open("wb")
        cluster.logs.append(out)
        cluster.procs.append(subprocess.Popen(
            [sys.executable, "-m", "bot.app.cli", "run", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout
    try:
        for i, port in enumerate(ports):
            while True:
                if cluster.procs[i].poll() is not None:
                    raise RuntimeError(f"server on port {port} exited: "
                                       f"{(log_dir / f'server-{port}.log').read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server on port {port} did not start within {timeout} s")
                time.sleep(0.1)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def running(env: dict[str, str], ports: list[int], **kwargs: object) -> Iterator[Cluster]:
    cluster = start(env, ports, **kwargs)  # type: ignore[arg-type]
    try:
        yield cluster
    finally:
        cluster.stop()
