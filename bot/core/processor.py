"""The message processor: one message in, replies out, along the one-way path of DESIGN.md.

lock -> tracker from store -> NLU parse -> slots -> policies (in priority order) -> chart transition ->
actions -> responses rendered (template or whitelisted paraphrase) -> disclosure gate -> events appended.
Stores, the interpreter, the gate and the paraphraser are handed in; nothing here imports them.
Encryption at rest is the tracker store's business: the composition root hands in a store that seals
every event under the patient's key (bot.compliance.transcripts), so plaintext events never leave here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.core import expect, repeats, resume
from bot.core.coalesce import coalesce
from bot.core.dialogue import Action, Decision, FlowEvent, Policy, Services, Turn, Utter
from bot.core.domain import Domain
from bot.core.events import (
    ActionExecuted,
    AgentUttered,
    BotUttered,
    ErrorOccurred,
    Event,
    FallbackTriggered,
    FlowTransitioned,
    SessionStarted,
    UserUttered,
)
from bot.core.identity import check_sender
from bot.core.ports import LockStore, TrackerStore
from bot.core.pseudonym import log_pseudonym
from bot.core.resume import TrackerCache
from bot.core.slots import extract_slots
from bot.core.tracker import Tracker
from bot.errors import BotError, FlowError

log = logging.getLogger("bot.processor")

SAFE_ERROR_RESPONSE = "utter_error"
DATA_BLOCKED_RESPONSE = "utter_data_blocked"


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


@dataclass(frozen=True)
class TurnOutcome:
    """What :meth:`Processor.handle_turn` did: the replies, whether the turn was stored in the conversation
    (False: a fixed reply outside it, e.g. data blocked) and whether it had been stored before (replayed)."""

    outgoing: list[OutgoingMessage]
    stored: bool
    replayed: bool = False


class NotInHandoffError(BotError, LookupError):
    """An agent wrote into a conversation the assistant is handling (not handed to a person)."""


class AgentTextRefused(BotError):
    """A member of staff's text was refused for its form (script, link, hidden or bidi characters) and
    nothing went to the patient: the author must rewrite it (the categories say why)."""

    def __init__(self, categories: Sequence[str]) -> None:
        super().__init__("the text was refused and not sent: " + ", ".join(categories))
        self.categories = tuple(categories)


@dataclass(frozen=True)
class AgentReply:
    """What became of an agent's message: the message sent (the redirect if the gate blocked it)."""

    message: OutgoingMessage
    blocked: bool
    categories: tuple[str, ...] = ()


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


class DetailedGatePort(Protocol):
    def filter_detailed(
        self,
        text: str,
        *,
        channel: str,
        provenance: tuple[str, str],
        patient_specific: bool,
        recent: Sequence[str],
    ) -> tuple[str, bool, tuple[str, ...]]: ...


