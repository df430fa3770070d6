"""The composition root: reads the project's files and builds the processor with its real backends.

Everything that can be misconfigured is built here, at start-up, so a bad file or an unreachable server
stops the process with a clear message instead of failing on the first patient's message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import settings
from bot.app.state import AppState, ClinicServices
from bot.core.domain import Domain, load_domain
from bot.core.resume import TrackerCache
from bot.errors import ConfigError
from bot.flow.runtime import Flow
from bot.nlg.templates import TemplateRenderer


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
    from bot.config_files import CONFIG_FILE, load_mapping

    return load_mapping(project / "config.yml", CONFIG_FILE)


def load_flow(domain: Domain, action_names: Sequence[str]) -> Flow:
    from flows.clinic import PHASES, ClinicFlow

    flow = Flow(ClinicFlow, PHASES)
    flow.check(domain, action_names)
    return flow


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


@dataclass
class _Security:
    """The keys, the audit log and the per-patient cipher: what every other part is built on."""

    keyring: Any
    audit: Any
    cipher: Any


def _security(engine: Any) -> _Security:
    from bot.compliance.audit import AuditLog
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.core.pseudonym import set_key as set_log_pseudonym_key

    keyring = Keyring.from_env(str(engine.url.render_as_string(hide_password=False)))
    audit = AuditLog.from_env(engine, keyring)  # deployed: no start without BOT_AUDIT_SIGNING_KEY
    set_log_pseudonym_key(keyring.subkey("bot log-pseudonym v1"))  # logs: keyed, stable pseudonyms
    cipher = PatientCipher(engine, keyring, audit)
    cipher.warm_up()
    return _Security(keyring, audit, cipher)


def _services(engine: Any, clinic: Any, sec: _Security) -> ClinicServices:
    from bot.compliance.arco import ArcoService
    from bot.compliance.config import load as load_compliance
    from bot.compliance.consent import ConsentRegistry
    from bot.scheduling.repository import AppointmentRepository

    return ClinicServices(
        clinic=clinic,
        appointments=AppointmentRepository(engine, clinic, cipher=sec.cipher, audit=sec.audit),
        consent=ConsentRegistry(engine, sec.audit, cipher=sec.cipher),
        audit=sec.audit,
        arco=ArcoService(engine, sec.audit, load_compliance()),
        keyring=sec.keyring,
    )


def _gate(project: Path, domain: Domain, audit: Any) -> Any:
    """The disclosure gate (every block audited); fixed texts it would block stop start-up."""
    from bot.app.observability import BLOCK_CATEGORIES
    from bot.guard.gate import load_gate
    from bot.metrics import gate_blocked

    def on_block(record: Mapping[str, Any]) -> None:
        audit.append("gate", "disclosure.blocked", "outbound", dict(record))
        gate_blocked(record.get("categories"), BLOCK_CATEGORIES)  # bot.metrics: closed label set

    gate = load_gate(project, registered_responses=list(domain.responses), on_block=on_block)
    check_fixed_texts(gate, domain, _media_ack())
    return gate


def _paraphraser(endpoints: Mapping[str, Any], gate: Any) -> Any:
    """The LLM paraphraser, or None (``llm: none``): it sees templates only, and the gate checks it."""
    from bot.nlg.paraphrase import Paraphraser
    from bot.nlg.providers import make_provider

    provider = make_provider(endpoints.get("llm"))
    if provider is None:
        return None
    return Paraphraser(provider, gate_check=lambda text: not gate.check(text).categories)


@dataclass
class _Stores:
    trackers: Any
    locks: Any
    directory: Any


def _stores(engine: Any, services: ClinicServices, cipher: Any, endpoints: Mapping[str, Any],
            tracker_store: Any, lock_store: Any) -> _Stores:
    """Conversations keyed by the patient reference, every event encrypted under the patient's data key
    (bot.compliance.transcripts), indexed for the agents' inbox; locks keyed the same way. ARCO erasure
    deletes a patient's conversation, inbox line and channel rows."""
    from bot.compliance.transcripts import PseudonymousLockStore, raw_store
    from bot.inbox.directory import Directory, ErasingBackend, IndexedTrackerStore
    from bot.stores.factory import create_lock_store, create_tracker_store

    backend = create_tracker_store(
        raw_store(tracker_store) if tracker_store is not None else endpoints.get("tracker_store")
    )
    directory = Directory(engine, cipher, services.patient_ref)
    trackers = IndexedTrackerStore(backend, cipher, services.patient_ref, directory)
    services.patient_ref("+525500000000")  # loads the phone-number metadata now, not on a first message
    services.arco.transcripts = ErasingBackend(backend, directory)
    services.arco.erasers.extend(channel_erasers())
    locks = PseudonymousLockStore(
        create_lock_store(raw_store(lock_store) if lock_store is not None else endpoints.get("lock_store")),
        services.patient_ref,
    )
    return _Stores(trackers, locks, directory)


def build_app_state(
    project: Path | None = None,
    *,
    tracker_store: Any = None,
    lock_store: Any = None,
    interpreter: Any = None,
    engine: Any = None,
    clock: Any = None,
) -> AppState:
    """The assistant with its real backends, built from the project's files (tests pass ready parts)."""
    from actions import registry
    from bot import db
    from bot.app.observability import InstrumentedProcessor
    from bot.scheduling.clinic_loader import load_clinic
    from bot.stores.endpoints import load_endpoints
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
    sec = _security(engine)
    services = _services(engine, clinic, sec)
    gate = _gate(project, domain, sec.audit)
    paraphraser = _paraphraser(endpoints, gate)
    stores = _stores(engine, services, sec.cipher, endpoints, tracker_store, lock_store)
    processor = InstrumentedProcessor(  # a Processor whose turns are counted (bot.app.observability)
        domain=domain,
        flow=flow,
        policies=build_policies(config.get("policies") or []),
        actions=actions,
        interpreter=interpreter,
        tracker_store=stores.trackers,
        lock_store=stores.locks,
        renderer=TemplateRenderer(domain, clinic_globals(clinic)),
        gate=GateAdapter(gate),
        services=services,
        paraphraser=paraphraser,
        trackers=TrackerCache.from_env(),
    )
    if clock is not None:
        processor.clock = clock
    closers = [stores.trackers.close, stores.locks.close, sec.audit.close]  # audit last: its checkpoint
    if paraphraser is not None:
        closers.append(paraphraser.close)
    return AppState(processor, interpreter, services, closers, stores.directory)
