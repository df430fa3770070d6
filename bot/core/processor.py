"""The message processor: one message in, replies out, along the one-way path of DESIGN.md.

lock -> tracker from store -> NLU parse -> slots -> policies (in priority order) -> chart transition ->
actions -> responses rendered (template or whitelisted paraphrase) -> disclosure gate -> events appended.
Stores, the interpreter, the gate and the paraphraser are handed in; nothing here imports them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.core.dialogue import Action, Decision, FlowEvent, Policy, Services, Turn, Utter
from bot.core.domain import Domain
from bot.core.events import (
    ActionExecuted,
    BotUttered,
    ErrorOccurred,
    Event,
    FallbackTriggered,
    FlowTransitioned,
    SessionStarted,
    UserUttered,
)
from bot.core.slots import extract_slots
from bot.core.tracker import Tracker
from bot.errors import BotError, FlowError
from bot.nlg.templates import TemplateRenderer

log = logging.getLogger("bot.processor")

SAFE_ERROR_RESPONSE = "utter_error"


@dataclass(frozen=True)
class UserMessage:
    sender_id: str
    text: str
    channel: str = "rest"
    message_id: str | None = None
    reply_to: str | None = None  # the exact address to answer (e.g. Twilio's From)


@dataclass(frozen=True)
class OutgoingMessage:
    recipient_id: str
    text: str
    response: str | None = None
    buttons: tuple[Mapping[str, str], ...] = ()
    blocked: bool = False


class TrackerStorePort(Protocol):
    def load(self, sender_id: str) -> list[dict[str, Any]]: ...
    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None: ...


class LockStorePort(Protocol):
    def lock(self, sender_id: str, *, wait: float = 10.0) -> Any: ...


class InterpreterPort(Protocol):
    def parse(self, text: str, reference_time: datetime | None = None) -> dict[str, Any]: ...


class GatePort(Protocol):
    def filter(
        self,
        text: str,
        *,
        channel: str,
        provenance: tuple[str, str],
        patient_specific: bool,
        recent: Sequence[str],
    ) -> tuple[str, bool]: ...


class ParaphrasePort(Protocol):
    def paraphrase(
        self, response_name: str, rendered_template: str, slot_values: Mapping[str, str]
    ) -> str: ...


class FlowPort(Protocol):
    initial: tuple[str, ...]

    def step(self, state: tuple[str, ...], history: Mapping[str, tuple[str, ...]], event: str) -> Any: ...
    def can(self, state: tuple[str, ...], event: str) -> bool: ...
    def phase(self, state: tuple[str, ...]) -> Any: ...


def sender_hash(sender_id: str) -> str:
    """What logs may carry instead of a sender id (never the phone number)."""
    return hashlib.sha256(sender_id.encode()).hexdigest()[:12]


@dataclass
class Processor:
    domain: Domain
    flow: FlowPort
    policies: Sequence[Policy]
    actions: Mapping[str, Action]
    interpreter: InterpreterPort
    tracker_store: TrackerStorePort
    lock_store: LockStorePort
    renderer: TemplateRenderer
    gate: GatePort
    services: Services
    paraphraser: ParaphrasePort | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # hooks to encrypt message bodies before they are stored (compliance) — identity by default
    seal_text: Callable[[str, str], str] = field(default=lambda sender, text: text)
    unseal_text: Callable[[str, str], str] = field(default=lambda sender, text: text)

    # -- public API -----------------------------------------------------------------------------------
    def handle(self, message: UserMessage) -> list[OutgoingMessage]:
        with self.lock_store.lock(message.sender_id):
            tracker = self._load(message.sender_id)
            new_events: list[Event] = []
            outgoing: list[OutgoingMessage] = []
            try:
                self._turn(message, tracker, new_events, outgoing)
            except Exception as e:
                log.exception("dialogue.turn_failed", extra={"sender": sender_hash(message.sender_id)})
                err = ErrorOccurred(kind=type(e).__name__, where="processor")
                tracker.apply(err)
                new_events.append(err)
                self._utter(tracker, new_events, outgoing, message, Utter(SAFE_ERROR_RESPONSE), safe=True)
            self.tracker_store.append(
                message.sender_id, [self._stored(message.sender_id, ev) for ev in new_events]
            )
            return outgoing

    def tracker(self, sender_id: str) -> Tracker:
        return self._load(sender_id)

    def apply_external(
        self,
        sender_id: str,
        events: Sequence[Event],
        utters: Sequence[Utter] = (),
        flow_event: str | None = None,
        channel: str = "rest",
    ) -> list[OutgoingMessage]:
        """Record events that come from outside a patient turn (an agent hands back, a reminder...)."""
        with self.lock_store.lock(sender_id):
            tracker = self.tracker(sender_id)
            new_events: list[Event] = []
            for ev in events:
                tracker.apply(ev)
                new_events.append(ev)
            if flow_event:
                self._transition(tracker, new_events, flow_event)
            outgoing: list[OutgoingMessage] = []
            msg = UserMessage(sender_id=sender_id, text="", channel=channel)
            for utter in utters:
                self._utter(tracker, new_events, outgoing, msg, utter)
            self.tracker_store.append(sender_id, [self._stored(sender_id, ev) for ev in new_events])
            return outgoing

    # -- one turn -------------------------------------------------------------------------------------
    def _turn(
        self, message: UserMessage, tracker: Tracker, new: list[Event], outgoing: list[OutgoingMessage]
    ) -> None:
        now = self.clock()
        if not tracker.flow_state:
            for ev in (SessionStarted(), FlowTransitioned(flow_event="start", state=self.flow.initial)):
                tracker.apply(ev)
                new.append(ev)
        parse = self.interpreter.parse(message.text, now)
        user = UserUttered(
            text=message.text,
            intent=(parse.get("intent") or {}).get("name"),
            confidence=float((parse.get("intent") or {}).get("confidence") or 0.0),
            entities=tuple(
                {k: e.get(k) for k in ("entity", "value", "start", "end", "extractor")}
                for e in parse.get("entities") or ()
            ),
            message_id=message.message_id,
            channel=message.channel,
        )
        tracker.apply(user)
        new.append(user)
        for slot_event in extract_slots(self.domain, parse, tracker):
            tracker.apply(slot_event)
            new.append(slot_event)
        turn = Turn(
            tracker,
            parse,
            self.domain,
            now,
            message.channel,
            self.services,
            flow_can=lambda ev: self.flow.can(tracker.flow_state, ev),
        )
        decision = self._decide(turn)
        if decision is None:  # e.g. in handoff: a person answers, the bot stays silent
            return
        mark = ActionExecuted(name="decision", policy=decision.policy)
        tracker.apply(mark)
        new.append(mark)
        if decision.fallback_reason:
            fb = FallbackTriggered(reason=decision.fallback_reason)
            tracker.apply(fb)
            new.append(fb)
        if decision.flow_event:
            self._transition(tracker, new, decision.flow_event)
        for name in decision.actions:
            self._run(name, turn, tracker, new, outgoing, message)

    def _decide(self, turn: Turn) -> Decision | None:
        for policy in self.policies:
            decision = policy.predict(turn)
            if decision is not None:
                return decision
        return None

    def _run(
        self,
        name: str,
        turn: Turn,
        tracker: Tracker,
        new: list[Event],
        outgoing: list[OutgoingMessage],
        message: UserMessage,
    ) -> None:
        if name in self.domain.responses:
            self._utter(tracker, new, outgoing, message, Utter(name))
            return
        action = self.actions.get(name)
        if action is None:
            raise BotError(f"unknown action {name!r}")
        executed = ActionExecuted(name=name)
        tracker.apply(executed)
        new.append(executed)
        for out in action.run(turn):
            if isinstance(out, Utter):
                self._utter(tracker, new, outgoing, message, out)
            elif isinstance(out, FlowEvent):
                self._transition(tracker, new, out.name)
            else:
                tracker.apply(out)
                new.append(out)

    def _transition(self, tracker: Tracker, new: list[Event], event: str) -> None:
        result = self.flow.step(tracker.flow_state, tracker.flow_history, event)
        ev = FlowTransitioned(
            flow_event=event, source=result.source, state=result.state, history=result.history
        )
        tracker.apply(ev)
        new.append(ev)

    # -- output ---------------------------------------------------------------------------------------
    def _utter(
        self,
        tracker: Tracker,
        new: list[Event],
        outgoing: list[OutgoingMessage],
        message: UserMessage,
        utter: Utter,
        safe: bool = False,
    ) -> None:
        spec = self.domain.responses.get(utter.response)
        if spec is None:
            raise BotError(f"unknown response {utter.response!r}")
        phase = self.flow.phase(tracker.flow_state)
        if not safe and not phase.allows(utter.response):
            raise FlowError(f"phase {tracker.phase!r} may not send {utter.response!r}")
        rotation = sum(
            1 for e in tracker.events if isinstance(e, BotUttered) and e.response == utter.response
        )
        rendered = self.renderer.render(
            utter.response,
            channel=message.channel,
            slots=tracker.slots,
            values=utter.values,
            rotation=rotation,
        )
        text, provenance, paraphrased = rendered.text, "template", False
        if self.paraphraser is not None and phase.paraphrase and spec.paraphrase:
            candidate = self.paraphraser.paraphrase(utter.response, rendered.text, rendered.values)
            if candidate != rendered.text:
                text, provenance, paraphrased = candidate, "paraphrase", True
        sent, blocked = self.gate.filter(
            text,
            channel=message.channel,
            provenance=(provenance, utter.response),
            patient_specific=spec.patient_specific,
            recent=tuple(tracker.recent_bot_texts),
        )
        ev = BotUttered(
            text=sent,
            response=utter.response,
            provenance=provenance,
            blocked=blocked,
            paraphrased=paraphrased,
        )
        tracker.apply(ev)
        new.append(ev)
        outgoing.append(
            OutgoingMessage(
                message.reply_to or message.sender_id,
                sent,
                utter.response,
                rendered.buttons if not blocked else (),
                blocked,
            )
        )

    def _stored(self, sender_id: str, ev: Event) -> dict[str, Any]:
        data = ev.as_dict()
        if isinstance(ev, UserUttered | BotUttered) and data.get("text"):
            data["text"] = self.seal_text(sender_id, data["text"])
        return data

    def _load(self, sender_id: str) -> Tracker:
        dicts = self.tracker_store.load(sender_id)
        for data in dicts:
            if data.get("event") in ("user", "bot") and data.get("text"):
                data["text"] = self.unseal_text(sender_id, data["text"])
        return Tracker.from_dicts(sender_id, dicts)

