"""What the physician released to a patient: written by staff, read by the portal for one patient only.

PostgreSQL: ``clinical.released_documents`` under forced row-level security. The portal reads as the
portal role — through its own login (``BOT_PORTAL_DATABASE_URL``, the separated deployment) or, without
one, by ``SET LOCAL ROLE`` (compliance.yml ``roles.portal``) on the application's connection — and
binds ``clinical.patient_id`` to the authenticated patient
(:func:`bot.compliance.clinical.portal_session_sql`):
the database itself hides every other patient's rows. Without the portal role the portal refuses to read
(fail closed). The assistant's role has no grant on the table.

SQLite has neither schemas nor RLS: the same table lives in the main database and the query filters by
``patient_id`` in code — the only guard there, which is why production runs on PostgreSQL.

Titles and bodies are sealed under the patient's data key (:class:`bot.compliance.crypto.PatientCipher`),
so erasing the patient (key shredding) makes them unreadable everywhere.

A file is stored as a body starting with :data:`_FILE_MARK` (a NUL character, then a JSON envelope).
Titles and notes may not contain control characters (line breaks and tabs in notes excepted), so no note
can pass for a file; and a stored envelope is checked when read (JSON, an allowed type that matches the
file's first bytes): a damaged one raises :class:`DamagedDocument`, never serves a file.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from bot.compliance.clinical import portal_session_sql
from bot.errors import ConfigError
from bot.portal.tables import released_for

KINDS = ("result", "note", "document")
MAX_TITLE = 200
MAX_BODY = 20_000
MAX_FILE = 5 * 1024 * 1024  # bytes of an uploaded PDF or image
#: What may be uploaded, told by the file's first bytes (never by its name or declared type).
FILE_TYPES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
_FILE_MARK = "\x00file:"  # a sealed body that holds a file: the mark, then JSON {mime, note, data}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # a note may keep \t \n \r
_TITLE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DamagedDocument(ValueError):
    """A stored file envelope that does not hold what it should (never served)."""


def control_characters(title: str, text: str) -> bool:
    """True when a title or a note holds characters that have no place in them."""
    return bool(_TITLE_CONTROL.search(title) or _CONTROL.search(text))


def file_type(data: bytes) -> str | None:
    """The media type of an allowed upload (PDF, PNG, JPEG) from its magic bytes, else None."""
    return next((mime for magic, mime in FILE_TYPES.items() if data.startswith(magic)), None)


def _envelope(raw: str) -> tuple[str, str, bytes]:
    """(note, media type, bytes) of a stored file; :class:`DamagedDocument` unless it is well formed, of
    an allowed type, and its bytes are of that type."""
    try:
        envelope = json.loads(raw)
        if not isinstance(envelope, dict):
            raise DamagedDocument("not an object")
        mime, note = envelope.get("mime"), envelope.get("note") or ""
        data = base64.b64decode(str(envelope.get("data", "")), validate=True)
    except (ValueError, binascii.Error) as e:
        raise DamagedDocument("a damaged file envelope") from e
    if mime not in FILE_TYPES.values() or not isinstance(note, str) or not data or file_type(data) != mime:
        raise DamagedDocument("a file of a type that is not allowed")
    return note, str(mime), data


@dataclass(frozen=True)
class Released:
    id: int
    kind: str
    title: str
    body: str  # the note (for a file: the physician's optional note)
    released_at: int
    mime: str | None = None  # a file: its media type
    data: bytes | None = None  # a file: its bytes


class ReleasedRecords:
    def __init__(
        self,
        engine: Engine,
        cipher: Any,
        audit: Any,
        portal_role: str = "bot_portal",
        clock: Callable[[], float] = time.time,
        reader: Engine | None = None,
    ) -> None:
        self.engine = engine
        self.reader = reader  # PostgreSQL: a connection that logs in as the portal role itself
        self.cipher = cipher
        self.audit = audit
        self.portal_role = portal_role
        self.clock = clock
        self.table = released_for(engine.dialect.name)
        self.postgres = engine.dialect.name == "postgresql"

    # -- staff side ------------------------------------------------------------------------------------

    def release(self, patient_ref: str, kind: str, title: str, body: str, staff: str, *,
                limit: int | None = MAX_BODY) -> int:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        title, body = title.strip(), body.strip()
        if not title or len(title) > MAX_TITLE or not body or (
            limit is not None and (len(body) > limit or body.startswith(_FILE_MARK))
        ):
            raise ValueError(f"a title (≤ {MAX_TITLE}) and a text (≤ {MAX_BODY} characters) are needed")
        if control_characters(title, body if limit is not None else ""):
            raise ValueError("titles and notes may not contain control characters")
        sealed_title = self.cipher.encrypt(patient_ref, title.strip())
        sealed_body = self.cipher.encrypt(patient_ref, body.strip())
        with self.engine.begin() as conn:
            inserted = conn.execute(
                self.table.insert().values(
                    patient_id=patient_ref,
                    kind=kind,
                    title=sealed_title,
                    body=sealed_body,
                    released_by=staff,
                    released_at=int(self.clock()),
                )
            ).inserted_primary_key
        doc_id = int(inserted[0]) if inserted else 0
        self.audit.append(
            staff,
            "portal.document_released",
            f"patient:{patient_ref}",
            {"document_id": int(doc_id), "kind": kind},
        )
        return int(doc_id)

    def release_file(
        self, patient_ref: str, kind: str, title: str, note: str, data: bytes, staff: str
    ) -> int:
        """An uploaded PDF or image (≤ :data:`MAX_FILE`, type told by its bytes), sealed like a note."""
        mime = file_type(data)
        if mime is None or not data or len(data) > MAX_FILE:
            raise ValueError(f"only PDF, PNG or JPEG files up to {MAX_FILE // (1024 * 1024)} MB")
        if len(note) > MAX_BODY:
            raise ValueError(f"the note has more than {MAX_BODY} characters")
        if control_characters(title, note):
            raise ValueError("titles and notes may not contain control characters")
        envelope = json.dumps({"mime": mime, "note": note.strip(),
                               "data": base64.b64encode(data).decode("ascii")})
        return self.release(patient_ref, kind, title, _FILE_MARK + envelope, staff, limit=None)

    def withdraw(self, document_id: int, staff: str) -> bool:
        with self.engine.begin() as conn:
            row = conn.execute(select(self.table.c.patient_id).where(self.table.c.id == document_id)).first()
            if row is None:
                return False
            conn.execute(
                self.table.update()
                .where(self.table.c.id == document_id)
                .values(withdrawn_at=int(self.clock()))
            )
        self.audit.append(
            staff, "portal.document_withdrawn", f"patient:{row.patient_id}", {"document_id": document_id}
        )
        return True

    # -- the portal's side: one patient's rows only ----------------------------------------------------

    def _reading(self) -> Engine:
        return self.reader if self.reader is not None else self.engine

    def _bind(self, conn: Connection, patient_ref: str) -> None:
        """Bind the patient (PostgreSQL) as the portal role: the reader's own login, or ``SET LOCAL ROLE``
        from the application's connection; nothing to do on SQLite."""
        if not self.postgres:
            return
        if self.reader is not None:
            conn.execute(text(portal_session_sql()), {"patient_id": patient_ref})
            return
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": self.portal_role}
        ).first()
        if exists is None:
            raise ConfigError(
                f"the portal role {self.portal_role!r} does not exist: run "
                "`python -m bot.compliance.roles --apply` as the database administrator"
            )
        try:
            with conn.begin_nested():
                conn.execute(text(f'SET LOCAL ROLE "{self.portal_role}"'))
        except DBAPIError as e:
            raise ConfigError(
                f"cannot act as the portal role {self.portal_role!r}: set BOT_PORTAL_DATABASE_URL to a "
                "connection that logs in as it, or grant it to the application's user"
            ) from e
        conn.execute(text(portal_session_sql()), {"patient_id": patient_ref})

    def _rows(self, patient_ref: str, document_id: int | None = None, *, bodies: bool = True) -> list[Any]:
        t = self.table
        columns = [t] if bodies else [t.c.id, t.c.kind, t.c.title, t.c.released_at]
        query = select(*columns).where(t.c.withdrawn_at.is_(None))
        query = query.where(t.c.patient_id == patient_ref)  # SQLite: the guard; PostgreSQL: RLS first
        if document_id is not None:
            query = query.where(t.c.id == document_id)
        with self._reading().begin() as conn:
            self._bind(conn, patient_ref)
            return list(conn.execute(query.order_by(t.c.released_at.desc(), t.c.id.desc())).all())

    def _open(self, patient_ref: str, row: Any) -> Released:
        body = self.cipher.decrypt(patient_ref, row.body)
        title = self.cipher.decrypt(patient_ref, row.title)
        if body.startswith(_FILE_MARK):
            note, mime, data = _envelope(body[len(_FILE_MARK):])
            return Released(int(row.id), str(row.kind), title, note, int(row.released_at), mime, data)
        return Released(int(row.id), str(row.kind), title, body, int(row.released_at))

    def listing(self, patient_ref: str) -> list[Released]:
        """The patient's documents with their titles only (bodies and files are not decrypted: a page
        listing five 5 MB scans would otherwise open them all)."""
        return [Released(int(r.id), str(r.kind), self.cipher.decrypt(patient_ref, r.title), "",
                         int(r.released_at)) for r in self._rows(patient_ref, bodies=False)]

    def for_patient(self, patient_ref: str) -> list[Released]:
        return [self._open(patient_ref, r) for r in self._rows(patient_ref)]

    def one(self, patient_ref: str, document_id: int) -> Released | None:
        rows = self._rows(patient_ref, document_id)
        return self._open(patient_ref, rows[0]) if rows else None

    def birth_date(self, patient_ref: str) -> date | None:
        """The date of birth the practice holds (``clinical.patients``, under RLS); None on SQLite or when
        the practice has none."""
        if not self.postgres:
            return None
        try:
            with self._reading().begin() as conn:
                self._bind(conn, patient_ref)
                value = conn.execute(
                    text("SELECT birth_date FROM clinical.patients WHERE patient_id = :p"), {"p": patient_ref}
                ).scalar()
        except Exception:
            return None
        return value if isinstance(value, date) else None
