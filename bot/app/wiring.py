"""The composition root: reads the project's files and builds the processor with its real backends.

Everything that can be misconfigured is built here, at start-up, so a bad file or an unreachable server
stops the process with a clear message instead of failing on the first patient's message.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import settings
from bot.core.domain import Domain, load_domain
from bot.core.events import HandoffEnded
from bot.core.processor import AgentReply, AgentTextRefused, OutgoingMessage, Processor
from bot.core.resume import TrackerCache
from bot.errors import ConfigError
from bot.flow.runtime import Flow
from bot.nlg.templates import TemplateRenderer


@dataclass
class ClinicServices:
    """The ports actions use (see bot.core.dialogue.Services)."""

    clinic: Any
    appointments: Any
    consent: Any
    audit: Any
    arco: Any
    keyring: Any
    _refs: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def patient_ref(self, sender_id: str) -> str:
        """A keyed hash of the canonical phone number for a phone channel's sender id (see
        :mod:`bot.core.identity`); of the sender id itself for every other id, so a REST or console
        sender never shares a patient with a phone number, however much it looks like one."""
        with self._lock:
            ref = self._refs.get(sender_id)
        if ref is None:
            from bot.compliance.crypto import canonical_phone
            from bot.core.identity import is_phone_id

            # not a phone: the sender id itself, bracketed so surrounding spaces stay distinct
            key = f"sender:[{sender_id}]"
            if is_phone_id(sender_id):
                with contextlib.suppress(Exception):
                    key = canonical_phone(sender_id)
            ref = str(self.keyring.patient_ref(key))
            with self._lock:
                if len(self._refs) > 100_000:
                    self._refs.clear()
                self._refs[sender_id] = ref
        return ref


class GateAdapter:
    """Adapts bot.guard's DisclosureGate to the processor's port (fail closed on any error)."""

    def __init__(self, gate: Any) -> None:
        self.gate = gate

    def filter(
        self,
        text: str,
        *,
        channel: str,
        provenance: tuple[str, str],
        patient_specific: bool,
        recent: Sequence[str],
    ) -> tuple[str, bool]:
        sent, blocked, _ = self.filter_detailed(
            text, channel=channel, provenance=provenance, patient_specific=patient_specific, recent=recent
        )
        return sent, blocked

    def filter_detailed(
        self,
        text: str,
        *,
        channel: str,
        provenance: tuple[str, str],
        patient_specific: bool,
        recent: Sequence[str],
    ) -> tuple[str, bool, tuple[str, ...]]:
        """Like :meth:`filter`, with the categories that blocked the text (for the agent's answer)."""
        from bot.guard.gate import CLINICAL_REDIRECT, FORM_CATEGORIES, Provenance

        try:
            result = self.gate.filter(
                text,
                channel=channel,
                provenance=Provenance(*provenance),  # type: ignore[arg-type]
                patient_specific=patient_specific,
                recent=recent,
            )
            categories = tuple(result.verdict.categories) if result.blocked else ()
            if result.blocked and provenance[0] == "agent" and set(categories) <= FORM_CATEGORIES:
                return "", True, categories  # staff wrote it in a form that may not go out: send nothing
            return result.text, result.blocked, categories
        except Exception:
            return CLINICAL_REDIRECT, True, ("gate_error",)


def clinic_globals(clinic: Any) -> dict[str, str]:
    services = clinic.services
    return {
        "clinic_name": clinic.name,
        "clinic_address": clinic.address,
        "clinic_phone": clinic.phone,
        "clinic_hours": clinic.hours_text(),
        "services_list": ", ".join(s.name.lower() for s in services),
        "prices_list": "; ".join(f"{s.name}: {clinic.format_price(s.price)}" for s in services),
        "portal_url": clinic.portal_url,
        "privacy_url": clinic.privacy_notice_url,
        "maps_url": clinic.maps_url or clinic.address,
        "emergency_phone": clinic.emergency_phone or "911",
    }


def load_config(project: Path) -> dict[str, Any]:
    path = project / "config.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"config.yml not found in {project}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: must be a mapping")
    return dict(data)


def load_flow(domain: Domain, action_names: Sequence[str]) -> Flow:
    from flows.clinic import PHASES, ClinicFlow

    flow = Flow(ClinicFlow, PHASES)
    flow.check(domain, action_names)
    return flow


@dataclass
class AppState:
    processor: Processor
    interpreter: Any
    services: ClinicServices
    closers: list[Any] = field(default_factory=list)
    directory: Any = None  # bot.inbox.directory.Directory: the agents' view of conversations

    def conversation(self, conversation_id: str) -> Any:
        """The conversation behind an opaque id (bot.inbox.directory.Conversation); LookupError if none."""
        found = self.directory.get(conversation_id) if self.directory is not None else None
        if found is None:
            raise LookupError("no such conversation (use the id from GET /agent/conversations)")
        return found

    def hand_back(
        self, sender_id: str, agent: str, *, channel: str = "rest", notify: bool = True
    ) -> list[OutgoingMessage]:
        """The conversation returns to the assistant, which resumes the phase it left.

        ``notify``: tell the patient (``utter_handoff_back``, rendered and gated for ``channel``); without
        it nothing is sent (e.g. the WhatsApp window is closed).
        """
        tracker = self.processor.tracker(sender_id)
        if not tracker.in_handoff:
            raise LookupError("this conversation is not waiting for a person")
        self.services.audit.append(
            f"staff:{agent}", "handoff.ended", f"patient:{self.services.patient_ref(sender_id)}", {}
        )
        from bot.core.dialogue import Utter

        return self.processor.apply_external(
            sender_id,
            [HandoffEnded(agent=agent)],
            flow_event="agent_resolved",
            utters=[Utter("utter_handoff_back")] if notify else [],
            channel=channel,
        )

    def agent_say(self, sender_id: str, agent: str, text: str) -> AgentReply:
        """A person in the shared inbox writes to the patient: through the gate, recorded encrypted.

        LookupError (NotInHandoffError) when the conversation is not in handoff.
        """
        ref = self.services.patient_ref(sender_id)
        try:
            reply = self.processor.agent_message(sender_id, agent, text)
        except AgentTextRefused as e:
            self.services.audit.append(f"staff:{agent}", "agent.message_refused", f"patient:{ref}",
                                       {"categories": list(e.categories)})
            raise
        self.services.audit.append(
            f"staff:{agent}", "agent.message", f"patient:{ref}",
            {"blocked": reply.blocked, "categories": list(reply.categories)},
        )  # fmt: skip
        return reply

    def transcript(self, conversation_id: str, agent: str) -> dict[str, Any]:
        """The decrypted conversation for a member of staff; the access is audited first."""
        from bot.inbox.directory import transcript

        conversation = self.conversation(conversation_id)
        tracker = self.processor.tracker(conversation.sender_id)
        items = transcript(tracker.events)
        self.services.audit.append(
            f"staff:{agent}", "transcript.viewed", f"patient:{conversation.id}", {"items": len(items)}
        )
        return {
            "id": conversation.id,
            "channel": conversation.channel,
            "phase": tracker.phase,
            "in_handoff": tracker.in_handoff,
            "messages": items,
        }

    def close(self) -> None:
        for closer in self.closers:
            closer()


def check_fixed_texts(gate: Any, domain: Domain, extra: Mapping[str, str] | None = None) -> None:
    """Fixed clinic texts sent without passing the gate at run time — button titles (appended to gated
    replies or sent as template variables) and e.g. the media acknowledgement — are checked once, here:
    one the gate would block stops start-up."""
    problems: list[str] = []
    texts = [
        (f"domain.yml response {name}, button title", str(button.get("title", "")))
        for name, spec in domain.responses.items()
        for variation in spec.variations
        for button in variation.buttons
    ]
    texts += list((extra or {}).items())
    for where, text in texts:
        categories = gate.check(text, channel="whatsapp").categories
        if categories:
            problems.append(f"{where} {text!r} ({', '.join(categories)})")
    if problems:
        raise ConfigError(
            "fixed texts that the disclosure gate would block over WhatsApp: " + "; ".join(problems)
        )


def _media_ack() -> dict[str, str]:
    try:
        from bot.channels.twilio.replies import MEDIA_ACK
    except ImportError:  # the Twilio channel is not installed
        return {}
    return {"the WhatsApp media acknowledgement": MEDIA_ACK}


def channel_erasers() -> list[Any]:
    """What each installed channel keeps per patient, for ARCO erasure (see ArcoService.erasers)."""
    try:
        from bot.channels.twilio.outbox import erase_patient
    except ImportError:  # the Twilio channel is not installed
        return []
    return [erase_patient]


def prepare(project: Path | None = None) -> None:
    """Everything `bot run` must do once before serving: a model to load and a migrated database."""
    from bot import db
    from bot.app.access import check_deployment
    from bot.nlu.model import load_latest

    check_deployment()
    load_latest(settings.models_dir(), train_if_missing=True)
    db.get_engine()  # migrated once here, before the workers start


def build_app_state(
    project: Path | None = None,
    *,
    tracker_store: Any = None,
    lock_store: Any = None,
    interpreter: Any = None,
    engine: Any = None,
    clock: Any = None,
) -> AppState:
    from actions import registry
    from bot import db
    from bot.compliance.arco import ArcoService
    from bot.compliance.audit import AuditLog
    from bot.compliance.config import load as load_compliance
    from bot.compliance.consent import ConsentRegistry
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.compliance.transcripts import PseudonymousLockStore, raw_store
    from bot.guard.gate import load_gate
    from bot.inbox.directory import Directory, ErasingBackend, IndexedTrackerStore
    from bot.nlg.paraphrase import Paraphraser
    from bot.nlg.providers import make_provider
    from bot.scheduling.clinic import load_clinic
    from bot.scheduling.repository import AppointmentRepository
    from bot.stores.endpoints import load_endpoints
    from bot.stores.factory import create_lock_store, create_tracker_store
    from policies import build_policies

    project = project or settings.project_dir()
    config = load_config(project)
    domain = load_domain(project / "domain.yml")
    actions = registry()
    flow = load_flow(domain, list(actions))
    clinic = load_clinic(project / "clinic.yml")
    endpoints = load_endpoints()
    if interpreter is None:
        from bot.nlu.model import load_latest

        interpreter = load_latest(settings.models_dir(), train_if_missing=True)
    engine = engine or db.get_engine()
    keyring = Keyring.from_env(str(engine.url.render_as_string(hide_password=False)))
    audit = AuditLog.from_env(engine, keyring)  # deployed: no start without BOT_AUDIT_SIGNING_KEY
    from bot.core.pseudonym import set_key as set_log_pseudonym_key  # logs: keyed, stable pseudonyms

    set_log_pseudonym_key(keyring.subkey("bot log-pseudonym v1"))
    cipher = PatientCipher(engine, keyring, audit)
    cipher.warm_up()
    services = ClinicServices(
        clinic=clinic,
        appointments=AppointmentRepository(engine, clinic, cipher=cipher, audit=audit),
        consent=ConsentRegistry(engine, audit, cipher=cipher),
        audit=audit,
        arco=ArcoService(engine, audit, load_compliance()),
        keyring=keyring,
    )

    def on_block(record: Mapping[str, Any]) -> None:
        audit.append("gate", "disclosure.blocked", "outbound", dict(record))

    gate = load_gate(project, registered_responses=list(domain.responses), on_block=on_block)
    check_fixed_texts(gate, domain, _media_ack())
    provider = make_provider(endpoints.get("llm"))
    paraphraser = None
    if provider is not None:
        paraphraser = Paraphraser(provider, gate_check=lambda text: not gate.check(text).categories)
    # At rest, conversations are keyed by the patient reference and every event is encrypted under the
    # patient's data key (bot.compliance.transcripts); locks are keyed the same way.
    backend = create_tracker_store(
        raw_store(tracker_store) if tracker_store is not None else endpoints.get("tracker_store")
    )
    directory = Directory(engine, cipher, services.patient_ref)
    trackers = IndexedTrackerStore(backend, cipher, services.patient_ref, directory)
    services.patient_ref("+525500000000")  # loads the phone-number metadata now, not on a first message
    # ARCO erasure deletes the patient's conversation too, and its line in the agents' inbox
    services.arco.transcripts = ErasingBackend(backend, directory)
    services.arco.erasers.extend(channel_erasers())
    locks = PseudonymousLockStore(
        create_lock_store(raw_store(lock_store) if lock_store is not None else endpoints.get("lock_store")),
        services.patient_ref,
    )
    processor = Processor(
        domain=domain,
        flow=flow,
        policies=build_policies(config.get("policies") or []),
        actions=actions,
        interpreter=interpreter,
        tracker_store=trackers,
        lock_store=locks,
        renderer=TemplateRenderer(domain, clinic_globals(clinic)),
        gate=GateAdapter(gate),
        services=services,
        paraphraser=paraphraser,
        trackers=TrackerCache.from_env(),
    )
    if clock is not None:
        processor.clock = clock
    closers = [trackers.close, locks.close, audit.close]  # audit last: its shutdown checkpoint
    if paraphraser is not None:
        closers.append(paraphraser.close)
    return AppState(processor, interpreter, services, closers, directory)
