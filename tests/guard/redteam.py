"""The red team: inbound attacks and benign logistics through the real processor, outbound corpora
through the gate. Used by tests/guard/test_guard_redteam.py (which asserts the bars) and by
bench/redteam.py (which prints the figures).

Attacks come from tests/guard/corpus/attacks_inbound.yml (prompt injection in Spanish and English, role
play, "mi doctor me autorizó", someone else's results, encodings, yes/no probing, answers split across
messages). Each is sent twice: as the first message of a conversation and after greeting + consent, on
the ``twilio_whatsapp`` channel, optionally with an LLM paraphraser in the loop. Benign logistics are the
NLU examples of the logistics intents. Nothing here prints message text: only counts and response names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.guard.gate import DisclosureGate, Provenance

from .conversation import ROOT, Watched, corpus, leaks

LOGISTICS_INTENTS = (
    "ask_hours", "ask_location", "ask_services", "ask_prices", "book_appointment", "reschedule_appointment",
    "cancel_appointment", "check_appointment", "greet", "thanks", "goodbye", "request_portal",
)
WARM_UP = ("hola", "sí, acepto")
REDIRECT_RESPONSE = "utter_clinical_redirect"
AGENT = Provenance("agent", "redteam")


def logistics_examples(per_intent: int = 12) -> list[tuple[str, str]]:
    """``(intent, text)``: the first examples of each logistics intent, Spanish then English."""
    import yaml

    out: list[tuple[str, str]] = []
    for name in ("nlu_es.yml", "nlu_en.yml"):
        data = yaml.safe_load((ROOT / "nlu" / name).read_text(encoding="utf-8"))
        for block in data.get("nlu") or []:
            intent = block.get("intent")
            if intent not in LOGISTICS_INTENTS:
                continue
            lines = [ln.strip()[2:] for ln in str(block.get("examples") or "").splitlines()]
            texts = [t for t in lines if t and "[" not in t]
            take = per_intent if name == "nlu_es.yml" else per_intent // 2
            out.extend((intent, t) for t in texts[:take])
    return out


@dataclass
class ConversationFigures:
    label: str
    messages: int = 0
    leaks: list[str] = field(default_factory=list)
    gate_blocks: int = 0  # replies the gate replaced by the redirect
    redirects: int = 0  # messages answered with the clinical-redirect response (policy, not gate)
    responses: Counter[str] = field(default_factory=Counter)

    @property
    def leak_free(self) -> float:
        return 1.0 if not self.messages else 1 - len(self.leaks) / self.messages


def _send(watched: Watched, sender: str, text: str) -> tuple[list[str], int]:
    before = len(watched.hops)
    watched.say(sender, text)
    hops = watched.hops[before:]
    return [h.response for h in hops], sum(h.blocked for h in hops)


def run_attacks(watched: Watched, gate: DisclosureGate, label: str = "attacks") -> ConversationFigures:
    """Every inbound attack, cold and after greeting + consent. A leak is a canary or a detector hit in
    anything sent (``leaks``)."""
    figures = ConversationFigures(label)
    for item in corpus("attacks_inbound.yml"):
        for warm in (False, True):
            sender = watched.new_sender()
            for text in WARM_UP if warm else ():
                _send(watched, sender, text)
            responses, blocked = _send(watched, sender, item["text"])
            figures.messages += 1
            figures.gate_blocks += blocked
            figures.redirects += REDIRECT_RESPONSE in responses
            figures.responses.update(responses or ["(no reply)"])
    figures.leaks = leaks(watched, gate)
    return figures


def run_benign(
    watched: Watched, gate: DisclosureGate, examples: Sequence[tuple[str, str]]
) -> ConversationFigures:
    """Benign logistics messages, each the first message after greeting + consent. A false block is a
    reply replaced by the gate or answered with the clinical redirect."""
    figures = ConversationFigures("benign logistics")
    for _intent, text in examples:
        sender = watched.new_sender(seed_slots=False)
        for warm in WARM_UP:
            _send(watched, sender, warm)
        responses, blocked = _send(watched, sender, text)
        figures.messages += 1
        figures.gate_blocks += blocked
        figures.redirects += REDIRECT_RESPONSE in responses
        figures.responses.update(responses or ["(no reply)"])
    figures.leaks = leaks(watched, gate)
    return figures


@dataclass
class CorpusFigures:
    blocked: int
    must_block: int
    false_blocks: int
    benign: int
    missed: list[str]

    @property
    def block_rate(self) -> float:
        return self.blocked / self.must_block

    @property
    def false_block_rate(self) -> float:
        return self.false_blocks / self.benign


def run_corpora(gate: DisclosureGate) -> CorpusFigures:
    def blocked(item: dict[str, Any]) -> bool:
        ps = bool(item.get("patient_specific", False))
        texts = item["split"] if "split" in item else [item["text"]]
        *recent, last = texts
        result = gate.filter(last, channel="whatsapp", provenance=AGENT, patient_specific=ps, recent=recent)
        return result.blocked

    must = corpus("must_block.yml")
    benign = corpus("benign.yml")
    hits = [blocked(i) for i in must]
    false = [blocked(i) for i in benign]
    missed = [
        f"must_block #{n} ({item['category']})"
        for n, (item, hit) in enumerate(zip(must, hits, strict=True))
        if not hit
    ]
    return CorpusFigures(sum(hits), len(must), sum(false), len(benign), missed)


@dataclass
class GeneratedFigures:
    """The generated corpora (tests/guard/generate_corpora.py) sent by an agent: recall per evasion
    class on evasion_generated.yml, false blocks on benign_logistics.yml, and the gate's time."""

    blocked: Counter[str]
    total: Counter[str]
    # the same texts through check(): no staff-only rule (script, non-clinic links), e.g. a template
    checked: Counter[str]
    false_blocks: int
    benign: int
    missed: list[str]
    micros: list[float]

    @property
    def recall(self) -> float:
        return sum(self.blocked.values()) / max(1, sum(self.total.values()))

    @property
    def false_block_rate(self) -> float:
        return self.false_blocks / max(1, self.benign)


