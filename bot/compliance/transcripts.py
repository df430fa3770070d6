"""Conversation transcripts at rest: pseudonymous keys and per-patient encryption around any tracker store.

:class:`SealedTrackerStore` wraps a backend (memory, SQL, Redis) so that what the backend holds is

* keyed by the patient reference (a keyed hash of the canonical phone number, see
  :meth:`bot.app.state.ClinicServices.patient_ref`) — never the phone number or the channel's sender id;
* one ``{"event": "sealed", "timestamp": t, "token": "v1.<dek_id>.<…>"}`` record per append (one turn):
  the turn's events (message text, entities, slot values, parse data — everything) encrypted together
  with AES-256-GCM under the patient's data key. Only the latest event's timestamp stays clear, for
  retention, which therefore expires whole turns. One record per turn keeps the cost of a conversation's
  replay at one decryption per turn rather than per event.

Destroying the patient's data key (crypto-shredding) makes every sealed event of that patient noise, in
the store and in its backups: :meth:`SealedTrackerStore.load` drops events whose key is gone, so the
conversation starts afresh instead of failing. A token that does not authenticate, or a clear event where
only sealed records are ever written (tampering), is a :class:`~bot.errors.ComplianceError`.

:class:`PseudonymousLockStore` keys conversation locks the same way, so Redis never sees a phone number.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.compliance.crypto import PatientCipher
from bot.core.ports import LockStore, TrackerStore
from bot.core.pseudonym import log_pseudonym
from bot.errors import ComplianceError, StoreError
from bot.stores.codec import encode_events

log = logging.getLogger("bot.compliance.transcripts")

SEALED = "sealed"


@runtime_checkable
class ExpiringStore(Protocol):
    """What retention needs from a tracker backend (every backend in bot.stores implements it)."""

    def expired(self, before: float) -> dict[str, int]:
        """Per stored conversation key, how many events are older than ``before`` (Unix seconds)."""
        ...

    def prune(self, sender_id: str, before: float) -> int:
        """Delete that conversation's events older than ``before``; how many were deleted."""
        ...


