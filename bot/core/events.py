"""Conversation events: frozen dataclasses with an explicit ``type name -> class`` table.

The tracker changes only by applying these, and is rebuilt by replaying them (see ``tracker.py``).
Serialised form follows Rasa where Rasa has the event (``{"event": "user", "timestamp": ..., ...}``).
Nothing here imports a channel, store or SDK.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot.errors import BotError


class EventError(BotError):
    """A serialised event cannot be read back."""


@dataclass(frozen=True)
class Event:
    type_name: ClassVar[str] = "event"
    timestamp: float = field(default_factory=time.time, kw_only=True)

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key, value in list(data.items()):
            if isinstance(value, tuple):
                data[key] = list(value)
        return {"event": self.type_name, **data}


@dataclass(frozen=True)
class SessionStarted(Event):
    type_name: ClassVar[str] = "session_started"


@dataclass(frozen=True)
class UserUttered(Event):
    """A patient message. ``text`` may be an encrypted token when stored (see compliance.crypto)."""

    type_name: ClassVar[str] = "user"
    text: str = ""
    intent: str | None = None
    confidence: float = 0.0
    entities: tuple[Mapping[str, Any], ...] = ()
    message_id: str | None = None
    channel: str = "rest"


@dataclass(frozen=True)
class BotUttered(Event):
    """A message sent to the patient, after the disclosure gate. ``response`` names its template."""

    type_name: ClassVar[str] = "bot"
    text: str = ""
    response: str | None = None
    provenance: str = "template"
    blocked: bool = False
    paraphrased: bool = False


@dataclass(frozen=True)
class SlotSet(Event):
    type_name: ClassVar[str] = "slot"
    name: str = ""
    value: Any = None


@dataclass(frozen=True)
class ActionExecuted(Event):
    type_name: ClassVar[str] = "action"
    name: str = ""
    policy: str | None = None


@dataclass(frozen=True)
class FlowTransitioned(Event):
    """The chart took ``event``: ``state`` is the new configuration, ``history`` what resume needs."""

    type_name: ClassVar[str] = "flow"
    flow_event: str = ""
    source: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    history: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class HandoffStarted(Event):
    type_name: ClassVar[str] = "handoff_started"
    reason: str = "requested"


@dataclass(frozen=True)
class HandoffEnded(Event):
    type_name: ClassVar[str] = "handoff_ended"
    agent: str = ""


@dataclass(frozen=True)
class AgentUttered(Event):
    """A human agent's message (after the gate), recorded in the conversation."""

    type_name: ClassVar[str] = "agent"
    text: str = ""
    agent: str = ""
    blocked: bool = False


@dataclass(frozen=True)
class FallbackTriggered(Event):
    type_name: ClassVar[str] = "fallback"
    reason: str = "low_confidence"


@dataclass(frozen=True)
class ErrorOccurred(Event):
    """Something failed while handling a message; the patient got a safe reply. No message text."""

    type_name: ClassVar[str] = "error"
    kind: str = ""
    where: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        SessionStarted,
        UserUttered,
        BotUttered,
        SlotSet,
        ActionExecuted,
        FlowTransitioned,
        HandoffStarted,
        HandoffEnded,
        AgentUttered,
        FallbackTriggered,
        ErrorOccurred,
    )
}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from its serialised form; unknown types are an error, never skipped."""
    try:
        cls = EVENT_TYPES[data["event"]]
    except KeyError as e:
        raise EventError(f"unknown or missing event type: {data.get('event')!r}") from e
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known - {"event"})
    if unknown:
        raise EventError(f"{data['event']!r} event has unknown fields {unknown}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in ("entities", "source", "state") and isinstance(value, list):
            value = tuple(value)
        if f.name == "history" and isinstance(value, Mapping):
            value = {k: tuple(v) for k, v in value.items()}
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise EventError(f"malformed {data['event']!r} event: {e}") from e
