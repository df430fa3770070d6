"""The dialogue state of one conversation, derived only by applying events in order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.events import (
    ActionExecuted,
    AgentUttered,
    BotUttered,
    ErrorOccurred,
    Event,
    FallbackTriggered,
    FlowTransitioned,
    HandoffEnded,
    HandoffStarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    event_from_dict,
)

#: Event classes that change nothing but the event list.
_NO_STATE: frozenset[type[Event]] = frozenset((SessionStarted, ErrorOccurred))


#: The phase of a conversation whose patient opted out of messages (flows/clinic.py).
OPTED_OUT = "opted_out"


@dataclass
class Tracker:
    sender_id: str
    events: list[Event] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    flow_state: tuple[str, ...] = ()
    flow_history: dict[str, tuple[str, ...]] = field(default_factory=dict)
    in_handoff: bool = False
    handoff_reason: str | None = None
    latest_message: UserUttered | None = None
    low_confidence_streak: int = 0
    recent_bot_texts: list[str] = field(default_factory=list)

    @classmethod
    def from_events(cls, sender_id: str, events: Iterable[Event]) -> Tracker:
        tracker = cls(sender_id)
        for event in events:
            tracker.apply(event)
        return tracker

    @classmethod
    def from_dicts(cls, sender_id: str, data: Iterable[Mapping[str, Any]]) -> Tracker:
        tracker = cls(sender_id)
        apply = tracker.apply
        for d in data:  # the whole stored conversation, every turn: no generator in between
            apply(event_from_dict(d))
        return tracker

    def apply(self, event: Event) -> None:
        self.events.append(event)
        # Replayed for every stored event on every turn: dispatch on the exact class first (the event
        # classes are final), the isinstance chain below stays the rule for anything else.
        if type(event) is SlotSet:
            self._apply_slot(event)
        elif type(event) is ActionExecuted:
            if event.policy not in (None, "FallbackPolicy"):
                self.low_confidence_streak = 0
        elif type(event) is BotUttered or type(event) is AgentUttered:
            self.recent_bot_texts = [*self.recent_bot_texts[-2:], event.text]
        elif type(event) is UserUttered:
            self.latest_message = event
        elif type(event) not in _NO_STATE:
            self._apply_other(event)

    def _apply_slot(self, event: SlotSet) -> None:
        if event.value is None:
            self.slots.pop(event.name, None)
        else:
            self.slots[event.name] = event.value

    def _apply_other(self, event: Event) -> None:
        if isinstance(event, SlotSet):
            self._apply_slot(event)
        elif isinstance(event, UserUttered):
            self.latest_message = event
        elif isinstance(event, FlowTransitioned):
            self.flow_state = tuple(event.state)
            self.flow_history = {k: tuple(v) for k, v in event.history.items()}
        elif isinstance(event, HandoffStarted):
            self.in_handoff = True
            self.handoff_reason = event.reason
        elif isinstance(event, HandoffEnded):
            self.in_handoff = False
            self.handoff_reason = None
        elif isinstance(event, FallbackTriggered):
            self.low_confidence_streak += 1
        elif isinstance(event, ActionExecuted) and event.policy not in (None, "FallbackPolicy"):
            self.low_confidence_streak = 0
        elif isinstance(event, BotUttered | AgentUttered):
            # what the gate must see to catch an answer split across messages
            self.recent_bot_texts = [*self.recent_bot_texts[-2:], event.text]

    def apply_all(self, events: Sequence[Event]) -> None:
        for event in events:
            self.apply(event)

    def has_message(self, message_id: str) -> bool:
        """Whether the patient message with this id (a channel's MessageSid) was already handled here."""
        return any(isinstance(e, UserUttered) and e.message_id == message_id for e in reversed(self.events))

    def get_slot(self, name: str, default: Any = None) -> Any:
        return self.slots.get(name, default)

    @property
    def phase(self) -> str | None:
        """The innermost active state (``booking``, ``handoff`` ...), or None before the first turn."""
        return self.flow_state[-1] if self.flow_state else None

    @property
    def opted_out(self) -> bool:
        """The patient asked for no more messages (BAJA): nothing may be sent until they opt back in."""
        return self.phase == OPTED_OUT

    def as_dicts(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.events]
