"""Benchmark: the real assistant behind signed Twilio WhatsApp webhooks, as deployed.

``bot run --workers N`` (the real processor: NLU, policies, flow, disclosure gate, audit, encryption at
rest) with Redis tracker + lock stores and PostgreSQL; a fake of Twilio's Messages API (on loopback, in
this process's event loop) stands in for Twilio's network — the workers' twilio SDK posts every reply to
it. C concurrent conversations (distinct synthetic patients), each sending its next message once the
reply to the previous one reached the fake (a patient waits for the answer).

The load generator shares the machine's CPUs with the server it measures, so it is kept lean
(:mod:`bench.loadgen`): every webhook request — MessageSid, urlencoded body and ``X-Twilio-Signature``,
which Twilio computes in production, not our server — is built before the timed run; requests go out as
pre-built bytes on keep-alive connections of a minimal HTTP/1.1 client, and the fake Twilio is a minimal
HTTP/1.1 server answering the SDK's JSON message resource from a template; both run on uvloop when it is
installed. That costs ~0.2–0.3 ms of CPU per message where aiohttp's client and server cost ~1 ms, so
the figures reflect the server, as if Twilio's network and the patients' phones were elsewhere. The
load generator's CPU per message is printed (measured over the timed run only).

Prints, separately:

* webhook acknowledgement latency (signed POST → empty TwiML), p50/p99;
* end-to-end latency (signed POST → the reply arrives at the fake Twilio REST API), p50/p99;
* processed messages per second (replies delivered / wall time).

With no think time (the default) the closed loop saturates the workers: throughput is their capacity,
and end-to-end latency is queueing (≈ conversations / throughput). ``--think S`` makes each patient wait
S seconds on average (exponential) before the next message — the load offered is then about
conversations / (S + latency), and end-to-end latency below saturation becomes visible.
``--threads N`` sets ``BOT_TWILIO_WORKER_THREADS``.

``--mode burst`` instead fires every message at once without waiting for replies and reports the
acknowledgement rate and how long the replies took to drain.

``--mode rate --rate R`` is an open loop: messages arrive at R per second (Poisson), round-robin over the
conversations (so one patient writes again every conversations / R seconds), whether or not earlier
replies came back — latency at a given load, the way a capacity plan reads it.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/twilio_webhook.py [--conversations 200] [--turns 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import FakeTwilio, Pool, request_bytes  # noqa: E402

SCRIPT = ["hola", "¿cuál es su horario?", "¿dónde están ubicados?", "¿cuánto cuesta la consulta?", "gracias"]


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc); raises OSError / ValueError when it is gone."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children that are still alive (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            pids += children(current)
        except (OSError, ValueError, IndexError):
            continue
    return total


def worker_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU time of each direct child of ``pid`` (``bot run --workers N``: its worker processes)."""
    try:
        return {child: cpu_seconds(child) for child in children(pid)}
    except (OSError, ValueError):
        return {}


