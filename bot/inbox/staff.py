"""Staff accounts of the shared inbox web app: passwords (argon2id), sessions, lockout.

``bot staff add|disable|reset-password`` manage ``staff_account`` (migration ``0010_staff_inbox``). The id
is what the audit log records (``staff:<id>``), the same id space as the JSON API's per-agent tokens
(:data:`bot.inbox.auth.AGENT_ID`). Passwords are hashed with argon2id (``argon2-cffi``'s defaults); the
session cookie is a 256-bit random value stored only as its SHA-256, with its CSRF token and last
activity, so every worker sees a logout, a disabled account or an idle timeout at once.

Lockout: :data:`MAX_FAILURES` wrong passwords in a row lock the account for :data:`LOCKOUT`; the lock and
each failure are audited (``staff.login_failed``, ``staff.locked``), never the password or the text typed.
The login page answers a locked account exactly like a wrong password or an unknown id (and
:meth:`StaffAccounts.login` does the same hashing work for all three), so nobody can tell from outside
which ids are real; the page also limits attempts per client address
(:class:`bot.inbox.web.session.LoginLimit`).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import hashlib
import hmac
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)

from bot import settings
from bot.errors import BotError
from bot.inbox.auth import AGENT_ID, AGENT_ID_RULE

metadata = MetaData()

staff_account = Table(
    "staff_account", metadata,
    Column("id", String(64), primary_key=True),
    Column("display_name", String(120), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
staff_session = Table(
    "staff_session", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("staff", String(64), ForeignKey("staff_account.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)

ROLES = ("agent", "physician", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_SESSION = timedelta(hours=12)
PASSWORD_ENV = settings.STAFF_PASSWORD_ENV  # `bot staff add` reads it instead of prompting (scripts, tests)


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, the library's current recommended parameters


_DUMMY: list[str] = []


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Staff:
    id: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Session:
    staff: Staff
    csrf: str
    token_hash: str


@dataclass(frozen=True)
class LoginResult:
    """``staff`` on success; otherwise ``locked`` says whether the account is (now) locked."""

    staff: Staff | None
    locked: bool = False
    locked_now: bool = False  # this failure locked it


class StaffAccounts:
    """The ``staff_account`` and ``staff_session`` tables. Thread-safe; each method its own transaction."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 audit: Any = None) -> None:
        self.engine = engine
        self.clock = clock
        self.audit = audit

    def _audit(self, actor: str, action: str, subject: str, details: dict[str, Any] | None = None) -> None:
        if self.audit is not None:
            self.audit.append(actor, action, subject, details or {})

    # -- accounts ----------------------------------------------------------------------------------------
    def add(self, staff_id: str, display_name: str, role: str, password: str) -> Staff:
        check_id(staff_id)
        display_name = display_name.strip()
        if not 0 < len(display_name) <= 120:
            raise BotError("the display name must be 1-120 characters")
        if role not in ROLES:
            raise BotError(f"role must be one of {', '.join(ROLES)}")
        check_password(password)
        now = self.clock()
        with self.engine.begin() as conn:
            if conn.execute(select(staff_account.c.id).where(staff_account.c.id == staff_id)).first():
                raise BotError(f"staff {staff_id} already exists (`bot staff reset-password {staff_id}`)")
            conn.execute(staff_account.insert().values(
                id=staff_id, display_name=display_name, role=role, password_hash=_hasher().hash(password),
                failed_logins=0, created_at=now, updated_at=now))
        return Staff(staff_id, display_name, role)

    def get(self, staff_id: str) -> Staff | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(staff_account).where(staff_account.c.id == staff_id,
                                                           staff_account.c.disabled_at.is_(None))).first()
        return Staff(row.id, row.display_name, row.role) if row is not None else None

    def active(self) -> list[Staff]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(staff_account).where(staff_account.c.disabled_at.is_(None))
                                .order_by(staff_account.c.id)).all()
        return [Staff(r.id, r.display_name, r.role) for r in rows]

    def disable(self, staff_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(staff_account).where(staff_account.c.id == staff_id,
                                                            staff_account.c.disabled_at.is_(None))
                                .values(disabled_at=self.clock(), updated_at=self.clock()))
            conn.execute(delete(staff_session).where(staff_session.c.staff == staff_id))
        return bool(done.rowcount)

    def reset_password(self, staff_id: str, password: str) -> bool:
        """A new password; unlocks the account and ends its sessions."""
        check_password(password)
        with self.engine.begin() as conn:
            done = conn.execute(update(staff_account).where(staff_account.c.id == staff_id).values(
                password_hash=_hasher().hash(password), failed_logins=0, locked_until=None,
                updated_at=self.clock()))
            conn.execute(delete(staff_session).where(staff_session.c.staff == staff_id))
        return bool(done.rowcount)

    # -- logging in --------------------------------------------------------------------------------------
    def login(self, staff_id: str, password: str) -> LoginResult:
        """Check a password; counts failures, locks after :data:`MAX_FAILURES` (audited)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = _hasher()
        now = self.clock()
        row = None
        if AGENT_ID.match(staff_id or "") and len(password) <= MAX_PASSWORD:
            with self.engine.connect() as conn:
                row = conn.execute(select(staff_account).where(staff_account.c.id == staff_id)).first()
        if row is None or row.disabled_at is not None:
            if not _DUMMY:
                _DUMMY.append(hasher.hash(secrets.token_hex(16)))
            # the same work as for a real account: the timing does not say whether the id exists
            with contextlib.suppress(VerificationError, InvalidHashError):
                hasher.verify(_DUMMY[0], password[:MAX_PASSWORD] or "-")
            return LoginResult(None)
        locked_until = _aware(row.locked_until)
        if locked_until is not None and locked_until > now:
            # the same work as for a wrong password (the result is ignored): the timing does not say locked
            with contextlib.suppress(VerificationError, InvalidHashError):
                hasher.verify(row.password_hash, password)
            self._audit(f"staff:{staff_id}", "staff.login_refused", f"staff:{staff_id}", {"reason": "locked"})
            return LoginResult(None, locked=True)
        try:
            hasher.verify(row.password_hash, password)
            ok = True
        except (VerificationError, InvalidHashError):
            ok = False
        if ok:
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
            if hasher.check_needs_rehash(row.password_hash):
                values["password_hash"] = hasher.hash(password)
            with self.engine.begin() as conn:
                conn.execute(update(staff_account).where(staff_account.c.id == staff_id).values(**values))
            self._audit(f"staff:{staff_id}", "staff.login", f"staff:{staff_id}")
            return LoginResult(Staff(row.id, row.display_name, row.role))
        failures = int(row.failed_logins or 0) + 1
        lock = failures >= MAX_FAILURES
        with self.engine.begin() as conn:
            conn.execute(update(staff_account).where(staff_account.c.id == staff_id).values(
                failed_logins=0 if lock else failures, locked_until=now + LOCKOUT if lock else None))
        self._audit(f"staff:{staff_id}", "staff.login_failed", f"staff:{staff_id}", {"failures": failures})
        if lock:
            self._audit(f"staff:{staff_id}", "staff.locked", f"staff:{staff_id}",
                        {"minutes": int(LOCKOUT.total_seconds() // 60)})
        return LoginResult(None, locked=lock, locked_now=lock)

    # -- sessions ----------------------------------------------------------------------------------------
    def open_session(self, staff: Staff) -> tuple[str, str]:
        """A new session: ``(cookie value, csrf token)``; only the cookie's hash is stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(staff_session.insert().values(
                token_hash=token_hash(token), staff=staff.id, csrf=csrf, created_at=now, last_seen=now))
        return token, csrf

    def session(self, token: str) -> Session | None:
        """The live session behind a cookie (touching its last activity), or None: unknown, idle for
        longer than :data:`IDLE_TIMEOUT`, older than :data:`MAX_SESSION`, or its account disabled."""
        if not token or len(token) > 128:
            return None
        digest = token_hash(token)
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(staff_session, staff_account.c.display_name, staff_account.c.role,
                       staff_account.c.disabled_at)
                .join(staff_account, staff_account.c.id == staff_session.c.staff)
                .where(staff_session.c.token_hash == digest)).first()
            if row is None or not hmac.compare_digest(str(row.token_hash), digest):
                return None
            last, created = _aware(row.last_seen), _aware(row.created_at)
            expired = (row.disabled_at is not None or last is None or created is None
                       or now - last > IDLE_TIMEOUT or now - created > MAX_SESSION)
            if expired or last is None:
                conn.execute(delete(staff_session).where(staff_session.c.token_hash == digest))
                return None
            if now - last > timedelta(seconds=30):  # one write per half minute at most
                conn.execute(update(staff_session).where(staff_session.c.token_hash == digest)
                             .values(last_seen=now))
        return Session(Staff(row.staff, row.display_name, row.role), row.csrf, digest)

    def close_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(staff_session).where(staff_session.c.token_hash == token_hash(token)))


