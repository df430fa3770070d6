"""Two real servers (``bot run --workers 2`` each: four worker processes) sharing Redis (tracker + locks)
and the database: order, no loss, dead locks.

Needs REDIS_URL (and uses DATABASE_URL when set, else one SQLite file both processes share).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.channels.twilio.ledger import patient_ref
from bot.core.identity import canonical_phone
from tests.channels.twilio import processes
from tests.fakes.twilio_server import FakeTwilio, sign

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: the two-process ordering test "
                                "needs a real Redis shared by both server processes")
INBOUND = "/webhooks/twilio/whatsapp"
LOCK_LIFETIME = 2.0
WORKERS = 2
TEXTS = ["hola", "quiero una cita", "para consulta general", "mañana en la tarde", "gracias"]


class Env:
    def __init__(self, cluster: processes.Cluster, fake: FakeTwilio, engine: Any, state: Any) -> None:
        self.cluster, self.fake, self.engine, self.state = cluster, fake, engine, state

    def post(self, server: int, params: dict[str, str]) -> httpx.Response:
        url = self.cluster.url(server, INBOUND)
        headers = {"content-type": "application/x-www-form-urlencoded",
                   "x-twilio-signature": sign(processes.TOKEN, url, params)}
        return httpx.post(url, content=urlencode(params).encode(), headers=headers, timeout=10)

    def tracker_message_ids(self, sender: str) -> list[str | None]:
        """The conversation as the servers stored it in Redis, read through the app's own stores."""
        from bot.core.events import UserUttered

        tracker = self.state.processor.tracker(sender)
        return [e.message_id for e in tracker.events if isinstance(e, UserUttered)]

    def arrivals(self, address: str) -> list[tuple[str, int | None, str]]:
        from bot.channels.twilio.ledger import TwilioLedger

        return TwilioLedger(self.engine).arrivals(patient_ref(canonical_phone(address)))

    def wait_processed(self, address: str, n: int, timeout: float = 12) -> list[tuple[str, int | None, str]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.arrivals(address)
            finished = all(r[2] not in ("received", "processing") for r in rows)
            if (len(rows) >= n and finished) or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


def _models(request: pytest.FixtureRequest) -> Path:
    """The project's models/ when it holds a model, else the session's freshly trained one."""
    from bot.nlu import archive

    if archive.newest_archive(processes.ROOT / "models") is not None:
        return processes.ROOT / "models"
    return Path(request.getfixturevalue("interpreter").path).parent


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Env]:
    from bot import db
    from bot.app.wiring import build_app_state
    from bot.nlu.model import load_latest

    tmp = tmp_path_factory.mktemp("twilio-procs")
    (tmp / "var").mkdir()
    fake = FakeTwilio()
    prefix = processes.new_prefix()
    models = _models(request)
    environ = processes.base_env(tmp, redis_url=REDIS_URL or "", database_url=os.environ.get("DATABASE_URL"),
                                 twilio_base=fake.base_url, prefix=prefix, lock_lifetime=LOCK_LIFETIME,
                                 models_dir=models, extra={"BOT_TWILIO_ORDER_TIMEOUT": "4"})
    engine = db.make_engine(environ["DATABASE_URL"])
    db.migrate(engine)  # once, here: two processes migrating the same empty database at once would race
    # two `bot run --workers 2` servers: four worker processes, two per listening port
    cluster = processes.start(environ, [processes.free_port(), processes.free_port()], workers=WORKERS,
                              log_dir=tmp)
    cluster.prefix = prefix
    redis_cfg = {"type": "redis", "url": REDIS_URL, "key_prefix": prefix + "tracker:"}
    lock_cfg = {"type": "redis", "url": REDIS_URL, "key_prefix": prefix + "lock:",
                "lock_lifetime": LOCK_LIFETIME}
    state = build_app_state(processes.ROOT, tracker_store=redis_cfg, lock_store=lock_cfg,
                            interpreter=load_latest(models, train_if_missing=False), engine=engine)
    try:
        yield Env(cluster, fake, engine, state)
    finally:
        state.close()
        cluster.stop()
        fake.close()
        engine.dispose()


