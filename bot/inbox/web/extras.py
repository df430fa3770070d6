"""Canned responses, labels and read marks behind the inbox pages (migration ``0015_inbox_extras``).

* **Canned responses** (``inbox_canned``): Spanish texts admins keep (title, body). They hold no patient
  data; a body is checked with the disclosure gate when saved (the admin sees why one is refused) and, being
  inserted into the reply box, passes the gate again when it is sent like any other reply.
* **Labels** (``inbox_label``): short names staff put on conversations (``urgente``, ``factura``…) to find
  them in the queue. A name is 1–32 letters, digits, spaces or ``- _``, kept in lower case; a name the gate
  reads as clinical is refused (a label ties a patient to it). ARCO erasure deletes them (:meth:`forget`).
* **Read marks** (``inbox_seen``): per member of staff and conversation, the time of the newest patient
  message that person has seen on the conversation page; a newer message makes it unread for them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

inbox_canned = Table(
    "inbox_canned", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(80), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
inbox_label = Table(
    "inbox_label", metadata,
    Column("ref", String(64), nullable=False),
    Column("name", String(32), nullable=False),
    Column("added_by", String(64), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("ref", "name", name="pk_inbox_label"),
)
inbox_seen = Table(
    "inbox_seen", metadata,
    Column("ref", String(64), nullable=False),
    Column("staff", String(64), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("staff", "ref", name="pk_inbox_seen"),
)

MAX_TITLE = 80
MAX_BODY = 1600  # a reply's limit (pages.MAX_TEXT)
MAX_LABELS = 10  # per conversation
LABEL = re.compile(r"^[0-9a-záéíóúüñ][0-9a-záéíóúüñ _-]{0,31}$")


class ExtrasError(ValueError):
    """A value the inbox refuses, with a Spanish message for the person."""


@dataclass(frozen=True)
class Canned:
    id: int
    title: str
    body: str
    updated_by: str
    updated_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def label_name(raw: str) -> str:
    """The stored form of a label (NFC, lower case, single spaces); ExtrasError if it is not one."""
    name = " ".join(unicodedata.normalize("NFC", raw or "").lower().split())
    if not LABEL.match(name):
        raise ExtrasError("Una etiqueta lleva de 1 a 32 letras, números, espacios o guiones.")
    return name


class Extras:
    """Thread-safe: every public method is its own transaction."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.clock = clock

    def _insert(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        return insert

    # -- canned responses --------------------------------------------------------------------------------
    def canned(self) -> list[Canned]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(inbox_canned).order_by(inbox_canned.c.title)).all()
        return [Canned(r.id, r.title, r.body, r.updated_by, _aware(r.updated_at)) for r in rows]

    def canned_one(self, canned_id: int) -> Canned | None:
        return next((c for c in self.canned() if c.id == canned_id), None)

    def save_canned(self, staff: str, title: str, body: str, canned_id: int | None = None) -> int:
        """Add (``canned_id`` None) or change a canned response; returns its id. ExtrasError if refused."""
        title, body = " ".join(title.split()), body.strip()
        if not title or len(title) > MAX_TITLE:
            raise ExtrasError(f"El título lleva de 1 a {MAX_TITLE} caracteres.")
        if not body or len(body) > MAX_BODY:
            raise ExtrasError(f"El texto lleva de 1 a {MAX_BODY} caracteres.")
        values = {"title": title, "body": body, "updated_by": staff, "updated_at": self.clock()}
        try:
            with self.engine.begin() as conn:
                if canned_id is None:
                    return int(conn.execute(inbox_canned.insert().values(values)
                                            .returning(inbox_canned.c.id)).scalar_one())
                done = conn.execute(update(inbox_canned).where(inbox_canned.c.id == canned_id).values(values))
                if done.rowcount != 1:
                    raise ExtrasError("Esa respuesta ya no existe.")
                return canned_id
        except IntegrityError as e:
            raise ExtrasError("Ya hay una respuesta con ese título.") from e

    def delete_canned(self, canned_id: int) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(inbox_canned).where(inbox_canned.c.id == canned_id)).rowcount)

    # -- labels ------------------------------------------------------------------------------------------
    def add_label(self, ref: str, name: str, staff: str) -> bool:
        """Put ``name`` (already :func:`label_name`) on the conversation; False if it was there."""
        with self.engine.begin() as conn:
            have: list[str] = list(conn.execute(select(inbox_label.c.name)
                                                .where(inbox_label.c.ref == ref)).scalars().all())
            if name in have:
                return False
            if len(have) >= MAX_LABELS:
                raise ExtrasError(f"Una conversación lleva como máximo {MAX_LABELS} etiquetas.")
            stmt = self._insert()(inbox_label).values(ref=ref, name=name, added_by=staff,
                                                      added_at=self.clock())
            return bool(conn.execute(stmt.on_conflict_do_nothing()).rowcount)

    def remove_label(self, ref: str, name: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(inbox_label).where(inbox_label.c.ref == ref)
                                     .where(inbox_label.c.name == name)).rowcount)

    def labels(self, refs: Iterable[str]) -> dict[str, list[str]]:
        """Each conversation's labels, sorted (conversations without any are left out)."""
        refs = list(refs)
        if not refs:
            return {}
        out: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(refs), 500):
                rows = conn.execute(select(inbox_label.c.ref, inbox_label.c.name)
                                    .where(inbox_label.c.ref.in_(refs[i:i + 500]))).all()
                for row in rows:
                    out.setdefault(str(row.ref), []).append(str(row.name))
        return {ref: sorted(names) for ref, names in out.items()}

    def label_names(self) -> list[str]:
        """Every label in use (the queue's filter)."""
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(inbox_label.c.name).distinct()).scalars().all())

    # -- read marks --------------------------------------------------------------------------------------
    def mark_seen(self, ref: str, staff: str, seen_at: datetime) -> None:
        """``staff`` has seen the patient's messages up to ``seen_at`` (never moves backwards)."""
        stmt = self._insert()(inbox_seen).values(ref=ref, staff=staff, seen_at=seen_at)
        stmt = stmt.on_conflict_do_update(index_elements=[inbox_seen.c.staff, inbox_seen.c.ref],
                                          set_={"seen_at": seen_at},
                                          where=inbox_seen.c.seen_at < seen_at)
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def seen(self, staff: str, refs: Iterable[str]) -> dict[str, datetime]:
        refs = list(refs)
        out: dict[str, datetime] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(refs), 500):
                rows = conn.execute(select(inbox_seen.c.ref, inbox_seen.c.seen_at)
                                    .where(inbox_seen.c.staff == staff)
                                    .where(inbox_seen.c.ref.in_(refs[i:i + 500]))).all()
                for row in rows:
                    seen_at = _aware(row.seen_at)
                    if seen_at is not None:
                        out[str(row.ref)] = seen_at
        return out

    # -- erasure -----------------------------------------------------------------------------------------
    def forget(self, ref: str) -> None:
        """ARCO erasure: the conversation's labels and read marks go with it."""
        with self.engine.begin() as conn:
            conn.execute(delete(inbox_label).where(inbox_label.c.ref == ref))
            conn.execute(delete(inbox_seen).where(inbox_seen.c.ref == ref))


def unread(last_patient: datetime | None, seen_at: datetime | None) -> bool:
    """A patient message newer than what this person last saw (to the millisecond: SQLite rounds)."""
    if last_patient is None:
        return False
    return seen_at is None or (last_patient - seen_at).total_seconds() > 0.001


__all__ = ["Canned", "Extras", "ExtrasError", "inbox_canned", "inbox_label", "inbox_seen", "label_name",
           "unread"]
