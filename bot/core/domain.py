"""domain.yml: intents, entities, slots (each with a sensitivity), responses (each with a paraphrase flag).

Loading validates the promises that can be checked before any conversation happens: a response bound for
an unencrypted channel may not use a ``clinical`` slot (promise 3); every ``{placeholder}`` in a template
is a declared slot or variable; slot mappings name declared entities and intents.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.config_files import load_mapping
from bot.errors import DomainError

Sensitivity = Literal["public", "personal", "clinical"]
SENSITIVITIES: tuple[str, ...] = ("public", "personal", "clinical")
SLOT_TYPES = ("text", "bool", "float", "list", "categorical", "any")
#: The only channels that may carry clinical content (an allow-list: every other channel name — whatsapp,
#: twilio_whatsapp, sms, rest, console, or one added later — counts as unencrypted).
CLINICAL_CHANNELS = frozenset({"portal"})


@dataclass(frozen=True)
class SlotSpec:
    name: str
    type: str
    sensitivity: Sensitivity
    mappings: tuple[Mapping[str, Any], ...] = ()
    initial_value: Any = None


@dataclass(frozen=True)
class Variation:
    text: str
    channel: str | None = None
    buttons: tuple[Mapping[str, str], ...] = ()

    @property
    def placeholders(self) -> frozenset[str]:
        names = {f for _, f, _, _ in string.Formatter().parse(self.text) if f}
        return frozenset(n.split(".")[0].split("[")[0] for n in names)


#: What an asking response may declare it expects (``expects:``); bot/core/expect.py has one reader each.
EXPECTS = ("service", "person", "time", "choice", "yes_no", "consent", "appointment")


@dataclass(frozen=True)
class ResponseSpec:
    name: str
    variations: tuple[Variation, ...]
    paraphrase: bool = False
    patient_specific: bool = False
    expects: str | None = None  # what an asking response waits for (bot/core/expect.py reads it)

    def for_channel(self, channel: str) -> tuple[Variation, ...]:
        specific = tuple(v for v in self.variations if v.channel == channel)
        return specific or tuple(v for v in self.variations if v.channel is None)


@dataclass(frozen=True)
class Domain:
    intents: tuple[str, ...]
    entities: tuple[str, ...]
    slots: Mapping[str, SlotSpec]
    responses: Mapping[str, ResponseSpec]
    variables: Mapping[str, Sensitivity] = field(default_factory=dict)
    actions: tuple[str, ...] = ()

    def sensitivity_of(self, name: str) -> Sensitivity:
        if name in self.slots:
            return self.slots[name].sensitivity
        return self.variables[name]


def _fail(where: str, msg: str) -> DomainError:
    return DomainError(f"domain.yml: {where}: {msg}")


def _parse_slot(name: str, raw: Any) -> SlotSpec:
    if not isinstance(raw, Mapping):
        raise _fail(f"slot {name!r}", "must be a mapping with type, sensitivity and mappings")
    stype = raw.get("type", "any")
    if stype not in SLOT_TYPES:
        raise _fail(f"slot {name!r}", f"unknown type {stype!r}; supported: {', '.join(SLOT_TYPES)}")
    sensitivity = raw.get("sensitivity")
    if sensitivity not in SENSITIVITIES:
        raise _fail(f"slot {name!r}", f"sensitivity must be one of {', '.join(SENSITIVITIES)}")
    mappings = raw.get("mappings", [])
    if not isinstance(mappings, list) or not all(isinstance(m, Mapping) for m in mappings):
        raise _fail(f"slot {name!r}", "mappings must be a list of mappings")
    return SlotSpec(name, stype, sensitivity, tuple(mappings), raw.get("initial_value"))


MAX_BUTTONS = 10  # Twilio quick replies: 10 in approved templates, 3 in-session (the channel checks)
MAX_BUTTON_TITLE = 20  # WhatsApp's limit for a quick-reply button title
MAX_BUTTON_PAYLOAD = 256


def _parse_buttons(name: str, raw: Any) -> tuple[Mapping[str, str], ...]:
    """Rasa's ``buttons: [{title, payload}]``; the payload is what the dialogue receives when tapped."""
    if raw is None:
        return ()
    where = f"response {name!r}"
    if not isinstance(raw, list) or not raw or len(raw) > MAX_BUTTONS:
        raise _fail(where, f"buttons must be a list of 1 to {MAX_BUTTONS} {{title, payload}} mappings")
    buttons = []
    for button in raw:
        if not isinstance(button, Mapping) or set(button) - {"title", "payload"}:
            raise _fail(where, "every button is a mapping with `title` and `payload` only")
        title, payload = button.get("title"), button.get("payload")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_BUTTON_TITLE:
            raise _fail(where, f"button titles are non-empty strings of at most {MAX_BUTTON_TITLE} chars")
        if not isinstance(payload, str) or not payload.strip() or len(payload) > MAX_BUTTON_PAYLOAD:
            raise _fail(where, f"button payloads are non-empty strings of at most {MAX_BUTTON_PAYLOAD} chars")
        buttons.append({"title": title, "payload": payload})
    return tuple(buttons)


