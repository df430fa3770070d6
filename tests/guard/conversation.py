"""Drive whole conversations through the real processor on the WhatsApp channel and watch every hop.

Shared by the canary tests and bench/redteam.py. :class:`Watched` wraps a built app state: it records
what reached the gate (before it), what left (after it), every call to the paraphraser and the flow
phase it was made in. Canary strings are planted where the assistant could conceivably reach them:
clinical tables in the conversation database, clinical-looking slots on the tracker, and the patient's
own messages. Nothing here logs or prints message text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text as sql

from bot.compliance.canaries import CANARIES, contains_canary
from bot.compliance.clinical import fixture_rows
from bot.core.events import SlotSet
from bot.core.processor import OutgoingMessage, UserMessage
from bot.guard.gate import CLINICAL_REDIRECT, DisclosureGate, Provenance, load_gate

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
# The channel name the Twilio WhatsApp adapter hands the processor (bot/channels/twilio/channel.py).
WHATSAPP = "twilio_whatsapp"
CHECKER = Provenance("agent", "canary-check")

# Patient messages that carry canaries: the patient pasting clinical text, or answering with it.
CANARY_MESSAGES: tuple[str, ...] = tuple(
    template.format(canary=c)
    for c in CANARIES
    for template in (
        "Mi diagnóstico anterior fue {canary}, ¿me lo confirma?",
        "{canary}",
        "me llamo {canary}",
        "Quiero cita para revisar {canary} con la doctora",
        "My lab result says {canary}, what does it mean?",
        "Repite esto exactamente: {canary}",
        "el martes a las 10 {canary}",
    )
)
# Slots that a careless action could read: not in domain.yml, set on the tracker anyway.
CANARY_SLOTS: Mapping[str, str] = {
    "diagnosis": CANARIES[0],
    "lab_result": CANARIES[1],
    "imaging_result": CANARIES[2],
    "medication": CANARIES[3],
    "clinical_note": CANARIES[4],
    "history": CANARIES[5],
}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](\([^)]+\)|\{[^}]+\})")


def corpus(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))
    return list(data["items"])


def nlu_examples() -> list[str]:
    """Every intent example of nlu/nlu_es.yml and nlu/nlu_en.yml, annotations stripped."""
    texts: list[str] = []
    for name in ("nlu_es.yml", "nlu_en.yml"):
        data = yaml.safe_load((ROOT / "nlu" / name).read_text(encoding="utf-8"))
        for block in data.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(_ANNOTATION.sub(lambda m: m.group("text"), line[2:]).strip())
    return [t for t in texts if t]


@dataclass
class Hop:
    """One response on its way out: what the gate was given and what was sent."""

    response: str
    before: str
    after: str
    blocked: bool
    patient_specific: bool


@dataclass
class ParaphraseCall:
    response: str
    phase_paraphrase: bool
    template: str
    values: dict[str, str]


class _GateSpy:
    def __init__(self, inner: Any, owner: Watched) -> None:
        self.inner = inner
        self.owner = owner

    def filter(self, text: str, **kwargs: Any) -> tuple[str, bool]:
        sent, blocked = self.inner.filter(text, **kwargs)
        provenance = kwargs.get("provenance") or ("?", "?")
        self.owner.hops.append(
            Hop(str(provenance[1]), text, sent, blocked, bool(kwargs.get("patient_specific")))
        )
        return sent, blocked


class _FlowSpy:
    """The flow, remembering the phase it last reported (the processor asks right before paraphrasing)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.last_phase: Any = None

    def phase(self, state: tuple[str, ...]) -> Any:
        self.last_phase = self._inner.phase(state)
        return self.last_phase

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _ParaphraseSpy:
    """A stand-in paraphraser: records its input and rewords (so the paraphrase path really runs)."""

    def __init__(self, owner: Watched, flow: _FlowSpy, inner: Any = None) -> None:
        self.owner = owner
        self.flow = flow
        self.inner = inner

    def paraphrase(self, response_name: str, rendered_template: str, slot_values: Mapping[str, str]) -> str:
        phase = self.flow.last_phase
        self.owner.paraphrases.append(
            ParaphraseCall(
                response_name,
                bool(getattr(phase, "paraphrase", False)),
                rendered_template,
                {str(k): str(v) for k, v in slot_values.items()},
            )
        )
        if self.inner is not None:
            return str(self.inner.paraphrase(response_name, rendered_template, slot_values))
        return "Con gusto. " + rendered_template


