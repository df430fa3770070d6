"""Conversation transcripts at rest: pseudonymous keys and per-patient encryption around any tracker store.

:class:`SealedTrackerStore` wraps a backend (memory, SQL, Redis) so that what the backend holds is

* keyed by the patient reference (a keyed hash of the canonical phone number, see
  :meth:`bot.app.ClinicServices.patient_ref`) — never the phone number or the channel's sender id;
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
from typing import Any, Protocol, runtime_checkable

from bot.compliance.crypto import PatientCipher
from bot.errors import ComplianceError, StoreError
from bot.stores.codec import encode_events, sender_hash
from bot.stores.protocols import LockStore, TrackerStore

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
    """A :class:`~bot.stores.protocols.TrackerStore` that encrypts every event under the patient's key."""

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

    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        key = self.key(sender_id)
        self.inner.append(key, self.seal(key, events))

    def delete(self, sender_id: str) -> None:
        self.inner.delete(self.key(sender_id))

    def senders(self) -> list[str]:
        """The stored conversation keys (patient references), not sender ids."""
        return self.inner.senders()

    def close(self) -> None:
        self.inner.close()

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
                sender_hash(key), lost,
            )  # fmt: skip
        return out


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