class RenderedPort(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def values(self) -> Mapping[str, str]: ...  # the placeholder values used (all a paraphraser may see)
    @property
    def buttons(self) -> tuple[Mapping[str, str], ...]: ...


class RendererPort(Protocol):
    """Fills a registered response for a channel (bot.nlg.templates.TemplateRenderer)."""

    def render(self, response: str, *, channel: str, slots: Mapping[str, Any],
               values: Mapping[str, Any] | None = None, rotation: int = 0) -> RenderedPort: ...


class ParaphrasePort(Protocol):
    def paraphrase(
        self, response_name: str, rendered_template: str, slot_values: Mapping[str, str]
    ) -> str: ...


class FlowPort(Protocol):
    initial: tuple[str, ...]

    def step(self, state: tuple[str, ...], history: Mapping[str, tuple[str, ...]], event: str) -> Any: ...
    def can(self, state: tuple[str, ...], event: str) -> bool: ...
    def phase(self, state: tuple[str, ...]) -> Any: ...



@dataclass
class Processor:
    domain: Domain
    flow: FlowPort
    policies: Sequence[Policy]
    actions: Mapping[str, Action]
    interpreter: InterpreterPort
    tracker_store: TrackerStore
    lock_store: LockStore
    renderer: RendererPort
    gate: GatePort
    services: Services
    paraphraser: ParaphrasePort | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    trackers: TrackerCache | None = None  # decoded recent conversations (bot.core.resume)

    # -- public API -----------------------------------------------------------------------------------
    def handle(self, message: UserMessage) -> list[OutgoingMessage]:
        return self.handle_turn(message).outgoing

    def handle_turn(self, message: UserMessage, *,
                    stage: Callable[[list[OutgoingMessage]], None] | None = None,
                    transient: Callable[[BaseException], bool] | None = None) -> TurnOutcome:
        """One patient turn, at most once per ``message.message_id`` (exactly-once turns, issue 18).

        ``stage``: called with the turn's replies after the turn ran and *before* its events are stored
        (a channel writes them to its outbox there, not yet deliverable); storing the events is the turn's
        commit point. A message whose id is already in the conversation (its turn was stored before a
        crash) is not run again: the outcome says ``replayed`` and carries no replies — the channel
        delivers what it staged then. ``transient``: errors for which the turn is not answered with the
        safe reply but raised, nothing stored, so the caller retries it later (a database or Redis outage).
        """
        check_sender(message.channel, message.sender_id)  # only a verified channel speaks for a phone
        if self.data_blocked(message.sender_id):
            # ARCO cancellation in its blocking period: the message is not processed nor stored.
            return TurnOutcome(self._fixed_reply(message, DATA_BLOCKED_RESPONSE), stored=False)
        with self.lock_store.lock(message.sender_id):
            try:
                tracker, position = self._load_turn(message.sender_id)
            except BotError as e:  # unreadable conversation (store down, tampered data): a safe reply
                if transient is not None and transient(e):
                    raise
                log.error(
                    "dialogue.load_failed",
                    extra={"sender": log_pseudonym(message.sender_id), "error": type(e).__name__},
                )
                return TurnOutcome(self._safe_reply(message), stored=False)
            if message.message_id and tracker.has_message(message.message_id):
                if position is not None and self.trackers is not None:
                    self.trackers.keep(message.sender_id, tracker, position)
                log.info("dialogue.turn_replayed", extra={"sender": log_pseudonym(message.sender_id)})
                return TurnOutcome([], stored=True, replayed=True)
            new_events: list[Event] = []
            outgoing: list[OutgoingMessage] = []
            try:
                self._turn(message, tracker, new_events, outgoing)
            except Exception as e:
                if transient is not None and transient(e):
                    raise  # nothing stored, nothing sent: retried later, in order
                log.exception("dialogue.turn_failed", extra={"sender": log_pseudonym(message.sender_id)})
                position = None  # the tracker may hold what the failed turn did not record: not kept
                self._record_message(message, tracker, new_events)
                err = ErrorOccurred(kind=type(e).__name__, where="processor")
                tracker.apply(err)
                new_events.append(err)
                self._utter(tracker, new_events, outgoing, message, Utter(SAFE_ERROR_RESPONSE), safe=True)
            outgoing = self._joined(message, tracker, outgoing)
            if stage is not None:
                stage(outgoing)
            self._save_turn(tracker, [ev.as_dict() for ev in new_events], position)
            return TurnOutcome(outgoing, stored=True)

    def _joined(
        self, message: UserMessage, tracker: Tracker, outgoing: list[OutgoingMessage]
    ) -> list[OutgoingMessage]:
        """The turn's replies joined into as few messages as they fit in (bot/core/coalesce.py); a joined
        text is a new outbound text, so it passes the disclosure gate again or the replies stay apart."""
        recent = tuple(tracker.recent_bot_texts)

        def passes(text: str, parts: Sequence[OutgoingMessage]) -> bool:
            specs = [self.domain.responses.get(p.response or "") for p in parts]
            sent, blocked = self.gate.filter(
                text,
                channel=message.channel,
                provenance=("template", parts[-1].response or ""),
                patient_specific=any(spec is None or spec.patient_specific for spec in specs),
                recent=recent,
            )
            return not blocked and sent == text

        return coalesce(outgoing, passes)

    @staticmethod
    def _record_message(message: UserMessage, tracker: Tracker, new_events: list[Event]) -> None:
        """A failed turn still records the message it answered (its id makes the turn happen once)."""
        if not message.message_id or any(
            isinstance(ev, UserUttered) and ev.message_id == message.message_id for ev in new_events
        ):
            return
        user = UserUttered(text=message.text, message_id=message.message_id, channel=message.channel)
        tracker.apply(user)
        new_events.append(user)

    def tracker(self, sender_id: str) -> Tracker:
        return self._load(sender_id)

    def opted_out(self, sender_id: str) -> bool:
        """Whether the patient opted out (BAJA): the one check every sender of messages makes."""
        return self._load(sender_id).opted_out

    def apply_external(
        self,
        sender_id: str,
        events: Sequence[Event],
        utters: Sequence[Utter] = (),
        flow_event: str | Sequence[str] | None = None,
        channel: str = "rest",
    ) -> list[OutgoingMessage]:
        """Record events that come from outside a patient turn (an agent hands back, a reminder, a file
        the patient sent...); ``flow_event``: one chart event or several, in order, after the events."""
        with self.lock_store.lock(sender_id):
            tracker = self.tracker(sender_id)
            new_events: list[Event] = []
            for ev in events:
                tracker.apply(ev)
                new_events.append(ev)
            for step in [flow_event] if isinstance(flow_event, str) else flow_event or ():
                self._transition(tracker, new_events, step)
            outgoing: list[OutgoingMessage] = []
            msg = UserMessage(sender_id=sender_id, text="", channel=channel)
            for utter in utters:
                self._utter(tracker, new_events, outgoing, msg, utter)
            self.tracker_store.append(sender_id, [ev.as_dict() for ev in new_events])
            return outgoing

    def agent_message(self, sender_id: str, agent: str, text: str) -> AgentReply:
        """A human agent writes to the patient: the text passes the disclosure gate like any other.

        Provenance ``("agent", agent)``, patient-specific, checked together with the recent outbound
        texts; a text blocked for clinical content is replaced by the clinical redirect, one refused for its
        form (the gate returns no text) raises :class:`AgentTextRefused`. The event records what was sent.
        Only while the conversation is in handoff (:class:`NotInHandoffError` otherwise).
        """
        with self.lock_store.lock(sender_id):
            tracker = self._load(sender_id)
            if not tracker.in_handoff:
                raise NotInHandoffError("this conversation is not waiting for a person")
            channel = self._channel_of(tracker)
            args: dict[str, Any] = {
                "channel": channel,
                "provenance": ("agent", agent),
                "patient_specific": True,
                "recent": tuple(tracker.recent_bot_texts),
            }
            detailed = getattr(self.gate, "filter_detailed", None)
            categories: tuple[str, ...] = ()
            if detailed is not None:
                sent, blocked, categories = detailed(text, **args)
            else:
                sent, blocked = self.gate.filter(text, **args)
            if blocked and not sent:  # refused for its form: nothing is sent or recorded
                raise AgentTextRefused(categories)
            ev = AgentUttered(text=sent, agent=agent, blocked=blocked)
            tracker.apply(ev)
            self.tracker_store.append(sender_id, [ev.as_dict()])
            out = OutgoingMessage(sender_id, sent, None, (), blocked)
            return AgentReply(out, blocked, tuple(categories))

    @staticmethod
    def _channel_of(tracker: Tracker) -> str:
        for ev in reversed(tracker.events):
            if isinstance(ev, UserUttered):
                return ev.channel
        return "whatsapp"  # unknown: assume the strictest channel

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
        # the answer to what was just asked first, the model's intent second (bot/core/expect.py)
        parse = expect.read(self.domain, tracker, parse, getattr(self.services, "clinic", None))
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
        if not safe:  # never the same question three times in a row (bot/core/repeats.py)
            utter, extra = repeats.vary(self.domain, tracker, utter)
            for ev in extra:
                tracker.apply(ev)
                new.append(ev)
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
                () if blocked else tuple(rendered.buttons)[: utter.buttons],
                blocked,
            )
        )

    def safe_reply(self, message: UserMessage) -> list[OutgoingMessage]:
        """The fixed "technical problem" text through the gate, outside the conversation (a channel's
        final failure of a message)."""
        return self._safe_reply(message)

    def _safe_reply(self, message: UserMessage) -> list[OutgoingMessage]:
        """The safe error response through the gate, for a conversation that cannot be loaded."""
        return self._fixed_reply(message, SAFE_ERROR_RESPONSE)

    def _fixed_reply(self, message: UserMessage, response: str) -> list[OutgoingMessage]:
        """One registered response through the gate, outside any stored conversation."""
        tracker = Tracker(message.sender_id)
        tracker.flow_state = tuple(self.flow.initial)
        outgoing: list[OutgoingMessage] = []
        try:
            self._utter(tracker, [], outgoing, message, Utter(response), safe=True)
        except Exception:
            log.exception("dialogue.safe_reply_failed", extra={"sender": log_pseudonym(message.sender_id)})
            return []
        return outgoing

    def data_blocked(self, sender_id: str) -> bool:
        """Whether the patient's data are blocked by an ARCO cancellation (then nothing is processed)."""
        arco = getattr(self.services, "arco", None)
        if arco is None or not hasattr(arco, "is_blocked"):
            return False
        try:
            return bool(arco.is_blocked(self.services.patient_ref(sender_id)))
        except Exception as e:  # the turn itself will meet the same outage and answer safely
            log.error("dialogue.blocked_check_failed", extra={"error": type(e).__name__})
            return False

    def _load(self, sender_id: str) -> Tracker:
        return Tracker.from_dicts(sender_id, self.tracker_store.load(sender_id))

    def _load_turn(self, sender_id: str) -> tuple[Tracker, Any]:
        """The tracker for a patient turn: resumed from :attr:`trackers` when the store allows it."""
        if self.trackers is not None and hasattr(self.tracker_store, "load_after"):
            return resume.load(self.trackers, self.tracker_store, sender_id)  # type: ignore[arg-type]
        return self._load(sender_id), None

    def _save_turn(self, tracker: Tracker, events: list[dict[str, Any]], position: Any) -> None:
        if position is not None and self.trackers is not None:
            resume.save(self.trackers, self.tracker_store, tracker, events, position)  # type: ignore[arg-type]
        else:
            self.tracker_store.append(tracker.sender_id, events)
