"""Consent records: who, what, when, how — append-only and linked into the audit chain.

A record stores the patient reference, the action (grant / revoke), each purpose with the SHA-256 of
the purpose text it referred to, the notice version and its hash, the channel, the evidence (WhatsApp:
number and MessageSid; web: IP and user agent — encrypted under the patient's data key, so it is
shredded with the patient) and a UTC timestamp. ``record_hash`` covers all of it and is written into
the audit entry appended in the same transaction, so editing a record later shows up in
:meth:`ConsentRegistry.verify_links` (and the triggers refuse the edit in the first place).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, func, select

from bot.compliance.audit import AuditLog, AuditWriter, canonical_details
from bot.compliance.audit_details import iso_ts, utc_now
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.compliance.notice import NoticeVersion, load_notices, sha256_text
from bot.compliance.tables import audit_log, consent_records, notice_versions
from bot.errors import ComplianceError

#: Evidence each channel must supply; other channels (console, rest) need at least one item.
REQUIRED_EVIDENCE: Mapping[str, tuple[str, ...]] = {
    "whatsapp": ("from", "message_sid"),
    "web": ("ip", "user_agent"),
}


@dataclass(frozen=True)
class ConsentRecord:
    id: int
    patient_ref: str
    action: str
    purposes: Mapping[str, str]  # purpose → SHA-256 of the purpose text
    notice_version: str
    notice_sha256: str
    channel: str
    evidence: str  # encrypted token
    ts: str
    record_hash: str


def record_hash(r: ConsentRecord) -> str:
    body = {
        "id": r.id, "patient_ref": r.patient_ref, "action": r.action, "purposes": dict(r.purposes),
        "notice_version": r.notice_version, "notice_sha256": r.notice_sha256, "channel": r.channel,
        "evidence": r.evidence, "ts": r.ts,
    }  # fmt: skip
    return sha256_text(canonical_details(body))


class ConsentRegistry:
    """Thread-safe; the flow's consent gate calls :meth:`has`."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        *,
        notices: Sequence[NoticeVersion] | None = None,
        cipher: PatientCipher | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self._notices = list(notices) if notices is not None else None
        self._cipher = cipher
        self._clock = clock
        self._lock = threading.Lock()
        self._recorded = False

    # -- notices ---------------------------------------------------------------------------------------

    def notices(self) -> list[NoticeVersion]:
        with self._lock:
            if self._notices is None:
                self._notices = load_notices()
            if not self._recorded:
                self._record_versions(self._notices)
                self._recorded = True
            return self._notices

    def _record_versions(self, versions: Sequence[NoticeVersion]) -> None:
        with self.engine.begin() as conn:
            known = {r.version: r.sha256 for r in conn.execute(select(notice_versions)).all()}
            for v in versions:
                if v.version in known:
                    if known[v.version] != v.sha256:
                        raise ComplianceError(
                            f"privacy notice {v.version} changed after publication (recorded SHA-256 "
                            f"{known[v.version][:12]}…, now {v.sha256[:12]}…); publish a new version"
                        )
                    continue
                purposes = {p.id: {"necessary": p.necessary, "sha256": p.sha256} for p in v.purposes.values()}
                conn.execute(
                    notice_versions.insert().values(
                        version=v.version, sha256=v.sha256, simplified_sha256=v.simplified_sha256,
                        url=v.url, purposes=canonical_details(purposes), published=v.published,
                        recorded_at=datetime.now(UTC).replace(tzinfo=None),
                    )
                )  # fmt: skip

    def current_notice(self) -> NoticeVersion:
        return self.notices()[-1]

    # -- writing ---------------------------------------------------------------------------------------

    @property
    def cipher(self) -> PatientCipher:
        if self._cipher is None:
            url = self.engine.url.render_as_string(hide_password=False)
            self._cipher = PatientCipher(self.engine, Keyring.from_env(url), self.audit)
        return self._cipher

    @staticmethod
    def _check_evidence(channel: str, evidence: Mapping[str, str]) -> None:
        if not channel:
            raise ComplianceError("consent needs the channel it was given on")
        missing = [k for k in REQUIRED_EVIDENCE.get(channel, ()) if not evidence.get(k)]
        if missing:
            raise ComplianceError(f"consent over {channel} needs evidence: {', '.join(missing)}")
        if not any(evidence.values()):
            raise ComplianceError("consent needs evidence of how it was given")

    def _write(
        self, ref: str, action: str, purposes: Sequence[str], channel: str, evidence: Mapping[str, str]
    ) -> ConsentRecord:
        notice = self.current_notice()
        unknown = [p for p in purposes if p not in notice.purposes]
        if unknown or not purposes:
            raise ComplianceError(f"unknown consent purposes {unknown} for notice {notice.version}")
        self._check_evidence(channel, evidence)
        token = self.cipher.encrypt(ref, canonical_details(dict(evidence)))
        hashes = {p: notice.purposes[p].sha256 for p in dict.fromkeys(purposes)}

        def work(w: AuditWriter) -> ConsentRecord:
            next_id = (w.conn.execute(select(func.max(consent_records.c.id))).scalar() or 0) + 1
            draft = ConsentRecord(
                next_id, ref, action, hashes, notice.version, notice.sha256, channel, token,
                iso_ts(self._clock()), "",
            )  # fmt: skip
            rec = ConsentRecord(**{**draft.__dict__, "record_hash": record_hash(draft)})
            w.conn.execute(
                consent_records.insert().values(
                    id=rec.id, patient_ref=ref, action=action, purposes=canonical_details(hashes),
                    notice_version=rec.notice_version, notice_sha256=rec.notice_sha256,
                    channel=channel, evidence=token, ts=rec.ts, record_hash=rec.record_hash,
                )
            )  # fmt: skip
            verb = "granted" if action == "grant" else "revoked"
            w.append(
                f"patient:{ref}", f"consent.{verb}", f"patient:{ref}",
                {"consent_id": rec.id, "record_sha256": rec.record_hash, "purposes": sorted(hashes),
                 "notice_version": notice.version, "channel": channel},
            )  # fmt: skip
            return rec

        return self.audit.transact(work)

    def grant(
        self, patient_ref: str, purposes: Sequence[str], channel: str, evidence: Mapping[str, str]
    ) -> ConsentRecord:
        return self._write(patient_ref, "grant", purposes, channel, evidence)

    def revoke(
        self, patient_ref: str, purpose: str, channel: str, evidence: Mapping[str, str]
    ) -> ConsentRecord:
        return self._write(patient_ref, "revoke", [purpose], channel, evidence)

    # -- reading ---------------------------------------------------------------------------------------

    def records(self, patient_ref: str) -> list[ConsentRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(consent_records)
                .where(consent_records.c.patient_ref == patient_ref)
                .order_by(consent_records.c.id)
            ).all()
        return [_from_row(r) for r in rows]

    def status(self, patient_ref: str) -> dict[str, bool]:
        """Each purpose of the current notice → granted and still valid under the current text."""
        notice = self.current_notice()
        latest: dict[str, tuple[str, str]] = {}
        for rec in self.records(patient_ref):
            for purpose, digest in rec.purposes.items():
                latest[purpose] = (rec.action, digest)
        return {pid: latest.get(pid) == ("grant", p.sha256) for pid, p in notice.purposes.items()}

    def has(self, patient_ref: str, purpose: str) -> bool:
        return self.status(patient_ref).get(purpose, False)

    def evidence(self, record: ConsentRecord) -> dict[str, str]:
        """Decrypted evidence (raises ComplianceError once the patient was shredded)."""
        return dict(json.loads(self.cipher.decrypt(record.patient_ref, record.evidence)))

    def verify_links(self) -> list[str]:
        """Problems found: a record whose hash is wrong or that no audit entry vouches for."""
        vouched: dict[int, str] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_log.c.details).where(
                    audit_log.c.action.in_(("consent.granted", "consent.revoked"))
                )
            ).all()
            for (details,) in rows:
                d = json.loads(str(details))
                vouched[int(d["consent_id"])] = str(d["record_sha256"])
            records = [_from_row(r) for r in conn.execute(select(consent_records)).all()]
        problems = []
        for rec in records:
            if record_hash(rec) != rec.record_hash:
                problems.append(f"consent record {rec.id}: content does not match its hash")
            elif vouched.get(rec.id) != rec.record_hash:
                problems.append(f"consent record {rec.id}: not vouched for by the audit chain")
        return problems


def _from_row(r: Row[Any]) -> ConsentRecord:
    return ConsentRecord(
        r.id, r.patient_ref, r.action, json.loads(r.purposes), r.notice_version,
        r.notice_sha256, r.channel, r.evidence, r.ts, r.record_hash,
    )  # fmt: skip