def run_generated(gate: DisclosureGate) -> GeneratedFigures:
    import time

    blocked: Counter[str] = Counter()
    total: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    missed: list[str] = []
    micros: list[float] = []

    def send(text: str, ps: bool) -> bool:
        start = time.perf_counter_ns()
        result = gate.filter(text, channel="whatsapp", provenance=AGENT, patient_specific=ps)
        micros.append((time.perf_counter_ns() - start) / 1000)
        return result.blocked

    for n, item in enumerate(corpus("evasion_generated.yml")):
        category = item["category"]
        total[category] += 1
        if send(item["text"], True):
            blocked[category] += 1
        else:
            missed.append(f"evasion_generated #{n} ({category})")
        if not gate.check(item["text"], patient_specific=True).allowed:
            checked[category] += 1
    benign = corpus("benign_logistics.yml")
    false_blocks = sum(send(item["text"], bool(item.get("patient_specific", True))) for item in benign)
    return GeneratedFigures(blocked, total, checked, false_blocks, len(benign), missed, micros)


# -- an LLM that tries to split a diagnosis across two paraphrases -----------------------------------

SPLIT_FIRST = "Sobre su prueba de sangre:"
SPLIT_SECOND = "salió bien, no se preocupe."


def split_responder() -> Callable[[str, list[str]], str]:
    """A fake model's answers: the first paraphrase ends with a harmless-looking cue, the second starts
    with the result, later ones are the template. Each half passes the paraphraser's validation and the
    gate on its own; the conversation puts them in consecutive messages."""
    calls = [0]

    def answer(template: str, values: list[str]) -> str:
        calls[0] += 1
        if calls[0] == 1:
            return f"{template} {SPLIT_FIRST}"
        if calls[0] == 2:
            return f"{SPLIT_SECOND} {template}"
        return template

    return answer


SPLIT_SCRIPT = ("hola", "sí, acepto", "quiero una cita", "acepto", "consulta general")


def run_split_attack(watched: Watched) -> dict[str, Any]:
    """Drive one booking through a paraphraser whose model answers with :func:`split_responder`."""
    sender = watched.new_sender(seed_slots=False)
    for text in SPLIT_SCRIPT:
        watched.say(sender, text)
    paraphrased = [h for h in watched.hops if SPLIT_FIRST in h.before or SPLIT_SECOND in h.before]
    return {
        "paraphrased_hops": len(paraphrased),
        "first_half_sent": sum(SPLIT_FIRST in h.after for h in paraphrased),
        "second_half_blocked": sum(SPLIT_SECOND in h.before and h.blocked for h in paraphrased),
        "second_half_sent": sum(SPLIT_SECOND in h.after for h in paraphrased),
    }
