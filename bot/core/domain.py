"""domain.yml (Rasa 3.x's format) plus the sensitivity table beside the disclosure policy.

domain.yml holds intents, entities, actions, slots and responses exactly as Rasa reads them: responses are
lists of variations and the project's flags live in each variation's ``metadata`` (``rephrase`` — Rasa
Pro's name — ``patient_specific``, ``expects``); slots have Rasa's ``mappings`` (``type: custom`` for the
slots actions set). The sensitivity of every slot, and of the values actions and clinic.yml supply to
templates (``variables``), is in ``policies/sensitivity.yml``: loaded with the domain and cross-checked.

Loading validates the promises that can be checked before any conversation happens: every slot has a
sensitivity and every sensitivity names a slot; a response bound for an unencrypted channel may not use a
``clinical`` slot (promise 3); every ``{placeholder}`` in a template is a declared slot or variable; slot
mappings name declared entities and intents.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.config_files import load_mapping
from bot.errors import DomainError

#: Where the sensitivity table lives, relative to the project directory (beside policies/disclosure.yml).
SENSITIVITY_FILE = Path("policies") / "sensitivity.yml"

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
EXPECTS = ("service", "person", "time", "choice", "yes_no", "consent", "appointment", "reminder", "rating",
           "rebook")


@dataclass(frozen=True)
class ResponseSpec:
    name: str
    variations: tuple[Variation, ...]
    paraphrase: bool = False
    patient_specific: bool = False
    expects: str | None = None  # what an asking response waits for (bot/core/expect.py reads it)
    also_expects: str | None = None  # a second detail the same question invites ("ACEPTO y su nombre")

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


#: Rasa's slot mapping types this project fills (bot/core/slots.py); ``custom``: set by actions only.
MAPPING_TYPES = ("from_entity", "from_text", "custom")


#: Slot keys Rasa 3.x accepts (the project reads type, mappings and initial_value).
SLOT_KEYS = frozenset({"type", "mappings", "initial_value", "influence_conversation", "values", "min_value",
                       "max_value"})


def _parse_slot(name: str, raw: Any, sensitivity: Sensitivity) -> SlotSpec:
    where = f"slot {name!r}"
    if not isinstance(raw, Mapping):
        raise _fail(where, "must be a mapping with type and mappings")
    if "sensitivity" in raw:
        where_to = SENSITIVITY_FILE.as_posix()
        raise _fail(where, f"`sensitivity` is not a Rasa slot key: declare it in {where_to}")
    unknown = sorted(str(k) for k in raw if k not in SLOT_KEYS)
    if unknown:
        raise _fail(where, f"unknown keys {unknown}; Rasa's slot keys: {sorted(SLOT_KEYS)}")
    stype = raw.get("type", "any")
    if stype not in SLOT_TYPES:
        raise _fail(where, f"unknown type {stype!r}; supported: {', '.join(SLOT_TYPES)}")
    if "mappings" not in raw:  # Rasa's own wording for the same mistake
        raise _fail(where, f"Cannot find required key 'mappings'. Path: '/slots/{name}' "
                           "(use [{type: custom}] for a slot that actions set)")
    mappings = raw["mappings"]
    if not isinstance(mappings, list) or not mappings or not all(isinstance(m, Mapping) for m in mappings):
        raise _fail(where, "mappings must be a non-empty list of mappings")
    for mapping in mappings:
        if mapping.get("type") not in MAPPING_TYPES:
            raise _fail(where, f"mapping type {mapping.get('type')!r}; supported: {', '.join(MAPPING_TYPES)}")
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


#: Keys of a response variation the project supports (Rasa's names; anything else is refused rather than
#: silently ignored, e.g. Rasa's conditional ``condition`` variations).
VARIATION_KEYS = frozenset({"text", "buttons", "channel", "metadata"})
#: The project's flags, in a variation's ``metadata`` (``rephrase`` is Rasa Pro's name for LLM rewording).
METADATA_KEYS = {"rephrase": bool, "patient_specific": bool, "expects": str, "also_expects": str}


def _parse_metadata(name: str, raw: Any) -> dict[str, Any]:
    where = f"response {name!r}"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _fail(where, "metadata must be a mapping")
    unknown = sorted(str(k) for k in raw if k not in METADATA_KEYS)
    if unknown:
        raise _fail(where, f"unknown metadata keys {unknown}; supported: {', '.join(METADATA_KEYS)}")
    for key, kind in METADATA_KEYS.items():
        if key in raw and not isinstance(raw[key], kind):
            raise _fail(where, f"metadata {key!r} must be {'true or false' if kind is bool else 'a string'}")
    for key in ("expects", "also_expects"):
        expected = raw.get(key)
        if expected is not None and expected not in EXPECTS:
            raise _fail(where, f"{key} {expected!r}; supported: {', '.join(EXPECTS)}")
    if raw.get("also_expects") and not raw.get("expects"):
        raise _fail(where, "also_expects needs expects: the main answer the question waits for")
    return {k: v for k, v in raw.items() if v not in (False, None)}


def _parse_response(name: str, raw: Any) -> ResponseSpec:
    where = f"response {name!r}"
    if isinstance(raw, Mapping):  # the project's former extended form, which Rasa refuses
        raise _fail(where, "must be a list of variations (Rasa's form); put the flags in each variation's "
                           "`metadata: {rephrase: true, patient_specific: true, expects: ...}`")
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "needs a non-empty list of variations")
    variations = []
    flags: dict[str, Any] | None = None
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("text"), str) or not item["text"].strip():
            raise _fail(where, "every variation needs a non-empty `text`")
        unknown = sorted(str(k) for k in item if k not in VARIATION_KEYS)
        if unknown:
            raise _fail(where, f"unsupported variation keys {unknown}; supported: {sorted(VARIATION_KEYS)}")
        meta = _parse_metadata(name, item.get("metadata"))
        if flags is not None and meta != flags:
            raise _fail(where, f"every variation must carry the same metadata ({flags} and {meta} differ): "
                               "the flags hold for the whole response")
        flags = meta
        buttons = _parse_buttons(name, item.get("buttons"))
        variations.append(Variation(item["text"], item.get("channel"), buttons))
    flags = flags or {}
    return ResponseSpec(
        name,
        tuple(variations),
        bool(flags.get("rephrase", False)),
        bool(flags.get("patient_specific", False)),
        flags.get("expects"),
        flags.get("also_expects"),
    )


def parse_sensitivity(
    data: Mapping[str, Any] | None, source: str = SENSITIVITY_FILE.as_posix()
) -> tuple[dict[str, Sensitivity], dict[str, Sensitivity]]:
    """The ``slots`` and ``variables`` tables of policies/sensitivity.yml, each ``name: sensitivity``."""
    data = data or {}
    unknown = sorted(str(k) for k in data if k not in ("version", "slots", "variables"))
    if unknown:
        raise DomainError(f"{source}: unknown keys {unknown}; known keys: version, slots, variables")
    if data.get("version", 1) != 1:
        raise DomainError(f"{source}: 'version' must be 1")
    tables: list[dict[str, Sensitivity]] = []
    for key in ("slots", "variables"):
        raw = data.get(key) or {}
        if not isinstance(raw, Mapping):
            raise DomainError(f"{source}: '{key}' must map a name to public, personal or clinical")
        table: dict[str, Sensitivity] = {}
        for name, sens in raw.items():
            if sens not in SENSITIVITIES:
                allowed = ", ".join(SENSITIVITIES)
                raise DomainError(f"{source}: {key}: {name!r}: sensitivity must be one of {allowed}")
            table[str(name)] = sens
        tables.append(table)
    both = sorted(set(tables[0]) & set(tables[1]))
    if both:
        raise DomainError(f"{source}: {both} listed both as slots and as variables")
    return tables[0], tables[1]


def parse_domain(
    data: Mapping[str, Any],
    sensitivity: Mapping[str, Any] | None = None,
    *,
    source: str = SENSITIVITY_FILE.as_posix(),
) -> Domain:
    """Build and validate the domain; ``sensitivity`` is the parsed policies/sensitivity.yml (``source``)."""
    if "variables" in data:
        raise _fail("variables", f"not a Rasa domain key: the values' sensitivities are in {source}")
    slot_sens, variables = parse_sensitivity(sensitivity, source)
    raw_slots = data.get("slots") or {}
    missing = sorted(str(n) for n in raw_slots if n not in slot_sens)
    if missing:
        raise DomainError(f"{source}: no sensitivity for the slots {missing} of domain.yml "
                          "(public, personal or clinical)")
    stray = sorted(n for n in slot_sens if n not in raw_slots)
    if stray:
        raise DomainError(f"{source}: sensitivity for unknown slots {stray} (not in domain.yml)")
    intents = tuple(str(i) if not isinstance(i, Mapping) else next(iter(i)) for i in data.get("intents", []))
    entities = tuple(str(e) for e in data.get("entities", []))
    slots = {name: _parse_slot(name, raw, slot_sens[name]) for name, raw in raw_slots.items()}
    responses = {name: _parse_response(name, raw) for name, raw in (data.get("responses") or {}).items()}
    raw_actions = data.get("actions") or []
    actions = tuple(str(a if not isinstance(a, Mapping) else next(iter(a))) for a in raw_actions)
    domain = Domain(intents, entities, slots, responses, variables, actions)
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


def load_domain(path: Path, sensitivity: Path | None = None) -> Domain:
    """domain.yml and its sensitivity table (default: ``policies/sensitivity.yml`` beside domain.yml)."""
    path = Path(path)
    data = load_mapping(path, "intents, slots and responses", error=DomainError)
    table_path = sensitivity or path.parent / SENSITIVITY_FILE
    table = load_mapping(table_path, "the sensitivity of slots and template values", error=DomainError)
    return parse_domain(data, table, source=str(table_path))