def _params(address: str, sid: str, body: str) -> dict[str, str]:
    return {"Body": body, "From": address, "To": processes.FROM_BOT, "MessageSid": sid,
            "AccountSid": processes.ACCOUNT, "NumMedia": "0"}


def _address() -> str:
    """A synthetic Mexican mobile (555 block), fresh per test: the shared database outlives test runs."""
    return f"whatsapp:+521555{secrets.randbelow(10**7):07d}"


def _sid(tag: str, i: int) -> str:
    return "SM" + f"{tag}{i:04d}{time.time_ns():x}".ljust(32, "0")[:32]


def test_five_at_once_across_two_processes_all_processed_in_arrival_order(env: Env) -> None:
    address = _address()
    sids = [_sid("a", i) for i in range(5)]
    with ThreadPoolExecutor(5) as pool:  # all five at once, alternating between the two processes
        codes = list(pool.map(lambda i: env.post(i % 2, _params(address, sids[i], TEXTS[i])).status_code,
                              range(5)))
    assert codes == [200] * 5
    rows = env.wait_processed(address, 5)
    assert sorted(r[0] for r in rows) == sorted(sids)
    assert [r[2] for r in rows] == ["processed"] * 5, rows
    arrival = [r[0] for r in rows]  # ordered by the arrival number the ledger gave out
    assert env.tracker_message_ids(canonical_phone(address)) == arrival  # none lost, none twice, in order
    assert [r[1] for r in rows] == [1, 2, 3, 4, 5]


def test_messages_sent_one_after_another_are_processed_in_that_order(env: Env) -> None:
    """Each message is sent once the previous one was acknowledged — as Twilio delivers a patient's
    messages — alternating processes, while the previous replies are still being computed."""
    address = _address()
    sids = [_sid("b", i) for i in range(5)]
    for i in range(5):
        assert env.post(i % 2, _params(address, sids[i], TEXTS[i])).status_code == 200
    rows = env.wait_processed(address, 5)
    assert [r[0] for r in rows] == sids
    assert [r[2] for r in rows] == ["processed"] * 5, rows
    assert env.tracker_message_ids(canonical_phone(address)) == sids
    # every one answered: "processed" means the turn and its replies are stored; they leave just after
    deadline = time.monotonic() + 30
    while len([m for m in env.fake.messages if m.get("To") == address]) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len([m for m in env.fake.messages if m.get("To") == address]) >= 5


def test_lock_of_a_killed_worker_expires_and_the_next_message_is_processed(env: Env) -> None:
    address = _address()
    sender = canonical_phone(address)
    holder = subprocess.Popen(  # a worker built like the servers' (same lock store, same key scheme)
        [sys.executable, "-c",
         "import time\n"
         "from bot.app.wiring import build_app_state\n"
         "state = build_app_state()\n"
         f"state.processor.lock_store.lock({sender!r}).__enter__()\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n"],
        cwd=processes.ROOT, env=env.cluster.env, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    finally:
        holder.kill()  # dies holding the conversation's lock: nobody will ever release it
        holder.wait(5)
        if holder.stdout is not None:
            holder.stdout.close()
    killed = time.monotonic()
    sid = _sid("c", 0)
    assert env.post(0, _params(address, sid, "hola")).status_code == 200
    rows = env.wait_processed(address, 1, timeout=LOCK_LIFETIME + 8)
    took = time.monotonic() - killed
    assert rows and rows[0][2] == "processed", rows
    assert env.tracker_message_ids(sender) == [sid]
    assert 0.5 * LOCK_LIFETIME <= took < LOCK_LIFETIME + 6  # it waited for the expiry, then went on
