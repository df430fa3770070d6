"""Getting into the portal: one-time links, the second factor, sessions and CSRF tokens, lockouts.

* A link is ~255 random bits (48 consonants, :func:`new_link_token`), kept only as its SHA-256, bound to the
  patient reference, valid :data:`LINK_TTL` seconds and consumed atomically on first use (one UPDATE
  that also checks expiry: two tabs cannot both win). It carries nothing about the patient.
* Consuming it opens a *pending* session and sends a 6-digit code (``secrets.randbelow``) — kept as an
  HMAC bound to the session — through the conversation's channel; or the patient answers with the date of
  birth the practice holds. :data:`MAX_ATTEMPTS` wrong answers end the session and lock the patient out
  for :data:`LOCKOUT` seconds (links opened meanwhile are refused).
* A session token is kept as its SHA-256; its CSRF token is an HMAC of it (nothing more to store); the
  token is replaced when the second factor passes.
  Idle timeout :data:`IDLE`, absolute :data:`MAX_AGE`; logout ends it server-side.

Every step is audited with references only (``portal.*`` actions).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from bot.portal.tables import portal_link, portal_lockout, portal_session

LINK_TTL = 15 * 60
CODE_TTL = 10 * 60
MAX_ATTEMPTS = 5
LOCKOUT = 15 * 60
IDLE = 10 * 60
MAX_AGE = 30 * 60


def wall_clock() -> float:
    """The time links and sessions are stamped with (tests replace it: ``bot.portal.access.wall_clock``)."""
    return time.time()


#: Link tokens use consonants only: no vowels and no digits, so no run of random characters can read as a
#: word, a number or a lab value to the disclosure gate (which reads leetspeak too) and get the link blocked.
LINK_ALPHABET = "bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ"
LINK_LENGTH = 48  # 48 × log2(40) ≈ 255 bits


def new_link_token() -> str:
    return "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_LENGTH))


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Contact:
    """Where the conversation that asked for the link lives (to send the code back there)."""

    channel: str
    sender: str
    address: str | None = None


@dataclass(frozen=True)
class Session:
    sid_hash: str
    patient_ref: str
    stage: str  # "factor" | "in"
    attempts: int
    contact: Contact | None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    locked: bool = False
    remaining: int = 0
    sid: str | None = None  # on success: the new session token (rotated when the factor passes)


class PortalAccess:
    """Links, codes and sessions over the portal's tables. ``cipher`` seals contacts; ``audit`` appends."""

    def __init__(
        self, engine: Engine, keyring: Any, cipher: Any, audit: Any, clock: Callable[[], float] | None = None
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.audit = audit
        self.clock = clock or (lambda: wall_clock())
        self._code_key = keyring.subkey("bot portal code v1")
        self._csrf_key = keyring.subkey("bot portal csrf v1")

    def _now(self) -> int:
        return int(self.clock())

    def _audit(self, action: str, ref: str | None, details: Mapping[str, Any]) -> None:
        subject = f"patient:{ref}" if ref else "portal"
        actor = f"patient:{ref}" if ref else "anonymous"
        self.audit.append(actor, action, subject, dict(details))

    # -- links -----------------------------------------------------------------------------------------

    def issue_link(self, patient_ref: str, contact: Contact | None, actor: str = "bot") -> str:
        """A new one-time token for ``patient_ref``; only its hash is stored."""
        token = new_link_token()
        now = self._now()
        sealed = None
        if contact is not None:
            sealed = self.cipher.encrypt(patient_ref, json.dumps(contact.__dict__))
        with self.engine.begin() as conn:
            inserted = conn.execute(
                portal_link.insert().values(
                    token_hash=_sha(token),
                    patient_ref=patient_ref,
                    contact=sealed,
                    created_at=now,
                    expires_at=now + LINK_TTL,
                )
            ).inserted_primary_key
        link_id = int(inserted[0]) if inserted else 0
        self.audit.append(
            actor,
            "portal.link_issued",
            f"patient:{patient_ref}",
            {"link_id": int(link_id), "ttl_s": LINK_TTL},
        )
        return token

    def consume_link(self, token: str) -> tuple[str, Contact | None] | None:
        """The patient and contact of a live, unused link, marking it used; None for anything else
        (unknown, used, expired, patient locked out) — the caller answers all of them alike."""
        if not token or len(token) > 128:
            self._audit("portal.link_refused", None, {"reason": "malformed"})
            return None
        digest = _sha(token)
        now = self._now()
        with self.engine.begin() as conn:
            updated = conn.execute(
                portal_link.update()
                .where(
                    portal_link.c.token_hash == digest,
                    portal_link.c.used_at.is_(None),
                    portal_link.c.expires_at > now,
                )
                .values(used_at=now)
            ).rowcount
            row = conn.execute(select(portal_link).where(portal_link.c.token_hash == digest)).first()
        if row is None:
            self._audit("portal.link_refused", None, {"reason": "unknown"})
            return None
        if updated != 1:
            reason = "used" if row.used_at is not None else "expired"
            self._audit("portal.link_refused", row.patient_ref, {"link_id": row.id, "reason": reason})
            return None
        if self.locked(row.patient_ref):
            self._audit("portal.link_refused", row.patient_ref, {"link_id": row.id, "reason": "locked"})
            return None
        contact = None
        if row.contact:
            try:
                contact = Contact(**json.loads(self.cipher.decrypt(row.patient_ref, row.contact)))
            except Exception:  # shredded patient key: no way to reach them, the factor falls back
                contact = None
        self._audit("portal.link_used", row.patient_ref, {"link_id": row.id})
        return row.patient_ref, contact

    # -- lockout ---------------------------------------------------------------------------------------

    def locked(self, patient_ref: str) -> bool:
        with self.engine.connect() as conn:
            until = conn.execute(
                select(portal_lockout.c.locked_until).where(portal_lockout.c.patient_ref == patient_ref)
            ).scalar()
        return until is not None and int(until) > self._now()

    def _lock(self, patient_ref: str) -> None:
        until = self._now() + LOCKOUT
        with self.engine.begin() as conn:
            conn.execute(portal_lockout.delete().where(portal_lockout.c.patient_ref == patient_ref))
            conn.execute(portal_lockout.insert().values(patient_ref=patient_ref, locked_until=until))
            conn.execute(
                portal_session.update()
                .where(portal_session.c.patient_ref == patient_ref, portal_session.c.ended_at.is_(None))
                .values(ended_at=self._now())
            )
        self._audit("portal.locked_out", patient_ref, {"seconds": LOCKOUT})

    # -- sessions --------------------------------------------------------------------------------------

    def open_session(self, patient_ref: str, contact: Contact | None) -> str:
        """A pending session (second factor still due); returns the session token for the cookie."""
        sid = secrets.token_urlsafe(32)
        now = self._now()
        sealed = self.cipher.encrypt(patient_ref, json.dumps(contact.__dict__)) if contact else None
        with self.engine.begin() as conn:
            conn.execute(
                portal_session.insert().values(
                    sid_hash=_sha(sid),
                    patient_ref=patient_ref,
                    contact=sealed,
                    stage="factor",
                    attempts=0,
                    created_at=now,
                    last_seen=now,
                )
            )
        return sid

    def session(self, sid: str | None) -> Session | None:
        """The live session behind a cookie value (touching it), or None: unknown, ended, idle too long,
        too old."""
        if not sid or len(sid) > 128:
            return None
        now = self._now()
        digest = _sha(sid)
        with self.engine.begin() as conn:
            row = conn.execute(select(portal_session).where(portal_session.c.sid_hash == digest)).first()
            if row is None or row.ended_at is not None:
                return None
            if now - int(row.last_seen) > IDLE or now - int(row.created_at) > MAX_AGE:
                conn.execute(
                    portal_session.update().where(portal_session.c.sid_hash == digest).values(ended_at=now)
                )
                expired = True
            else:
                conn.execute(
                    portal_session.update().where(portal_session.c.sid_hash == digest).values(last_seen=now)
                )
                expired = False
        if expired:
            self._audit("portal.session_expired", row.patient_ref, {})
            return None
        contact = None
        if row.contact:
            try:
                contact = Contact(**json.loads(self.cipher.decrypt(row.patient_ref, row.contact)))
            except Exception:
                contact = None
        return Session(digest, row.patient_ref, row.stage, int(row.attempts), contact)

    def end_session(self, session: Session, reason: str = "logout") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                portal_session.update()
                .where(portal_session.c.sid_hash == session.sid_hash)
                .values(ended_at=self._now())
            )
        self._audit(f"portal.{reason}", session.patient_ref, {})

    def csrf_token(self, sid: str) -> str:
        return hmac.new(self._csrf_key, _sha(sid).encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, sid: str | None, token: str | None) -> bool:
        if not sid or not token:
            return False
        return hmac.compare_digest(self.csrf_token(str(sid)).encode(), str(token).encode("utf-8", "replace"))

    # -- the second factor -----------------------------------------------------------------------------

    def _code_hash(self, sid_hash: str, code: str) -> str:
        return hmac.new(self._code_key, f"{sid_hash}:{code}".encode(), hashlib.sha256).hexdigest()

    def new_code(self, session: Session) -> str:
        """A fresh 6-digit code for this pending session (the previous one stops working)."""
        code = f"{secrets.randbelow(10**6):06d}"
        with self.engine.begin() as conn:
            conn.execute(
                portal_session.update()
                .where(portal_session.c.sid_hash == session.sid_hash)
                .values(
                    code_hash=self._code_hash(session.sid_hash, code), code_expires_at=self._now() + CODE_TTL
                )
            )
        self._audit(
            "portal.code_sent",
            session.patient_ref,
            {"channel": session.contact.channel if session.contact else "recorded"},
        )
        return code

    def verify(
        self,
        session: Session,
        code: str | None,
        birth_date: str | None = None,
        held_birth_date: str | None = None,
    ) -> Verdict:
        """Check a code (or the date of birth the practice holds); count the attempt; lock out after
        :data:`MAX_ATTEMPTS` failures."""
        now = self._now()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(portal_session).where(portal_session.c.sid_hash == session.sid_hash)
            ).first()
            if row is None or row.ended_at is not None or row.stage != "factor":
                return Verdict(False)
            attempts = int(row.attempts) + 1
            ok = False
            method = "code"
            if code and row.code_hash and int(row.code_expires_at or 0) > now:
                ok = hmac.compare_digest(
                    row.code_hash.encode(), self._code_hash(session.sid_hash, code).encode()
                )
            elif birth_date and held_birth_date:
                method = "birth_date"
                ok = hmac.compare_digest(birth_date.encode(), held_birth_date.encode())
            values: dict[str, Any] = {"attempts": attempts}
            new_sid = None
            if ok:  # a fresh token for the signed-in session: the pending one stops working
                new_sid = secrets.token_urlsafe(32)
                values.update(
                    sid_hash=_sha(new_sid), stage="in", code_hash=None, code_expires_at=None, last_seen=now
                )
            conn.execute(
                portal_session.update().where(portal_session.c.sid_hash == session.sid_hash).values(**values)
            )
        if ok:
            self._audit("portal.factor_passed", session.patient_ref, {"method": method, "attempt": attempts})
            return Verdict(True, sid=new_sid)
        self._audit("portal.factor_failed", session.patient_ref, {"method": method, "attempt": attempts})
        if attempts >= MAX_ATTEMPTS:
            self._lock(session.patient_ref)
            return Verdict(False, locked=True)
        return Verdict(False, remaining=MAX_ATTEMPTS - attempts)

    # -- housekeeping ----------------------------------------------------------------------------------

    def purge(self, keep_seconds: int = 24 * 3600) -> dict[str, int]:
        """Delete links, sessions and lockouts spent more than ``keep_seconds`` ago (hashes only: nothing
        to keep); the audit log keeps the history. Returns the counts."""
        cutoff = self._now() - keep_seconds
        with self.engine.begin() as conn:
            links = conn.execute(portal_link.delete().where(portal_link.c.expires_at < cutoff)).rowcount
            sessions = conn.execute(
                portal_session.delete().where(portal_session.c.last_seen < cutoff - MAX_AGE)
            ).rowcount
            lockouts = conn.execute(
                portal_lockout.delete().where(portal_lockout.c.locked_until < cutoff)
            ).rowcount
        counts = {"links": int(links or 0), "sessions": int(sessions or 0), "lockouts": int(lockouts or 0)}
        self.audit.append("system", "portal.purged", "portal", counts)
        return counts
