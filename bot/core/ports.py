"""The storage contracts the engine depends on; every backend (``bot.stores``) implements one of them.

They live in the core, the lowest layer, because the processor is what needs them; ``bot.stores`` and the
composition root only implement and plug them in. All methods are synchronous: the engine runs in a
threadpool behind the async web layer, so a backend may block on I/O but must be safe to call from
several threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TrackerStore(Protocol):
    """Conversation state as an append-only list of serialized (JSON-able) events per sender."""

    def load(self, sender_id: str) -> list[dict[str, Any]]:
        """All events of the conversation, oldest first; ``[]`` for an unknown conversation."""
        ...

    def load_from(self, sender_id: str, start: int) -> list[dict[str, Any]]:
        """The stored events from position ``start`` (0 = the oldest still stored) on, oldest first;
        ``[]`` when fewer are stored. What :meth:`load` returns, less its first ``start`` items."""
        ...

    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Append ``events`` atomically (all or none) and in order after the stored ones."""
        ...

    def delete(self, sender_id: str) -> None:
        """Forget the conversation (no error when it does not exist)."""
        ...

    def senders(self) -> list[str]:
        """The sender ids that have stored events, sorted."""
        ...

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...


@runtime_checkable
class ResumableStore(Protocol):
    """What a tracker store offers to resume conversations without replaying them
    (:class:`~bot.compliance.transcripts.SealedTrackerStore` does; see :mod:`bot.core.resume`)."""

    def load_after(self, sender_id: str, known: Any) -> tuple[list[dict[str, Any]], Any, bool]: ...

    def append_after(self, sender_id: str, events: Sequence[Mapping[str, Any]], known: Any) -> Any: ...


@runtime_checkable
class LockStore(Protocol):
    """Per-conversation mutual exclusion, granted in arrival (FIFO) order."""

    def lock(self, sender_id: str, *, wait: float = 10.0) -> AbstractContextManager[None]:
        """A context manager holding the conversation's lock.

        Entering it blocks until the lock is granted and raises
        :class:`bot.errors.LockTimeoutError` after ``wait`` seconds. Locks are not re-entrant.
        """
        ...

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...


__all__ = ["LockStore", "ResumableStore", "TrackerStore"]