class SealedTrackerStore:
    """A :class:`~bot.core.ports.TrackerStore` that encrypts every event under the patient's key."""

    def __init__(self, inner: TrackerStore, cipher: PatientCipher, key_of: Callable[[str], str]) -> None:
        self.inner = inner
        self.cipher = cipher
        self._key_of = key_of

    def key(self, sender_id: str) -> str:
        """The backend key (patient reference) of a conversation."""
        if not isinstance(sender_id, str) or not sender_id:
            raise StoreError("sender_id must be a non-empty string")
        return self._key_of(sender_id)

    # -- TrackerStore ------------------------------------------------------------------------------------

    def load(self, sender_id: str) -> list[dict[str, Any]]:
        key = self.key(sender_id)
        return self.unseal(key, self.inner.load(key))

    def load_from(self, sender_id: str, start: int) -> list[dict[str, Any]]:
        """The events of the stored turns from turn ``start`` on (one sealed record per turn)."""
        key = self.key(sender_id)
        return self.unseal(key, self.inner.load_from(key, start))

    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        self.append_after(sender_id, events, None)

    def delete(self, sender_id: str) -> None:
        self.inner.delete(self.key(sender_id))

    def senders(self) -> list[str]:
        """The stored conversation keys (patient references), not sender ids."""
        return self.inner.senders()

    def close(self) -> None:
        self.inner.close()

    # -- resuming a conversation already decoded (see bot.core.resume) ----------------------------------

    def load_after(self, sender_id: str,
                   known: Position | None) -> tuple[list[dict[str, Any]], Position, bool]:
        """``(events, position, whole)``: the events stored after ``known`` (``whole`` False), or —
        when ``known`` is None or the store no longer holds exactly what it described — every event
        (``whole`` True). ``position`` describes what the store holds now.

        ``known`` still holds when the record at its last position carries the same token (every token
        has a fresh random nonce, so a deleted, pruned or rewritten conversation never matches) and the
        patient's data key still exists (a crypto-shredded patient starts afresh, as with :meth:`load`).
        """
        key = self.key(sender_id)
        if known is not None and known.count > 0:
            stored = self.inner.load_from(key, known.count - 1)
            if (stored and stored[0].get("event") == SEALED and stored[0].get("token") == known.last
                    and self.cipher.readable(key, known.dek_id)):
                newer = stored[1:]
                return self.unseal(key, newer), _position(known.count + len(newer), newer, known), False
        stored = self.inner.load(key)
        return self.unseal(key, stored), _position(len(stored), stored, None), True

    def append_after(self, sender_id: str, events: Sequence[Mapping[str, Any]],
                     known: Position | None) -> Position | None:
        """Append one turn; the position after it when ``known`` was where the store ended."""
        key = self.key(sender_id)
        records = self.seal(key, events)
        self.inner.append(key, records)
        if events:
            self._appended(key, sender_id, events)
        return _position(known.count + len(records), records, known) if known is not None else None

    def _appended(self, key: str, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Called after every append (subclasses keep indexes up to date)."""

    # -- by patient reference (ARCO, retention) ---------------------------------------------------------

    def delete_patient(self, patient_ref: str) -> int:
        """Delete the patient's whole transcript; how many stored records (turns) it held."""
        return erase_transcript(self.inner, patient_ref)

    # -- sealing ---------------------------------------------------------------------------------------

    def seal(self, key: str, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One sealed record for the whole batch (one turn): one AES-GCM operation per message."""
        bodies = encode_events(events)  # validates every event first: all or nothing
        if not bodies:
            return []
        token = self.cipher.encrypt(key, "[" + ",".join(bodies) + "]")
        stamps = [t for t in (_timestamp(ev) for ev in events) if t is not None]
        return [{"event": SEALED, "timestamp": max(stamps) if stamps else None, "token": token}]

    def unseal(self, key: str, stored: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        tokens = [str(d.get("token") or "") for d in stored if d.get("event") == SEALED]
        plain = iter(self.cipher.decrypt_many(key, tokens)) if tokens else iter(())
        out: list[dict[str, Any]] = []
        lost = 0
        for data in stored:
            if data.get("event") != SEALED:
                # Conversations are only ever written sealed under this key: a clear event is an injection.
                raise ComplianceError("a tracker record under a patient key is not sealed (tampering?)")
            body = next(plain)
            if body is None:
                lost += 1
                continue
            out.extend(_events(body))
        if lost:
            log.warning(
                "compliance.transcript.unreadable conversation=%s records=%d (data key destroyed)",
                log_pseudonym(key), lost,
            )  # fmt: skip
        return out


@dataclass(frozen=True)
class Position:
    """Where a conversation ends in the store: how many records (turns), the last one's token and data
    key id. Only a marker for :meth:`SealedTrackerStore.load_after`; the token is ciphertext."""

    count: int
    last: str = ""
    dek_id: str = ""


def _position(count: int, records: Sequence[Mapping[str, Any]], previous: Position | None) -> Position:
    if not records:
        return Position(count, previous.last, previous.dek_id) if previous is not None else Position(count)
    token = str(records[-1].get("token") or "")
    return Position(count, token, token.split(".", 2)[1] if token.count(".") >= 2 else "")


def _events(body: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(body)
    except ValueError as e:
        raise StoreError("a sealed tracker record is not valid JSON") from e
    if not isinstance(value, list):
        raise StoreError("a sealed tracker record is not a list of events")
    for item in value:  # a plain loop: this runs for every stored turn on every load
        if not isinstance(item, dict):
            raise StoreError("a sealed tracker record is not a list of events")
    return value


def _timestamp(event: Mapping[str, Any]) -> float | None:
    value = event.get("timestamp")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class PseudonymousLockStore:
    """Conversation locks keyed by the patient reference instead of the sender id."""

    def __init__(self, inner: LockStore, key_of: Callable[[str], str]) -> None:
        self.inner = inner
        self._key_of = key_of

    def lock(self, sender_id: str, *, wait: float = 10.0) -> AbstractContextManager[None]:
        return self.inner.lock(self._key_of(sender_id), wait=wait)

    def close(self) -> None:
        self.inner.close()


def erase_transcript(store: Any, patient_ref: str) -> int:
    """Delete a patient's conversation from a tracker store (wrapped or raw); how many records it held."""
    backend = raw_store(store)
    count = len(backend.load(patient_ref))
    backend.delete(patient_ref)
    return count


def raw_store(store: Any) -> Any:
    """The backend under any wrappers of this module."""
    while isinstance(store, SealedTrackerStore | PseudonymousLockStore):
        store = store.inner
    return store
