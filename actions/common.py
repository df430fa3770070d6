"""Helpers shared by the clinic's custom actions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.core.dialogue import Turn
from bot.core.events import SlotSet

#: Slots that describe one booking in progress; cleared when a new request starts.
BOOKING_SLOTS = (
    "offers",
    "chosen",
    "time",
    "requested_slot",
    "appointment_id",
    "booking_mode",
    "appointment_text",
    "appointment_start",
    "offered_human",
)


#: What the patient said of the appointment wanted: forgotten with a refusal of consent.
DETAIL_SLOTS = ("person", "relation", "service", "physician", "phone", "appointment_choices")


def slot(name: str, value: Any) -> SlotSet:
    return SlotSet(name=name, value=value)


def patient_ref(turn: Turn) -> str:
    return str(turn.services.patient_ref(turn.tracker.sender_id))


def has_consent(turn: Turn, purpose: str = "appointments") -> bool:
    return bool(turn.services.consent.has(patient_ref(turn), purpose))


def parse_time_value(value: Any) -> datetime | tuple[datetime, datetime] | None:
    """A Duckling-style time entity value as a datetime or a (from, to) interval."""
    try:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        if isinstance(value, Mapping) and value.get("from"):
            start = datetime.fromisoformat(str(value["from"]))
            end = datetime.fromisoformat(str(value["to"])) if value.get("to") else start
            return (start, end)
    except ValueError:
        return None
    return None


def consent_channel(turn: Turn) -> str:
    return "whatsapp" if "whatsapp" in turn.channel else turn.channel


def evidence(turn: Turn) -> dict[str, str]:
    """How consent was given: over WhatsApp the number and the MessageSid of the accepting message.

    Stored encrypted under the patient's own data key by the consent registry.
    """
    msg = turn.tracker.latest_message
    sid = msg.message_id if msg and msg.message_id else ""
    return {"channel": turn.channel, "from": turn.tracker.sender_id, "message_sid": sid or "none"}
