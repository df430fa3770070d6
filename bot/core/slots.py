"""Slot filling from the parse, following the slot mappings declared in domain.yml (Rasa's names)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.domain import Domain
from bot.core.events import SlotSet
from bot.core.tracker import Tracker


def _intent_ok(mapping: Mapping[str, Any], intent: str) -> bool:
    allowed = mapping.get("intent")
    excluded = mapping.get("not_intent") or []
    if allowed and intent not in (allowed if isinstance(allowed, list) else [allowed]):
        return False
    return intent not in excluded


def _conditions_ok(mapping: Mapping[str, Any], tracker: Tracker) -> bool:
    for cond in mapping.get("conditions") or []:
        if "requested_slot" in cond and tracker.get_slot("requested_slot") != cond["requested_slot"]:
            return False
    return True


def extract_slots(domain: Domain, parse: Mapping[str, Any], tracker: Tracker) -> list[SlotSet]:
    """SlotSet events for every slot a mapping fills from this message (entities first, then text)."""
    intent = str((parse.get("intent") or {}).get("name") or "")
    entities = parse.get("entities") or []
    events: list[SlotSet] = []
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            if not _intent_ok(mapping, intent) or not _conditions_ok(mapping, tracker):
                continue
            kind = mapping.get("type")
            value: Any = None
            if kind == "from_entity":
                for ent in entities:
                    if ent.get("entity") == mapping.get("entity") and (
                        "role" not in mapping or ent.get("role") == mapping["role"]
                    ):
                        value = ent.get("value")
                        break
            elif kind == "from_text" and parse.get("expected") == slot.name:
                # only a text the answer's reader accepted (bot/core/expect.py, like a Rasa form's
                # validate_<slot>): "mmm" while a name is asked fills nothing
                text = str(parse.get("text") or "").strip()
                value = text[:80] if text else None
            if value is not None:
                events.append(SlotSet(name=slot.name, value=value))
                break
    return events
