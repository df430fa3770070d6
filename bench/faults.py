"""Fault suite: nothing lost, nothing sent twice, nothing out of order — under faults (issue 18).

Bounded and loopback only. Starts its own PostgreSQL (``initdb`` + ``pg_ctl`` on a spare port) and Redis
(``redis-server`` on a spare port) — never the machine's services —, a fake Twilio REST API that records
every send (tests/fakes/twilio_server.py), a fake LLM provider (tests/fakes/llm_servers.py), and
``bot run --workers 2`` with endpoints.production.yml (conversations in PostgreSQL, locks in Redis).
Simulated patients write through signed webhooks without waiting for replies, and one fault at a time is
injected while they write:

    none                 baseline
    kill9_random         kill -9 of a worker at a random moment
    kill9_in_send        kill -9 of the worker inside a Twilio send (Twilio took the message)
    redis_stop_10s       Redis stopped for 10 s
    pg_stop_10s          PostgreSQL stopped cleanly (pg_ctl -m fast) for 10 s
    pg_crash_10s         PostgreSQL crashed (pg_ctl -m immediate: crash recovery at restart), 10 s down
    twilio_500_10s       Twilio REST answers 500 for 10 s
    triple_delivery      every webhook delivered three times at once
    slow_llm_10s         the LLM provider stalls past its timeout for 10 s

Each send is attributed to the inbound message whose turn produced it through the channel's outbox
(``twilio_outbound.inbound_sid``); a send Twilio took that the channel cannot account for counts as a
second copy. Per fault it prints: messages sent, answered, lost, answered twice, out of order, webhook
status codes and recovery time (from the end of the fault to the last reply); then the workers' RSS
over ``--rss-messages`` messages (default 10,000, from more patients than the default tracker cache
holds). The pass line is "lost 0, twice 0, out of order 0" for every fault.

    .venv/bin/python bench/faults.py [--patients 20] [--messages 10] [--only kill9_in_send,...]
"""

from __future__ import annotations

import argparse
import base64
import collections
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_servers import FakeLLMServer  # noqa: E402
from tests.fakes.twilio_server import FakeTwilio, sign  # noqa: E402

TOKEN = "fault-suite-auth-token-0123456789"
ACCOUNT = "AC" + "f" * 32
FROM_BOT = "whatsapp:+14155238886"
FAULTS = ("none", "kill9_random", "kill9_in_send", "redis_stop_10s", "pg_stop_10s", "pg_crash_10s",
          "twilio_500_10s", "triple_delivery", "slow_llm_10s")
TEXTS = ("hola", "cuál es su horario", "dónde están ubicados", "cuánto cuesta la consulta",
         "qué servicios tienen", "tienen estacionamiento", "aceptan tarjeta", "gracias",
         "a qué hora abren el sábado", "cuál es su teléfono")
