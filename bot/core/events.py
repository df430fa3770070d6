"""Conversation events: frozen dataclasses with an explicit ``type name -> class`` table.

The tracker changes only by applying these, and is rebuilt by replaying them (see ``tracker.py``).
Serialised form follows Rasa where Rasa has the event (``{"event": "user", "timestamp": ..., ...}``).
Nothing here imports a channel, store or SDK.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
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
        data: dict[str, Any] = {"event": self.type_name}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            data[name] = list(value) if isinstance(value, tuple) else value
        return data


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


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type[Event]) -> tuple[str, ...]:
    """The dataclass fields of an event class, in declaration order (computed once per class)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(frozen=True)
class _Decoder:
    """How to rebuild one event class without re-inspecting its dataclass fields on every event."""

    cls: type[Event]
    known: frozenset[str]  # accepted keys, "event" included
    defaults: dict[str, Any]  # plain defaults
    factories: tuple[tuple[str, Callable[[], Any]], ...]  # default_factory fields (timestamp, history)
    direct: bool  # every field has a default and there is no __post_init__: fill the instance directly
    tuples: tuple[str, ...]  # fields stored as JSON lists that the event holds as tuples
    history: bool  # has a ``history`` mapping of tuples


def _make_decoder(cls: type[Event]) -> _Decoder:
    defaults: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    required = False
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            factories.append((f.name, f.default_factory))
        else:
            required = True
    direct = not required and not hasattr(cls, "__post_init__")
    names = _field_names(cls)
    return _Decoder(
        cls,
        frozenset(names) | {"event"},
        defaults,
        tuple(factories),
        direct,
        tuple(n for n in names if n in _TUPLE_FIELDS),
        "history" in names,
    )


_TUPLE_FIELDS = frozenset(("entities", "source", "state"))
_DECODERS: dict[str, _Decoder] = {name: _make_decoder(cls) for name, cls in EVENT_TYPES.items()}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from its serialised form; unknown types are an error, never skipped.

    Called for every stored event of a conversation on every turn (the tracker is replayed), so the
    per-class field table is computed once and a frozen instance is filled directly: the result is
    the same as ``cls(**fields)`` (the event classes have defaults for every field and no
    ``__post_init__``; a class that had either would go through its constructor).
    """
    try:
        decoder = _DECODERS[data["event"]]
    except KeyError as e:
        raise EventError(f"unknown or missing event type: {data.get('event')!r}") from e
    if not decoder.known.issuperset(data):
        unknown = sorted(set(data) - decoder.known)
        raise EventError(f"{data['event']!r} event has unknown fields {unknown}")
    values: dict[str, Any] = {**decoder.defaults, **data}
    del values["event"]
    for name in decoder.tuples:
        value = values.get(name)
        if isinstance(value, list):
            values[name] = tuple(value)
    if decoder.history and "history" in values:
        value = values["history"]
        if isinstance(value, Mapping):
            values["history"] = {k: tuple(v) for k, v in value.items()}
    for name, factory in decoder.factories:
        if name not in values:
            values[name] = factory()
    if not decoder.direct:
        try:
            return decoder.cls(**values)
        except TypeError as e:
            raise EventError(f"malformed {data['event']!r} event: {e}") from e
    event = object.__new__(decoder.cls)
    event.__dict__.update(values)  # frozen: no __setattr__, but the new instance's dict is ours to fill
    return event