def check_id(staff_id: str) -> None:
    if not AGENT_ID.match(staff_id or ""):
        raise BotError(AGENT_ID_RULE)


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BotError(f"a password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")


# -- the CLI: bot staff add|disable|reset-password|list ------------------------------------------------
def _accounts() -> StaffAccounts:
    from bot.compliance.audit import AuditLog
    from bot.db import get_engine

    engine = get_engine()
    return StaffAccounts(engine, audit=AuditLog(engine))


def _password(prompt: str) -> str:
    given = settings.staff_password()
    if given:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if line:
            return line
        raise BotError(f"no password: type it at the prompt, pipe it on stdin or set {PASSWORD_ENV}")
    first = getpass.getpass(prompt)
    if getpass.getpass("again: ") != first:
        raise BotError("the two passwords differ")
    return first


def _operator() -> str:
    from bot.compliance.commands import _staff

    return str(_staff())


def add_command(args: argparse.Namespace) -> int:
    accounts = _accounts()
    check_id(args.staff_id)
    staff = accounts.add(args.staff_id, args.name, args.role, _password(f"password for {args.staff_id}: "))
    accounts._audit(_operator(), "staff.account_added", f"staff:{staff.id}", {"role": staff.role})
    print(f"added: {staff.id} ({staff.role}); they sign in at /inbox", file=sys.stderr)
    return 0


def disable_command(args: argparse.Namespace) -> int:
    accounts = _accounts()
    if not accounts.disable(args.staff_id):
        raise BotError(f"no active staff account {args.staff_id}")
    accounts._audit(_operator(), "staff.account_disabled", f"staff:{args.staff_id}")
    print(f"disabled: {args.staff_id} (their sessions ended)", file=sys.stderr)
    return 0


def reset_password_command(args: argparse.Namespace) -> int:
    accounts = _accounts()
    if not accounts.reset_password(args.staff_id, _password(f"new password for {args.staff_id}: ")):
        raise BotError(f"no staff account {args.staff_id}")
    accounts._audit(_operator(), "staff.password_reset", f"staff:{args.staff_id}")
    print(f"password reset: {args.staff_id} (unlocked; their sessions ended)", file=sys.stderr)
    return 0


def list_command(args: argparse.Namespace) -> int:
    for staff in _accounts().active():
        print(f"{staff.id}\t{staff.role}\t{staff.display_name}")
    return 0