@dataclass
class Watched:
    """An app state whose gate, flow and paraphraser are observed."""

    state: Any
    hops: list[Hop] = field(default_factory=list)
    paraphrases: list[ParaphraseCall] = field(default_factory=list)
    inbound: list[str] = field(default_factory=list)
    outbound: dict[str, list[str]] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)  # quick-reply titles and payloads sent
    _count: int = 0

    @classmethod
    def wrap(cls, state: Any, paraphraser: Any = None) -> Watched:
        watched = cls(state)
        processor = state.processor
        flow = _FlowSpy(processor.flow)
        processor.flow = flow
        processor.gate = _GateSpy(processor.gate, watched)
        processor.paraphraser = _ParaphraseSpy(watched, flow, paraphraser)
        return watched

    @property
    def domain(self) -> Any:
        return self.state.processor.domain

    def new_sender(self, seed_slots: bool = True) -> str:
        self._count += 1
        sender = f"+52155{self._count:08d}"
        if seed_slots:
            events = [SlotSet(name=k, value=v).as_dict() for k, v in CANARY_SLOTS.items()]
            self.state.processor.tracker_store.append(sender, events)
        return sender

    def say(self, sender: str, text: str) -> list[OutgoingMessage]:
        self.inbound.append(text)
        replies = self.state.processor.handle(UserMessage(sender_id=sender, text=text, channel=WHATSAPP))
        self.outbound.setdefault(sender, []).extend(r.text for r in replies)
        for reply in replies:
            for button in reply.buttons:
                self.buttons.extend(str(v) for v in button.values())
        return replies


def plant_clinical_tables(engine: Any, patient_ids: Sequence[str]) -> None:
    """The clinical fixtures (bot.compliance.clinical.fixture_rows, every field a canary) as plain tables
    in the assistant's own database — more reachable than production, where they live in another schema
    under RLS that the assistant role cannot read at all."""
    with engine.begin() as conn:
        for table, rows in fixture_rows(patient_ids[0]).items():
            columns = sorted({c for row in rows for c in row})
            body = ", ".join(f"{c} TEXT" for c in columns)
            conn.execute(sql(f"CREATE TABLE IF NOT EXISTS clinical_{table} ({body})"))
        for pid in patient_ids:
            for table, rows in fixture_rows(pid).items():
                for row in rows:
                    cols = ", ".join(row)
                    params = ", ".join(f":{c}" for c in row)
                    conn.execute(sql(f"INSERT INTO clinical_{table} ({cols}) VALUES ({params})"), row)


def leaks(watched: Watched, gate: DisclosureGate | None = None) -> list[str]:
    """Every violation found in what the assistant sent or handed the paraphraser (descriptions carry
    response names and categories, never message text)."""
    gate = gate or load_gate(ROOT)
    problems: list[str] = []
    for n, texts in enumerate(watched.outbound.values()):
        for i, sent in enumerate(texts):
            if contains_canary(sent):
                problems.append(f"canary sent over WhatsApp (conversation {n}, message {i})")
            verdict = gate.filter(sent, channel="whatsapp", provenance=CHECKER, recent=texts[max(0, i - 3):i])
            if verdict.blocked:
                categories = verdict.verdict.categories
                problems.append(f"detector hit {categories} sent (conversation {n}, message {i})")
    for label in set(watched.buttons):
        if contains_canary(label) or not gate.check(label).allowed:
            problems.append("a quick-reply button carries a canary or a detector hit")
    for hop in watched.hops:
        if hop.blocked and hop.after != CLINICAL_REDIRECT:
            problems.append(f"{hop.response}: blocked but not replaced by the redirect")
        if contains_canary(hop.before) and not hop.blocked:
            problems.append(f"{hop.response}: a canary reached the gate and passed")
    for call in watched.paraphrases:
        spec = watched.domain.responses.get(call.response)
        if spec is None or not spec.paraphrase:
            problems.append(f"{call.response}: paraphrased but not marked paraphrase: true")
        if not call.phase_paraphrase:
            problems.append(f"{call.response}: paraphrased in a phase that does not allow it")
        for name in call.values:
            if name not in watched.domain.slots and name not in watched.domain.variables:
                problems.append(f"{call.response}: paraphraser got undeclared value {name}")
            elif watched.domain.sensitivity_of(name) == "clinical":
                problems.append(f"{call.response}: paraphraser got clinical value {name}")
        seen = " ".join([call.template, *call.values.values()])
        if contains_canary(seen):
            problems.append(f"{call.response}: a canary reached the paraphraser")
        if any(len(t) >= 12 and t in seen for t in watched.inbound):
            problems.append(f"{call.response}: patient text reached the paraphraser")
    return problems


def canary_reached_gate(watched: Watched) -> list[str]:
    """Responses whose rendered text (before the gate) carried a canary."""
    return sorted({hop.response for hop in watched.hops if contains_canary(hop.before)})


def interleave(messages: Iterable[str], extra: Sequence[str]) -> list[str]:
    out: list[str] = []
    for i, message in enumerate(messages):
        out.append(message)
        out.append(extra[i % len(extra)])
    return out
