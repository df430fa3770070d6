"""Audit log benchmark on PostgreSQL: appends/s with concurrent writers, then verify speed.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/audit.py

Creates a scratch database (bot_bench_<random>), dropped at the end. Goals: >= 2,000 appends/s with 4
concurrent writers (separate processes, one AuditLog each, every append its own committed transaction),
and >= 100,000 entries/s for ``verify()``. Entries are keyed (HMAC-SHA256) under a random signing key
made for the run; ``--checkpoint-every`` as in production (default 1,000).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from bot.compliance import signing
from bot.compliance.audit import GENESIS, AuditLog, canonical_details, canonical_entry, entry_mac
from bot.compliance.keyring import decode_key
from bot.compliance.schema import create_compliance_schema
from bot.compliance.tables import audit_log
from bot.settings import normalise_database_url


def _log(engine: object, seed: str, every: int) -> AuditLog:
    key = signing.Ed25519PrivateKey.from_private_bytes(decode_key(seed, "seed"))
    return AuditLog(engine, key, checkpoint_every=every)  # type: ignore[arg-type]


def _writer(url: str, seed: str, every: int, seconds: float, start_at: float, out: mp.Queue) -> None:
    engine = create_engine(url, pool_size=1)
    log = _log(engine, seed, every)
    while time.time() < start_at:
        time.sleep(0.001)
    deadline, count = time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        log.append("system:bench", "bench.append", f"item:{os.getpid()}-{count}", {"n": count})
        count += 1
    engine.dispose()
    out.put(count)


def _fill(url: str, total: int, key: bytes) -> None:
    """Top the chain up to ``total`` entries quickly (bulk inserts of correctly chained rows)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        row = conn.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
        seq, prev = (int(row[0]), str(row[1])) if row else (0, GENESIS)
        ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        batch: list[dict[str, object]] = []
        while seq < total:
            seq += 1
            details = canonical_details({"n": seq})
            subject = f"item:fill-{seq}"
            digest = entry_mac(
                key, prev, canonical_entry(seq, ts, "system:bench", "bench.fill", subject, details)
            )
            batch.append(
                {"seq": seq, "ts": ts, "actor": "system:bench", "action": "bench.fill", "subject": subject,
                 "details": details, "prev_hash": prev, "hash": digest}
            )  # fmt: skip
            prev = digest
            if len(batch) == 5000:
                conn.execute(audit_log.insert(), batch)
                batch = []
        if batch:
            conn.execute(audit_log.insert(), batch)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--verify-entries", type=int, default=200_000)
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    args = parser.parse_args(argv)
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://")):
        print("set DATABASE_URL=postgresql://... (the benchmark needs PostgreSQL)", file=sys.stderr)
        return 2
    admin = create_engine(normalise_database_url(raw), isolation_level="AUTOCOMMIT")
    name = f"bot_bench_{secrets.token_hex(5)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_engine(url)
        with engine.begin() as conn:
            create_compliance_schema(conn)
        seed, _public = signing.generate_keypair()
        ctx = mp.get_context("spawn")
        out: mp.Queue = ctx.Queue()
        start_at = time.time() + 2.0
        procs = [
            ctx.Process(target=_writer, args=(url, seed, args.checkpoint_every, args.seconds, start_at, out))
            for _ in range(args.writers)
        ]
        for p in procs:
            p.start()
        counts = [out.get() for _ in procs]
        for p in procs:
            p.join()
        appends = sum(counts)
        rate = appends / args.seconds
        log = _log(engine, seed, args.checkpoint_every)
        check = log.verify()
        print(
            f"append: {args.writers} writers x {args.seconds:.0f} s -> {appends} entries, "
            f"{rate:,.0f} appends/s (goal >= 2,000)  chain ok={check.ok} checkpoints={check.checkpoints}"
        )
        chain = log.keys().chain
        assert chain is not None
        _fill(url, args.verify_entries, chain)
        t0 = time.perf_counter()
        result = log.verify()
        elapsed = time.perf_counter() - t0
        print(
            f"verify: {result.entries} entries in {elapsed:.2f} s -> "
            f"{result.entries / elapsed:,.0f} entries/s (goal >= 100,000)  ok={result.ok}"
        )
        engine.dispose()
        return 0 if check.ok and result.ok else 1
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