FAULT_AT = 3.0  # seconds into the traffic
FAULT_FOR = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- own services ---------------------------------------------------------------------------------------
class Postgres:
    def __init__(self, base: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise SystemExit("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin, self.dir, self.port = bins[-1], base / "pg", free_port()
        # PostgreSQL refuses to run as root: then as the system's postgres user
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir.mkdir()
        if self.as_user:
            os.chmod(base, 0o711)
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run([*self.as_user, self.bin / "initdb", "-D", self.dir, "-U", "postgres", "-A", "trust",
                        "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run([*self.as_user, self.bin / "pg_ctl", "-D", self.dir, "-l", self.dir / "log", "-w",
                        "-o", options, "start"], check=True, stdout=subprocess.DEVNULL)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run([*self.as_user, self.bin / "pg_ctl", "-D", self.dir, "-m", mode, "-w", "stop"],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Redis:
    def __init__(self, base: Path) -> None:
        self.port, self.dir, self.proc = free_port(), base / "redis", None
        self.dir.mkdir()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL)
        _wait(lambda: _connects(self.port), 10, "redis")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come up in {timeout} s")
        time.sleep(0.1)


# -- the fake Twilio, recording sends with their time and able to kill the sending worker ----------------
class Recorder:
    def __init__(self, bot: Bot) -> None:
        self.fake = FakeTwilio()
        self.fake.server.handle_error = lambda *_: None  # type: ignore[method-assign]  # killed clients
        self.bot = bot
        self.at: dict[str, float] = {}
        self.to: dict[str, str] = {}
        self.kill_next_send = threading.Event()
        self.killed: list[int] = []
        original = self.fake.message

        def message(account: str, form: dict[str, str]) -> dict[str, Any]:
            created = original(account, form)
            self.at[created["sid"]] = time.monotonic()
            self.to[created["sid"]] = form.get("To", "")
            if self.kill_next_send.is_set():
                self.kill_next_send.clear()
                handler = sys._getframe(1).f_locals.get("self")  # the request handler (do_POST)
                pid = self.bot.pid_of_client(handler.client_address[1]) if handler is not None else None
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)  # Twilio took it; the worker dies before hearing so
                    self.killed.append(pid)
                    time.sleep(0.2)
            return created

        self.fake.message = message  # type: ignore[method-assign]


# -- the bot ---------------------------------------------------------------------------------------------
class Bot:
    def __init__(self, base: Path, pg: Postgres, redis: Redis, twilio_url: str, llm_url: str) -> None:
        self.port = free_port()
        self.log = open(base / "bot.log", "wb")  # noqa: SIM115 - closed in stop()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_PROJECT_DIR": str(ROOT),
                    "BOT_VAR_DIR": str(base / "var"), "BOT_ENDPOINTS": str(ROOT / "endpoints.production.yml"),
                    "DATABASE_URL": pg.url, "REDIS_URL": redis.url,
                    "BOT_DATA_KEY": base64.b64encode(os.urandom(32)).decode(),
                    "BOT_AUDIT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
                    "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
                    "TWILIO_WHATSAPP_FROM": FROM_BOT,
                    "TWILIO_API_BASE_URL": twilio_url, "BOT_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
                    "BOT_TWILIO_ORDER_TIMEOUT": "5", "BOT_LLM_PROVIDER": "anthropic",
                    "BOT_LLM_BASE_URL": llm_url, "ANTHROPIC_API_KEY": "fault-suite"}
        for name in ("BOT_ENV", "BOT_WORKERS", "TWILIO_MESSAGING_SERVICE_SID"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "run", "--workers", "2",
                                      "--host", "127.0.0.1", "--port", str(self.port)],
                                     cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        _wait(self.healthy, 180, "bot run")
        _wait(lambda: len(self.workers()) == 2, 60, "two workers")

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise SystemExit(f"bot run exited with {self.proc.returncode}; see {self.log.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return bool(r.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def workers(self) -> list[int]:
        if self.proc is None:
            return []
        found = []
        for pid in _children(self.proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                found.append(pid)
        return found

    def pid_of_client(self, port: int) -> int | None:
        inode = _socket_inode(port)
        if inode is None:
            return None
        for pid in self.workers():
            try:
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
            except OSError:
                continue
        return None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        self.log.close()


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out += [int(p) for p in task.read_text().split()]
    return out


def _socket_inode(local_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == local_port:
                return parts[9]
    return None


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# -- traffic ---------------------------------------------------------------------------------------------
class Traffic:
    """Signed webhooks as Twilio sends them. ``retries``: as Twilio does when the webhook URL carries the
    connection overrides docs/twilio.md asks for (``#rc=3&rp=all``): a 5xx or a failed connection is
    sent again (same MessageSid) up to that many times, a second apart; 0: Twilio's default, no retry."""

    def __init__(self, bot: Bot, retries: int = 3) -> None:
        self.url = f"http://127.0.0.1:{bot.port}/webhooks/twilio/whatsapp"
        self.statuses: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.retries = retries

    def post(self, sid: str, patient: str, body: str) -> None:
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(1.0)
            if self._post_once(sid, patient, body).startswith("2"):
                return

    def _post_once(self, sid: str, patient: str, body: str) -> str:
        params = {"Body": body, "From": patient, "To": FROM_BOT, "MessageSid": sid, "AccountSid": ACCOUNT,
                  "NumMedia": "0"}
        data = urllib.parse.urlencode(params).encode()
        headers = {"content-type": "application/x-www-form-urlencoded",
                   "x-twilio-signature": sign(TOKEN, self.url, params)}
        request = urllib.request.Request(self.url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                status = str(r.status)
        except urllib.error.HTTPError as e:
            status = str(e.code)
        except OSError as e:
            status = type(e).__name__
        with self.lock:
            self.statuses[status] += 1
        return status


def patients_for(run: int, count: int) -> list[str]:
    return [f"whatsapp:+52155{run:02d}{i:06d}" for i in range(count)]


def send_conversations(traffic: Traffic, patients: list[str], messages: int, copies: int = 1,
                       spacing: float = 1.0) -> dict[str, tuple[str, int]]:
    """Every patient writes ``messages`` texts about ``spacing`` s apart without waiting for replies;
    returns MessageSid -> (patient, index)."""
    sent: dict[str, tuple[str, int]] = {}
    threads = []

    def patient_writes(patient: str) -> None:
        rng = random.Random(patient)
        time.sleep(rng.random() * spacing)
        for i in range(messages):
            sid = "SM" + os.urandom(16).hex()
            sent[sid] = (patient, i)
            posts = [threading.Thread(target=traffic.post, args=(sid, patient, TEXTS[i % len(TEXTS)]))
                     for _ in range(copies)]
            for t in posts:
                t.start()
            for t in posts:
                t.join()
            time.sleep(spacing * (0.5 + rng.random()))

    for patient in patients:
        threads.append(threading.Thread(target=patient_writes, args=(patient,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent


# -- measuring -------------------------------------------------------------------------------------------
def settled(pg_url: str, sids: list[str]) -> bool:
    import psycopg

    try:
        with psycopg.connect(pg_url, connect_timeout=3) as conn:
            open_in = conn.execute("SELECT count(*) FROM twilio_inbound WHERE message_sid = ANY(%s) "
                                   "AND status = 'received'", (sids,)).fetchone()
            recorded = conn.execute("SELECT count(*) FROM twilio_inbound WHERE message_sid = ANY(%s)",
                                    (sids,)).fetchone()
            open_out = conn.execute("SELECT count(*) FROM twilio_outbound WHERE state IN "
                                    "('pending', 'sending', 'retry', 'staged')").fetchone()
    except psycopg.Error:
        return False
    assert open_in is not None and open_out is not None and recorded is not None
    return bool(open_in[0] == 0 and open_out[0] == 0 and recorded[0] == len(sids))


def measure(pg_url: str, rec: Recorder, sent: dict[str, tuple[str, int]]) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT a.message_sid, o.inbound_sid, o.position FROM twilio_attempt a "
                            "JOIN twilio_outbound o ON o.id = a.outbound_id").fetchall()
        failed = conn.execute("SELECT count(*) FROM twilio_inbound WHERE message_sid = ANY(%s) AND "
                              "status = 'failed'", (list(sent),)).fetchone()
    turn_of = {str(r[0]): (str(r[1] or ""), int(r[2] or 0)) for r in rows}
    patients = {p for p, _ in sent.values()}
    answered: set[str] = set()
    twice = 0
    seen: set[tuple[str, int]] = set()
    by_patient: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    last_answer = 0.0
    for sid in sorted((s for s in rec.at if rec.to.get(s) in patients), key=rec.at.__getitem__):
        turn = turn_of.get(sid)
        if turn is None:
            twice += 1  # Twilio took a message the channel has no record of: a second copy
            continue
        inbound = turn[0].removesuffix(":error")
        if inbound not in sent:
            continue
        if (turn[0], turn[1]) in seen:
            twice += 1
        seen.add((turn[0], turn[1]))
        answered.add(inbound)
        patient, index = sent[inbound]
        by_patient[patient].append((index, turn[1] + (1000 if turn[0].endswith(":error") else 0)))
        last_answer = max(last_answer, rec.at[sid])
    out_of_order = sum(1 for seq in by_patient.values() for a, b in itertools.pairwise(seq) if b < a)
    return {"sent": len(sent), "answered": len(answered), "lost": len(sent) - len(answered), "twice": twice,
            "order": out_of_order, "failed": int(failed[0]) if failed else 0, "last": last_answer}


# -- faults ----------------------------------------------------------------------------------------------
def inject(fault: str, env: dict[str, Any]) -> float:
    """Start ``fault`` (at FAULT_AT s into the traffic), end it; returns when it ended (monotonic)."""
    time.sleep(FAULT_AT)
    bot, pg, redis, rec, llm = env["bot"], env["pg"], env["redis"], env["rec"], env["llm"]
    if fault == "kill9_random":
        time.sleep(random.random() * 4)
        os.kill(random.choice(bot.workers()), signal.SIGKILL)
    elif fault == "kill9_in_send":
        rec.kill_next_send.set()
        _wait(lambda: not rec.kill_next_send.is_set(), 30, "a send to kill")
    elif fault == "redis_stop_10s":
        redis.stop()
        time.sleep(FAULT_FOR)
        redis.start()
    elif fault in ("pg_stop_10s", "pg_crash_10s"):
        pg.stop("fast" if fault == "pg_stop_10s" else "immediate")
        time.sleep(FAULT_FOR)
        pg.start()
    elif fault == "twilio_500_10s":
        rec.fake.fail_with = (500, 20500)
        time.sleep(FAULT_FOR)
        rec.fake.fail_with = None
    elif fault == "slow_llm_10s":
        llm.mode = "timeout"
        time.sleep(FAULT_FOR)
        llm.mode = "good"
    return time.monotonic()


def run_fault(run: int, fault: str, env: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    traffic = Traffic(env["bot"], args.twilio_retries)
    patients = patients_for(run, args.patients)
    ended = [time.monotonic()]
    injector = threading.Thread(target=lambda: ended.__setitem__(0, inject(fault, env)))
    injector.start()
    sent = send_conversations(traffic, patients, args.messages, copies=3 if fault == "triple_delivery" else 1)
    injector.join()
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline and not settled(env["pg"].url, list(sent)):
        time.sleep(0.5)
    time.sleep(1)
    result = measure(env["pg"].url, env["rec"], sent)
    result["fault"] = fault
    result["codes"] = dict(traffic.statuses)
    result["recovery"] = max(0.0, result.pop("last") - ended[0])
    if fault == "none" or fault == "triple_delivery":
        result["recovery"] = 0.0
    _wait(lambda: len(env["bot"].workers()) == 2, 60, "the replacement worker")
    return result


def rss_phase(env: dict[str, Any], total: int, settle: float) -> list[tuple[int, list[int], float]]:
    """``total`` messages from ``total / 4`` patients (more than the default tracker cache holds; 4
    messages each, 16 posting at a time), in quarters: each quarter is posted, then processed completely,
    then the workers' RSS (kB) is read. Returns (messages, RSS per worker, messages per second)."""
    bot, traffic = env["bot"], Traffic(env["bot"])
    patients = [f"whatsapp:+52156{i:07d}" for i in range(max(1, total // 4))]
    points: list[tuple[int, list[int], float]] = [(0, [rss_kb(p) for p in bot.workers()], 0.0)]
    jobs = [(patients[i % len(patients)], i // len(patients)) for i in range(total)]
    lock = threading.Lock()

    def worker(queue: list[tuple[str, int]], sids: list[str]) -> None:
        while True:
            with lock:
                if not queue:
                    return
                patient, index = queue.pop(0)
                sid = "SM" + os.urandom(16).hex()
                sids.append(sid)
            traffic.post(sid, patient, TEXTS[index % len(TEXTS)])

    done = 0
    for quarter in range(4):
        queue = jobs[total * quarter // 4: total * (quarter + 1) // 4]
        sids: list[str] = []
        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(queue, sids)) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and not settled(env["pg"].url, sids):
            time.sleep(0.5)
        done += len(sids)
        rate = len(sids) / (time.monotonic() - started)
        points.append((done, [rss_kb(p) for p in bot.workers()], rate))
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated faults (default: all)")
    parser.add_argument("--settle", type=float, default=240, help="seconds to wait for recovery per fault")
    parser.add_argument("--rss-messages", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--twilio-retries", type=int, default=3,
                        help="webhook retries on 5xx / a failed connection, as with #rc=3&rp=all (0: none)")
    args = parser.parse_args()
    faults = [f for f in args.only.split(",") if f] or list(FAULTS)
    base = Path(tempfile.mkdtemp(prefix="bot-faults-"))
    pg, redis = Postgres(base), Redis(base)
    llm = FakeLLMServer(mode="good", timeout_sleep=6.0)
    llm.__enter__()
    env: dict[str, Any] = {"pg": pg, "redis": redis, "llm": llm}
    results: list[dict[str, Any]] = []
    try:
        pg.start()
        redis.start()
        bot = Bot(base, pg, redis, "", llm.base_url)
        rec = Recorder(bot)
        bot.env["TWILIO_API_BASE_URL"] = rec.fake.base_url
        env.update(bot=bot, rec=rec)
        bot.start()
        print(f"# own PostgreSQL :{pg.port}, Redis :{redis.port}, bot run --workers 2 :{bot.port}; "
              f"{args.patients} patients x {args.messages} messages per fault; webhook retries as Twilio's "
              f"with #rc={args.twilio_retries}&rp=all; logs in {base}", flush=True)
        for run, fault in enumerate(faults, start=1):
            if run == 1:
                print(_header(), flush=True)
            results.append(run_fault(run, fault, env, args))
            print(_row(results[-1]), flush=True)
        points = rss_phase(env, args.rss_messages, max(args.settle, 600)) if args.rss_messages else []
    finally:
        if "bot" in env:
            env["bot"].stop()
        redis.stop()
        pg.stop("fast")
        llm.__exit__(None, None, None)
        if "rec" in env:
            env["rec"].fake.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print(_header())
    for result in results:
        print(_row(result))
    if points:
        print()
        patients = max(1, args.rss_messages // 4)
        print(f"worker RSS over {args.rss_messages:,} messages from {patients:,} patients "
              "(default tracker cache, 1,024 conversations per worker):")
        for count, sizes, rate in points:
            speed = f"  ({rate:.0f} messages/s answered)" if rate else ""
            sizes_mb = ", ".join(f"{kb / 1024:.0f} MB" for kb in sizes)
            print(f"  after {count:>6,} messages: {sizes_mb}{speed}")
    bad = [r["fault"] for r in results if r["lost"] or r["twice"] or r["order"]]
    print()
    killed = len(env["rec"].killed) if "rec" in env else 0
    print(f"LLM provider requests: {len(llm.requests)}; workers killed inside a send: {killed}")
    print("PASS: lost 0, twice 0, out of order 0 for every fault" if not bad else f"FAIL: {', '.join(bad)}")
    return 1 if bad else 0


def _header() -> str:
    return (f"{'fault':<17} {'sent':>5} {'answered':>8} {'lost':>5} {'twice':>5} {'order':>5} {'failed':>6} "
            f"{'recovery':>9}  status codes")


def _row(r: dict[str, Any]) -> str:
    codes = " ".join(f"{k}:{v}" for k, v in sorted(r["codes"].items()))
    return (f"{r['fault']:<17} {r['sent']:>5} {r['answered']:>8} {r['lost']:>5} {r['twice']:>5} "
            f"{r['order']:>5} {r['failed']:>6} {r['recovery']:>8.1f}s  {codes}")


if __name__ == "__main__":
    raise SystemExit(main())
