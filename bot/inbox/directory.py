"""The agents' inbox: which conversations wait for a person, how to reach them, what was said.

Conversations are known to agents by an opaque id — the patient reference (a keyed hash of the canonical
phone number, or of the sender id on other channels; see :meth:`bot.app.state.ClinicServices.patient_ref`) —
so no phone number ever has to appear in a URL, a listing or a log.

:class:`Directory` keeps one row per conversation in ``agent_conversation``: the channel, whether it is
in handoff and since when, the phase it left, the current phase — and, sealed under the patient's data
key (:class:`~bot.compliance.crypto.PatientCipher`, so crypto-shredding erases them too), the sender id
the dialogue knows the patient by and the exact address the patient last wrote from (Twilio's ``From``).
Nothing in the row is readable without the patient's key except references, phases and times.

The directory learns from what the dialogue records: :class:`IndexedTrackerStore` is the sealed tracker
store with one hook after each append (one turn, a hand-back, an agent message). A row is written only
when something the inbox shows changed, so an ordinary message costs no extra database write.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Engine, MetaData, String, Table, Text, delete, select, text

from bot.compliance.transcripts import SealedTrackerStore
from bot.core.events import AgentUttered, BotUttered, Event, HandoffEnded, HandoffStarted, UserUttered

log = logging.getLogger("bot.inbox.directory")

metadata = MetaData()

agent_conversation = Table(
    "agent_conversation",
    metadata,
    Column("ref", String(64), primary_key=True),  # the patient reference: the conversation's opaque id
    Column("channel", String(32), nullable=True),  # of the patient's last message
    Column("sender", Text, nullable=True),  # sealed: the sender id the dialogue uses
    Column("address", Text, nullable=True),  # sealed: the exact address to answer (Twilio's From)
    Column("in_handoff", Boolean, nullable=False, default=False),
    Column("handoff_since", DateTime(timezone=True), nullable=True),
    Column("left_phase", String(32), nullable=True),  # the phase the handoff interrupted
    Column("phase", String(32), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

CONVERSATION_ID = re.compile(r"^[0-9a-f]{64}$")
_CACHE_LIMIT = 100_000


_RELAXED = text("SET LOCAL synchronous_commit = off")


@dataclass(frozen=True)
class Conversation:
    id: str  # the patient reference
    channel: str | None
    sender_id: str
    address: str | None
    in_handoff: bool
    handoff_since: datetime | None
    left_phase: str | None
    phase: str | None


@dataclass
class _Written:
    channel: str | None
    address: str | None
    in_handoff: bool


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _when(timestamp: Any) -> datetime | None:
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(float(timestamp), UTC)
    return None


class Directory:
    """Thread-safe; every public method is its own transaction. Writes never raise into a turn."""

    def __init__(self, engine: Engine, cipher: Any, key_of: Callable[[str], str],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.cipher = cipher
        self.key_of = key_of
        self.clock = clock  # the table comes from migration 0006_agent_inbox (bot.db.migrate)
        self._lock = threading.Lock()
        self._written: dict[str, _Written] = {}
        self._addresses: dict[str, str] = {}
        self._channels: dict[str, str] = {}

    # -- learning ----------------------------------------------------------------------------------------
    def note_address(self, sender_id: str, address: str, channel: str | None = None) -> None:
        """The exact address the patient is writing from (in memory; sealed with the turn's write), and
        the channel it belongs to — for a conversation whose events name none yet (a patient whose first
        message was a file: handed to a person without a text turn)."""
        with self._lock:
            if len(self._addresses) > _CACHE_LIMIT:
                self._addresses.clear()
                self._channels.clear()
            self._addresses[sender_id] = address
            if channel:
                self._channels[sender_id] = channel

    def observe(self, ref: str, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Update the conversation's row after ``events`` were recorded; only when the inbox would change."""
        try:
            self._observe(ref, sender_id, events)
        except Exception as e:  # the turn is recorded already: the inbox catches up on the next write
            with self._lock:
                self._written.pop(ref, None)
            log.error("inbox.index_failed", extra={"conversation": ref[:12], "error": type(e).__name__})

    def _observe(self, ref: str, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        channel: str | None = None
        fresh = False
        handoff: bool | None = None
        since: datetime | None = None
        left: str | None = None
        phase: str | None = None
        for ev in events:
            kind = ev.get("event")
            if kind == "user":
                channel = str(ev.get("channel") or "") or channel
            elif kind == "session_started":
                fresh = True  # a new conversation (or one whose key was shredded): write everything again
            elif kind == "handoff_started":
                handoff, since = True, _when(ev.get("timestamp")) or self.clock()
            elif kind == "handoff_ended":
                handoff, since = False, None
            elif kind == "flow":
                state = list(ev.get("state") or ())
                phase = str(state[-1]) if state else phase
                source = list(ev.get("source") or ())
                if ev.get("flow_event") == "human_requested" and source:
                    left = str(source[-1])
        with self._lock:
            prev = self._written.get(ref)
            address = self._addresses.get(sender_id)
            if channel is None and (prev is None or not prev.channel):
                channel = self._channels.get(sender_id)
        new_address = address is not None and (prev is None or fresh or prev.address != address)
        changed = (prev is None or fresh or handoff is not None or new_address
                   or (channel is not None and channel != prev.channel)
                   or (prev.in_handoff and phase is not None))
        if not changed:
            return
        now = self.clock()
        values: dict[str, Any] = {"updated_at": now}
        if prev is None or fresh:
            values["sender"] = self.cipher.encrypt(ref, sender_id)
        if new_address and address is not None:
            values["address"] = self.cipher.encrypt(ref, address)
        if channel is not None:
            values["channel"] = channel[:32]
        if handoff is not None:
            values.update(in_handoff=handoff, handoff_since=since)
            if handoff:
                values["left_phase"] = left
        if phase is not None:
            values["phase"] = phase[:32]
        in_handoff = self._upsert(ref, values, durable=handoff is not None)
        with self._lock:
            if len(self._written) > _CACHE_LIMIT:
                self._written.clear()
            self._written[ref] = _Written(channel or (prev.channel if prev else None),
                                          address if new_address else (prev.address if prev else None),
                                          in_handoff)

    def _upsert(self, ref: str, values: dict[str, Any], *, durable: bool = True) -> bool:
        """Insert or update the row; returns its ``in_handoff``.

        ``durable`` False (no handoff change): on PostgreSQL the commit does not wait for the WAL flush.
        A crash may then lose the last fraction of a second of such writes, which only re-index what
        the transcript holds: every process starts with an empty ``_written``, so a conversation's next
        turn writes its whole row again. A handoff change (which no later turn would rewrite, and which
        agents must see) is always committed durably.
        """
        postgres = self.engine.dialect.name == "postgresql"
        if postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(agent_conversation).values({"ref": ref, "in_handoff": False, **values})
        stmt = stmt.on_conflict_do_update(index_elements=[agent_conversation.c.ref], set_=values)
        with self.engine.begin() as conn:
            if postgres and not durable:
                conn.execute(_RELAXED)
            return bool(conn.execute(stmt.returning(agent_conversation.c.in_handoff)).scalar_one())

    def in_handoff_now(self, ref: str) -> bool:
        """Whether the conversation was in handoff at its last indexed write (this process's memory)."""
        with self._lock:
            written = self._written.get(ref)
        return bool(written and written.in_handoff)

    def forget(self, ref: str) -> None:
        """Erase a conversation's row, labels and read marks (ARCO erasure of the transcript)."""
        from bot.inbox.web.extras import Extras

        with self.engine.begin() as conn:
            conn.execute(delete(agent_conversation).where(agent_conversation.c.ref == ref))
        Extras(self.engine).forget(ref)  # its labels and read marks (plain text tied to the reference)
        with self._lock:
            self._written.pop(ref, None)

    # -- reading -----------------------------------------------------------------------------------------
    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation behind an opaque id; None if unknown, malformed, or its key was shredded."""
        if not CONVERSATION_ID.match(conversation_id or ""):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(agent_conversation)
                               .where(agent_conversation.c.ref == conversation_id)).mappings().first()
        return self._conversation(row) if row is not None else None

    def waiting(self, limit: int = 200) -> list[Conversation]:
        """Conversations in handoff, longest waiting first (unreadable ones — shredded keys — skipped)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(agent_conversation)
                                .where(agent_conversation.c.in_handoff.is_(True))
                                .order_by(agent_conversation.c.handoff_since, agent_conversation.c.ref)
                                .limit(limit)).mappings().all()
        found = (self._conversation(row) for row in rows)
        return [c for c in found if c is not None]

    def _conversation(self, row: Any) -> Conversation | None:
        ref = str(row["ref"])
        tokens = [t for t in (row["sender"], row["address"]) if t]
        if not row["sender"]:
            return None
        try:
            plain = self.cipher.decrypt_many(ref, tokens)
        except Exception as e:  # tampered: not a conversation an agent can act on
            log.error("inbox.unreadable", extra={"conversation": ref[:12], "error": type(e).__name__})
            return None
        if plain[0] is None:
            return None  # the patient's key was destroyed
        address = plain[1] if len(plain) > 1 else None
        return Conversation(ref, row["channel"], plain[0], address, bool(row["in_handoff"]),
                            _aware(row["handoff_since"]), row["left_phase"], row["phase"])


class IndexedTrackerStore(SealedTrackerStore):
    """The sealed tracker store, telling the directory what each append changed."""

    def __init__(self, inner: Any, cipher: Any, key_of: Callable[[str], str], directory: Directory) -> None:
        super().__init__(inner, cipher, key_of)
        self.directory = directory

    def _appended(self, key: str, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        self.directory.observe(key, sender_id, events)


class ErasingBackend:
    """A raw tracker backend whose ``delete`` (ARCO erasure) also drops the inbox row."""

    def __init__(self, inner: Any, directory: Directory) -> None:
        self.inner = inner
        self.directory = directory

    def delete(self, key: str) -> None:
        self.inner.delete(key)
        self.directory.forget(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def transcript(events: Sequence[Event]) -> list[dict[str, Any]]:
    """What staff read: who said what and when, handoffs; no parse data, slots or internal events."""
    out: list[dict[str, Any]] = []
    for ev in events:
        at = _when(ev.timestamp)
        item: dict[str, Any] = {"at": at.isoformat() if at else None}
        if isinstance(ev, UserUttered):
            item.update({"from": "patient", "text": ev.text})
        elif isinstance(ev, BotUttered):
            item.update({"from": "assistant", "text": ev.text, "blocked": ev.blocked})
        elif isinstance(ev, AgentUttered):
            item.update({"from": "agent", "agent": ev.agent, "text": ev.text, "blocked": ev.blocked})
        elif isinstance(ev, HandoffStarted):
            item.update({"event": "handoff_started", "reason": ev.reason})
        elif isinstance(ev, HandoffEnded):
            item.update({"event": "handoff_ended", "agent": ev.agent})
        else:
            continue
        out.append(item)
    return out


def listing(conversation: Conversation, last_delivery: Mapping[str, Any] | None) -> dict[str, Any]:
    """One inbox line: no body, no phone number, no name."""
    since = conversation.handoff_since
    return {"id": conversation.id, "channel": conversation.channel, "phase": conversation.phase,
            "left_phase": conversation.left_phase, "waiting_since": since.isoformat() if since else None,
            "last_delivery": dict(last_delivery) if last_delivery is not None else None}


__all__ = ["CONVERSATION_ID", "Conversation", "Directory", "ErasingBackend", "IndexedTrackerStore",
           "agent_conversation", "listing", "transcript"]