def named_cpu_seconds(*names: str) -> float:
    """CPU time of every process whose command name is one of ``names`` (e.g. postgres, redis-server)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1:text.rfind(")")]
        if name in names or any(name.startswith(n) for n in names):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def fresh_database(server_url: str) -> tuple[str, Any]:
    """A new, empty database on the same PostgreSQL server, and a function that drops it: every run starts
    from the same state (no bloat or dead rows left by earlier runs — this machine runs with autovacuum
    off, so reusing one database made each run slower than the last)."""
    from sqlalchemy import create_engine, make_url, text

    from bot.settings import normalise_database_url

    url = make_url(normalise_database_url(server_url))
    name = f"bench_twilio_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


@dataclass
class Plan:
    """Every message of a run, built before it starts: ``requests[c][turn]`` is the complete signed
    webhook POST (fresh MessageSid, urlencoded body, ``X-Twilio-Signature``) for conversation ``c``."""

    addresses: list[str]
    requests: list[list[bytes]]


def prepare(args: argparse.Namespace, url: str, avoid: int = -1) -> tuple[Plan, int]:
    """The plan for ``args`` (conversations × turns) and its block of synthetic numbers. Twilio computes
    the signatures in production, not the server under test: they are computed here, untimed."""
    from tests.channels.twilio.processes import ACCOUNT, FROM_BOT, TOKEN
    from tests.fakes.twilio_server import sign

    block = avoid
    while block == avoid:
        block = secrets.randbelow(900) + 100  # fresh synthetic numbers (555 block) per run
    parts = urlsplit(url)
    addresses = [f"whatsapp:+521555{block:03d}{c:04d}" for c in range(args.conversations)]
    requests = []
    for address in addresses:
        row = []
        for turn in range(args.turns):
            params = {"Body": SCRIPT[turn % len(SCRIPT)], "From": address, "To": FROM_BOT,
                      "MessageSid": f"SM{secrets.token_hex(16)}", "AccountSid": ACCOUNT, "NumMedia": "0"}
            row.append(request_bytes(parts.netloc, parts.path, params,
                                     {"x-twilio-signature": sign(TOKEN, url, params)}))
        requests.append(row)
    return Plan(addresses, requests), block


def _expire(future: asyncio.Future[float]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def drive(args: argparse.Namespace, url: str, plan: Plan, fake: FakeTwilio) -> dict[str, Any]:
    acks: list[float] = []
    e2e: list[float] = []
    by_turn: dict[int, list[float]] = defaultdict(list)
    errors = 0
    parts = urlsplit(url)
    pool = Pool(parts.hostname or "127.0.0.1", parts.port or 80, limit=args.conversations * 2 + 10)
    if args.connections:
        await pool.spread(args.connections)
    loop = asyncio.get_running_loop()
    perf_counter = time.perf_counter

    async def post(request: bytes) -> float:
        nonlocal errors
        sent = perf_counter()
        try:
            status = await pool.post(request)
        except (OSError, TimeoutError):
            errors += 1
            return sent
        acks.append(perf_counter() - sent)
        if status != 200:
            errors += 1
        return sent

    async def timed(c: int, turn: int) -> None:
        """One message and its reply (the ``turn + 1``-th this patient gets)."""
        nonlocal errors
        reply = fake.wait(plan.addresses[c], turn + 1)
        sent = await post(plan.requests[c][turn])
        timer = loop.call_later(30, _expire, reply)
        try:
            e2e.append(await reply - sent)
            by_turn[turn].append(e2e[-1])
        except TimeoutError:
            errors += 1
        timer.cancel()

    async def conversation(c: int) -> None:
        await asyncio.sleep(args.ramp * c / args.conversations)  # conversations start over --ramp s
        for turn in range(args.turns):
            if turn and args.think > 0:  # the patient reads the answer and types (exponential)
                await asyncio.sleep(random.expovariate(1 / args.think))
            await timed(c, turn)

    results: dict[str, Any] = {}
    start = perf_counter()
    try:
        if args.mode == "closed":
            await asyncio.gather(*(conversation(c) for c in range(args.conversations)))
        elif args.mode == "rate":
            tasks: list[asyncio.Task[None]] = []
            total = args.conversations * args.turns
            offered = loop.create_future()

            def arrive(k: int) -> None:  # a timer per message: no dispatcher task to wake in between
                tasks.append(loop.create_task(timed(k % args.conversations, k // args.conversations)))
                if k == total - 1:
                    offered.set_result(perf_counter() - start)

            if not total:
                offered.set_result(0.0)
            due = loop.time()
            for k in range(total):
                due += random.expovariate(args.rate)
                loop.call_at(due, arrive, k)
            results["offered_in"] = await offered
            await asyncio.gather(*tasks)
        else:
            replies = [fake.wait(a, args.turns) for a in plan.addresses]
            await asyncio.gather(*(post(plan.requests[c][t]) for t in range(args.turns)
                                   for c in range(args.conversations)))
            results["acked_in"] = perf_counter() - start
            await asyncio.wait_for(asyncio.gather(*replies), 120)
            e2e.extend(t - start for a in plan.addresses for t in fake.arrivals[a])
        results.update(elapsed=perf_counter() - start, acks=acks, e2e=e2e, errors=errors, by_turn=by_turn)
    finally:
        pool.close()
    return results


async def bench(args: argparse.Namespace, url: str, fake_port: int, server_pid: int) -> dict[str, Any]:
    fake = FakeTwilio()
    await fake.start(fake_port)
    try:
        warm = argparse.Namespace(**{**vars(args), "conversations": 8 * args.workers, "turns": 2,
                                     "mode": "closed"})
        warm_plan, block = prepare(warm, url)
        plan, _ = prepare(args, url, avoid=block)
        await drive(warm, url, warm_plan, fake)  # every worker builds its channel, pools and caches
        gc.collect()
        gc.freeze()  # the load generator's own full collections would show up as latency
        cpu, per_worker = cpu_seconds(server_pid), worker_cpu_seconds(server_pid)
        pg, rd = named_cpu_seconds("postgres"), named_cpu_seconds("redis-server")
        own = time.process_time()  # the load generator's own CPU: drive() only, not these /proc scans
        results = await drive(args, url, plan, fake)
        results["bench_cpu"] = time.process_time() - own
        results["server_cpu"] = cpu_seconds(server_pid) - cpu
        after = worker_cpu_seconds(server_pid)
        results["worker_cpu"] = sorted((after[w] - per_worker.get(w, 0.0) for w in after), reverse=True)
        results["pg_cpu"] = named_cpu_seconds("postgres") - pg
        results["redis_cpu"] = named_cpu_seconds("redis-server") - rd
        return results
    finally:
        await fake.stop()


def run(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """``asyncio.run`` on uvloop when it is installed (it comes with uvicorn[standard]): less CPU per
    socket event than the default loop, all of it taken from the server under test."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5, help="messages per conversation")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=("closed", "burst", "rate"), default="closed")
    parser.add_argument("--rate", type=float, default=150.0, help="rate mode: messages per second offered")
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which conversations start")
    parser.add_argument("--think", type=float, default=0.0,
                        help="closed mode: mean seconds a patient waits after a reply before writing again "
                             "(0: at once, the server is saturated; >0: offered load ≈ conversations / "
                             "(think + end-to-end latency), for latency below saturation)")
    parser.add_argument("--threads", type=int, default=None, help="BOT_TWILIO_WORKER_THREADS per worker")
    parser.add_argument("--connections", type=int, default=64,
                        help="keep-alive connections opened at once and used in turn, as many senders "
                        "would (0: open on demand, reuse the most recent: a few hot connections, so "
                        "one worker gets most of the load)")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--same-db", action="store_true",
                        help="use DATABASE_URL's database itself instead of a fresh one created for the run")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    os.environ.setdefault("BOT_DATA_KEY", "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=")

    from bot import db
    from tests.channels.twilio import processes

    database_url, drop_database = (server_url, lambda: None) if args.same_db else fresh_database(server_url)
    tmp = Path(tempfile.mkdtemp(prefix="bench-twilio-"))
    (tmp / "var").mkdir()
    fake_port = processes.free_port()
    env = processes.base_env(tmp, redis_url=redis_url, database_url=database_url,
                             twilio_base=f"http://127.0.0.1:{fake_port}", prefix=processes.new_prefix())
    if args.threads:
        env["BOT_TWILIO_WORKER_THREADS"] = str(args.threads)
    engine = db.make_engine(database_url)
    db.migrate(engine)  # here, once: workers starting together on an unmigrated database would race
    engine.dispose()
    try:
        cluster = processes.start(env, [processes.free_port()], workers=args.workers, log_dir=tmp)
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        try:
            res = run(bench(args, cluster.url(0, "/webhooks/twilio/whatsapp"), fake_port,
                            cluster.procs[0].pid))
        finally:
            cluster.stop()
    finally:
        drop_database()
    acks, e2e, n = res["acks"], res["e2e"], args.conversations * args.turns
    elapsed = float(res["elapsed"])
    print(f"real processor; bot run --workers {args.workers}; Redis tracker+lock; PostgreSQL "
          f"({'DATABASE_URL as is' if args.same_db else 'a fresh database for this run'}); "
          f"fake Twilio REST on loopback; {os.cpu_count()} CPUs; mode {args.mode}; "
          f"{args.connections or 'on-demand'} keep-alive connections")
    print(f"work threads per worker: {env.get('BOT_TWILIO_WORKER_THREADS', '2 (default)')}; "
          f"conversations start over {args.ramp:g} s; think time {args.think:g} s (closed mode)")
    print(f"conversations: {args.conversations}  messages: {n}  errors: {res['errors']}")
    print(f"webhook ack:  p50 {pct(acks, 0.5):7.1f} ms  p99 {pct(acks, 0.99):7.1f} ms  "
          f"max {max(acks) * 1000:7.1f} ms")
    if e2e:
        print(f"end to end:   p50 {pct(e2e, 0.5):7.1f} ms  p99 {pct(e2e, 0.99):7.1f} ms  "
              f"(signed POST → reply at the fake Twilio; {len(e2e)}/{n} replies)")
    if res["by_turn"] and args.mode != "burst":
        print("end to end by turn (p50/p99 ms): " + "  ".join(
            f"{t + 1}: {pct(v, 0.5):.0f}/{pct(v, 0.99):.0f}" for t, v in sorted(res["by_turn"].items())))
    if args.mode == "rate":
        print(f"offered:      {n / float(res['offered_in']):7.0f} msg/s (Poisson, target {args.rate:g})")
    if args.mode == "burst":
        acked_in = float(res["acked_in"])
        print(f"acknowledged: {n / acked_in:7.0f} msg/s ({n} in {acked_in:.2f} s)")
    print(f"processed:    {len(e2e) / elapsed:7.0f} msg/s ({len(e2e)} replies in {elapsed:.2f} s, "
          f"mean e2e {statistics.fmean(e2e) * 1000 if e2e else 0:.1f} ms)")
    per = {k: float(res[k]) / n * 1000 for k in ("server_cpu", "pg_cpu", "redis_cpu", "bench_cpu")}
    print(f"CPU per message: workers {per['server_cpu']:.1f} ms, PostgreSQL+Redis "
          f"{per['pg_cpu'] + per['redis_cpu']:.1f} ms (PostgreSQL {per['pg_cpu']:.1f}, Redis "
          f"{per['redis_cpu']:.1f}; every process of that name on the machine), this load generator + fake "
          f"Twilio {per['bench_cpu']:.1f} ms; load average before the run: {load}")
    total = sum(per.values())
    split = [float(c) for c in res.get("worker_cpu", []) if float(c) > 0.05]  # not uvicorn's resource tracker
    if split and sum(split) > 0:
        shares = " / ".join(f"{100 * c / sum(split):.0f} %" for c in split)
        hot = "" if args.connections else ": a few hot connections"
        print(f"CPU split between the workers: {shares} (--connections {args.connections}{hot})")
    print(f"total {total:.1f} ms CPU per message → at most {os.cpu_count() or 1} CPUs / total = "
          f"{(os.cpu_count() or 1) * 1000 / total:.0f} msg/s on this machine; the workers alone allow "
          f"{(os.cpu_count() or 1) * 1000 / per['server_cpu']:.0f} msg/s with every CPU theirs")
    if not args.keep_logs:
        for log in tmp.glob("*.log"):
            log.unlink()


if __name__ == "__main__":
    main()