def _parse_response(name: str, raw: Any) -> ResponseSpec:
    flags: Mapping[str, Any] = {}
    if isinstance(raw, Mapping):  # our extended form: {paraphrase, patient_specific, variations}
        flags, raw = raw, raw.get("variations")
    if not isinstance(raw, list) or not raw:
        raise _fail(f"response {name!r}", "needs a non-empty list of variations")
    variations = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("text"), str) or not item["text"].strip():
            raise _fail(f"response {name!r}", "every variation needs a non-empty `text`")
        buttons = _parse_buttons(name, item.get("buttons"))
        variations.append(Variation(item["text"], item.get("channel"), buttons))
    unknown = set(flags) - {"paraphrase", "patient_specific", "variations", "expects"}
    if unknown:
        raise _fail(f"response {name!r}", f"unknown keys {sorted(unknown)}")
    expects = flags.get("expects")
    if expects is not None and expects not in EXPECTS:
        raise _fail(f"response {name!r}", f"expects {expects!r}; supported: {', '.join(EXPECTS)}")
    return ResponseSpec(
        name,
        tuple(variations),
        bool(flags.get("paraphrase", False)),
        bool(flags.get("patient_specific", False)),
        expects,
    )


def parse_domain(data: Mapping[str, Any]) -> Domain:
    intents = tuple(str(i) if not isinstance(i, Mapping) else next(iter(i)) for i in data.get("intents", []))
    entities = tuple(str(e) for e in data.get("entities", []))
    slots = {name: _parse_slot(name, raw) for name, raw in (data.get("slots") or {}).items()}
    responses = {name: _parse_response(name, raw) for name, raw in (data.get("responses") or {}).items()}
    variables: dict[str, Sensitivity] = {}
    for name, sens in (data.get("variables") or {}).items():
        if sens not in SENSITIVITIES:
            raise _fail(f"variable {name!r}", f"sensitivity must be one of {', '.join(SENSITIVITIES)}")
        variables[name] = sens
    domain = Domain(intents, entities, slots, responses, variables, tuple(data.get("actions") or ()))
    validate_domain(domain)
    return domain


def validate_domain(domain: Domain) -> None:
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            kind = mapping.get("type")
            if kind == "from_entity" and mapping.get("entity") not in domain.entities:
                raise _fail(f"slot {slot.name!r}", f"maps from undeclared entity {mapping.get('entity')!r}")
            for intent in mapping.get("intent", []) if isinstance(mapping.get("intent"), list) else []:
                if intent not in domain.intents:
                    raise _fail(f"slot {slot.name!r}", f"mapping names undeclared intent {intent!r}")
    for response in domain.responses.values():
        for variation in response.variations:
            for name in variation.placeholders:
                if name not in domain.slots and name not in domain.variables:
                    raise _fail(f"response {response.name!r}", f"uses undeclared slot or variable {{{name}}}")
                channel = variation.channel or "whatsapp"
                if domain.sensitivity_of(name) == "clinical" and channel not in CLINICAL_CHANNELS:
                    raise _fail(
                        f"response {response.name!r}",
                        f"uses clinical slot {{{name}}} and would be sent over {channel}; clinical data may "
                        "only be shown in the authenticated portal (channel: portal)",
                    )


def load_domain(path: Path) -> Domain:
    return parse_domain(load_mapping(path, "intents, slots and responses", error=DomainError))
