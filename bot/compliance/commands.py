"""``bot audit|consent|retention|arco`` handlers: each takes the argparse Namespace, returns an exit code.

Staff actions are audited with actor ``staff:<OS user>`` (``BOT_STAFF_ID`` overrides it).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from bot import settings
from bot.compliance import signing
from bot.compliance.audit import AuditLog
from bot.compliance.audit_details import utc_now


def _engine() -> Engine:
    from bot.db import get_engine

    return get_engine()


def _staff() -> str:
    ident = settings.staff_id() or getpass.getuser()
    return "staff:" + re.sub(r"[^A-Za-z0-9_.-]", "_", ident)[:48]


def audit_verify_command(args: argparse.Namespace) -> int:
    """Check the chain (links, HMACs), the stored checkpoints and exported ones; print what could not be
    checked. Exit 1 when something is broken."""
    from bot.compliance.consent import ConsentRegistry

    engine = _engine()
    audit = AuditLog(engine, verify_key=signing.verify_key_from_env())
    try:
        result = audit.verify(getattr(args, "checkpoints", None) or [])
    except (OSError, ValueError) as e:
        print(f"cannot read the exported checkpoints: {e}")
        return 2
    status = "OK" if result.ok else "BROKEN"
    print(
        f"audit chain {status}: {result.entries} entries, {result.checkpoints} checkpoints — {result.reason}"
    )
    if result.first_bad_seq is not None:
        print(f"first broken entry: seq {result.first_bad_seq}")
    for note in result.notes:
        print(f"not checked: {note}")
    problems = ConsentRegistry(engine, audit).verify_links()
    for problem in problems:
        print(problem)
    return 0 if result.ok and not problems else 1


def audit_checkpoint_command(args: argparse.Namespace) -> int:
    """Sign the head (one JSON line on stdout); ``--export FILE``: then write every checkpoint to FILE."""
    from bot.errors import ConfigError

    engine = _engine()
    export = getattr(args, "export", None)
    try:
        audit = AuditLog.from_env(engine)
    except ConfigError as e:
        if not export:
            raise
        print(f"no new checkpoint ({e}); exporting the stored ones", file=sys.stderr)
        audit = AuditLog(engine, verify_key=signing.verify_key_from_env())
    else:
        cp = audit.checkpoint()
        # keep it somewhere the database's administrators cannot rewrite
        print(cp.as_json() if cp else "", file=sys.stderr if export == "-" else sys.stdout)
    if export:
        if export == "-":
            count = audit.export_checkpoints(sys.stdout)
        else:
            with open(export, "w", encoding="utf-8") as out:
                count = audit.export_checkpoints(out)
        print(f"{count} checkpoints exported to {export}", file=sys.stderr)
    return 0


def consent_show_command(args: argparse.Namespace) -> int:
    from bot.compliance.consent import ConsentRegistry
    from bot.compliance.crypto import Keyring, canonical_phone
    from bot.errors import ComplianceError

    engine = _engine()
    audit = AuditLog(engine)
    raw = str(args.patient)
    ref = raw if re.fullmatch(r"[0-9a-f]{64}", raw) else None
    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    if ref is None:
        ref = keyring.patient_ref(canonical_phone(raw))
    registry = ConsentRegistry(engine, audit)
    records = registry.records(ref)
    audit.append(_staff(), "consent.viewed", f"patient:{ref}", {"records": len(records)})
    notice = registry.current_notice()
    print(f"patient {ref}")
    print(f"current notice {notice.version} sha256 {notice.sha256}")
    for rec in records:
        try:
            evidence = json.dumps(registry.evidence(rec), ensure_ascii=False)
        except ComplianceError:
            evidence = "(evidence shredded)"
        print(
            f"  #{rec.id} {rec.ts} {rec.action:<6} {','.join(rec.purposes)} notice={rec.notice_version} "
            f"via {rec.channel} {evidence} hash={rec.record_hash[:16]}"
        )
    status = registry.status(ref)
    print("status: " + ", ".join(f"{p}={'yes' if ok else 'no'}" for p, ok in status.items()))
    return 0


def retention_run_command(args: argparse.Namespace, erasers: Sequence[Any] = ()) -> int:
    """``bot retention run``; ``erasers``: what installed channels keep per patient (the app passes them,
    see :func:`bot.app.wiring.channel_erasers`)."""
    from bot.compliance import config, retention
    from bot.stores.endpoints import load_endpoints
    from bot.stores.factory import create_tracker_store

    engine = _engine()
    # the tracker store the assistant actually uses (endpoints.yml): SQL, Redis or memory
    transcripts = create_tracker_store(load_endpoints().get("tracker_store"))
    try:
        report = retention.run(
            engine, AuditLog(engine), config.load(), utc_now(), bool(args.dry_run), transcripts=transcripts,
            erasers=erasers,
        )
    finally:
        transcripts.close()
    print("\n".join(report.lines()))
    return 0


def arco_list_command(args: argparse.Namespace) -> int:
    from bot.compliance import config
    from bot.compliance.arco import ArcoService

    engine = _engine()
    requests = ArcoService(engine, AuditLog(engine), config.load()).list(args.status)
    today = utc_now().date()
    for r in requests:
        late = " OVERDUE" if r.status == "open" and r.due_date < today else ""
        print(f"{r.id}  {r.kind:<13} {r.status:<8} due {r.due_date.isoformat()}{late}  via {r.channel}")
    print(f"{len(requests)} request(s)")
    return 0


def arco_close_command(args: argparse.Namespace) -> int:
    from bot.compliance import config
    from bot.compliance.arco import ArcoService

    engine = _engine()
    service = ArcoService(engine, AuditLog(engine), config.load())
    req = service.close(args.request_id, args.resolution, actor=_staff())
    extra = f", data blocked; kept until {req.retain_until:%Y-%m-%d}" if req.status == "blocked" else ""
    print(f"{req.id} {req.kind}: {req.status}{extra}")
    return 0
