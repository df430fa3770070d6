"""What policies and actions see for one turn, and what they may return.

Ports (``Services``) are protocols; the composition root (``bot.app.wiring``) plugs in the real database,
consent registry, audit log, disclosure gate and paraphraser. ``bot.core`` imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.core.domain import Domain
from bot.core.events import Event
from bot.core.tracker import Tracker


@dataclass(frozen=True)
class Utter:
    """Send a registered response; ``values`` fill template variables that are not slots.

    ``buttons``: how many of the response's buttons apply this time (e.g. 2 slots offered of the 3 the
    response can show); None = all of them.
    """

    response: str
    values: Mapping[str, Any] = field(default_factory=dict)
    buttons: int | None = None


@dataclass(frozen=True)
class FlowEvent:
    """Ask the chart to take an event (an action decides, e.g. ``slot_chosen`` only if a slot matched)."""

    name: str


Output = Event | Utter | FlowEvent


@dataclass(frozen=True)
class Decision:
    """A policy's prediction: optionally a chart event first, then actions/responses in order."""

    policy: str
    actions: tuple[str, ...] = ()
    flow_event: str | None = None
    fallback_reason: str | None = None


class AuditPort(Protocol):
    def append(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> Any: ...


class Services(Protocol):
    """Everything actions may touch outside the tracker. Implemented in bot.app.wiring."""

    clinic: Any
    appointments: Any
    consent: Any
    audit: AuditPort
    arco: Any

    def patient_ref(self, sender_id: str) -> str: ...


@dataclass
class Turn:
    tracker: Tracker
    parse: Mapping[str, Any]
    domain: Domain
    now: datetime
    channel: str
    services: Services
    flow_can: Any = None  # Callable[[str], bool]: can the chart take this event now?

    @property
    def intent(self) -> str:
        return str((self.parse.get("intent") or {}).get("name") or "nlu_fallback")

    @property
    def confidence(self) -> float:
        return float((self.parse.get("intent") or {}).get("confidence") or 0.0)

    @property
    def entities(self) -> Sequence[Mapping[str, Any]]:
        return self.parse.get("entities") or ()

    @property
    def text(self) -> str:
        return str(self.parse.get("text") or "")

    def entity(self, name: str) -> Any:
        for ent in self.entities:
            if ent.get("entity") == name:
                return ent.get("value")
        return None

    @property
    def phase(self) -> str:
        return self.tracker.phase or "greeting"

    def slot(self, name: str, default: Any = None) -> Any:
        return self.tracker.get_slot(name, default)


class Policy(Protocol):
    name: str

    def predict(self, turn: Turn) -> Decision | None: ...


class Action(Protocol):
    name: str

    def run(self, turn: Turn) -> list[Output]: ...
