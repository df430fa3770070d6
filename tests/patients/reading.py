"""How a simulated patient reads the assistant: what it just asked, what it offered, whether it answered.

The question comes from the response name on each :class:`~bot.core.processor.OutgoingMessage` when the
suite knows it (exact names first, then name prefixes such as ``utter_ask_service_*``), otherwise from
the text, so a response added or renamed in the engine is still read the way a patient would read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tests.patients.phrases import MONTHS, WEEKDAYS, normalise

#: Question kinds: consent, service, person, time, choice, confirm, confirm_cancel, reminders,
#: offer_human, open (anything else), and the non-questions that end or derail a conversation.
BY_NAME = {
    "utter_consent_request": "consent",
    "utter_consent_reminder": "consent",
    "utter_consent_request_name": "consent",  # ... and the name, which may come with it
    "utter_ask_service": "service",
    "utter_ask_service_time": "service",  # ... and the day, which may come with it
    "utter_ask_person": "person",
    "utter_ask_person_time": "person",  # ... and the day, which may come with it
    "utter_ask_time": "time",
    "utter_ask_new_time": "time",
    "utter_no_slots": "time",
    "utter_booking_offers": "choice",
    "utter_ask_choice": "choice",
    "utter_confirm_booking": "confirm",
    "utter_confirm_reschedule": "confirm",
    "utter_confirm_cancel": "confirm_cancel",
    "utter_ask_reminders": "reminders",
    "utter_offer_human": "offer_human",
    "utter_greet": "open",
    "utter_anything_else": "open",
    "utter_you_are_welcome": "open",
    "utter_handoff_back": "open",
    "utter_opted_in": "open",
    "utter_consent_declined": "open",
    "utter_no_appointments": "no_appointments",
    "utter_ask_rephrase": "rephrase",
    "utter_out_of_scope": "rephrase",
    "utter_not_now": "rephrase",
    "utter_clinical_redirect": "redirect",
    "utter_handoff": "handoff",
    "utter_handoff_waiting": "handoff",
    "utter_error": "error",
    "utter_goodbye": "closed",
    "utter_opted_out": "closed",
    "utter_emergency": "emergency",
}
#: Statements: answered, nothing asked.
STATEMENTS = frozenset({
    "utter_hours", "utter_location", "utter_services", "utter_prices", "utter_consent_thanks",
    "utter_greet_again", "utter_reminders_on", "utter_reminders_off", "utter_booked", "utter_rescheduled",
    "utter_cancelled", "utter_slot_taken", "utter_portal", "utter_appointments", "utter_bot_challenge",
})  # fmt: skip
PREFIXES = (
    ("utter_ask_service", "service"),
    ("utter_ask_person", "person"),
    ("utter_ask_name", "person"),
    ("utter_ask_time", "time"),
    ("utter_ask_day", "time"),
    ("utter_booking_offers", "choice"),
    ("utter_offers", "choice"),
    ("utter_ask_choice", "choice"),
    ("utter_confirm_cancel", "confirm_cancel"),
    ("utter_confirm", "confirm"),
    ("utter_consent", "consent"),
    ("utter_offer_human", "offer_human"),
    ("utter_handoff", "handoff"),
)
DONE = {"utter_booked": "book", "utter_rescheduled": "reschedule", "utter_cancelled": "cancel"}
_DONE_TEXT = (("quedo agendada", "book"), ("quedo cambiada", "reschedule"), ("quedo cancelada", "cancel"))


def question_of(response: str | None, text: str) -> str | None:
    """The kind of question one message asks (None: it asks nothing)."""
    if response in BY_NAME:
        return BY_NAME[response]
    if response in STATEMENTS or response in DONE:
        return None
    for prefix, kind in PREFIXES:
        if response and response.startswith(prefix):
            return kind
    return guess(text)


def guess(text: str) -> str | None:
    plain = normalise(text)
    if "acepto" in plain and "aviso" in plain:
        return "consent"
    if re.search(r"(?m)^\s*[1-3][.)]\s", text) and re.search(r"\b(a las?|de la (manana|tarde))\b", plain):
        return "choice"
    if "?" not in text:
        return None
    for words, kind in (
        (("cancelar",), "confirm_cancel"),
        (("confirmo", "esta bien", "le confirmo"), "confirm"),
        (("recordatorio",), "reminders"),
        (("persona",), "offer_human"),
        (("nombre",), "person"),
        (("tipo de consulta", "servicio", "que consulta", "especialidad"), "service"),
        (("que dia", "horario", "que hora", "otro dia"), "time"),
    ):
        if any(w in plain for w in words):
            return kind
    return "open"


def done_of(response: str | None, text: str) -> str | None:
    if response in DONE:
        return DONE[response]
    plain = normalise(text)
    for words, kind in _DONE_TEXT:
        if words in plain:
            return kind
    return None


_OFFER_LINE = re.compile(
    r"(?m)^\s*(?P<n>[1-9])[.)]\s*(?:(?P<wd>\w+)\s+)?(?P<d>\d{1,2}) de (?P<mo>\w+)\s+a las? "
    r"(?P<h>\d{1,2}):(?P<mi>\d\d)\s*(?P<part>de la mañana|del día|de la tarde|de la noche)?"
)


def offers_of(slots: Mapping[str, Any], text: str, now: datetime) -> list[datetime]:
    """The offered start times, in order: the tracker's ``offers`` slot, else read from the text."""
    raw = slots.get("offers")
    if isinstance(raw, Sequence) and raw and all(isinstance(o, Mapping) and o.get("start") for o in raw):
        return [datetime.fromisoformat(str(o["start"])).astimezone(now.tzinfo) for o in raw]
    out = []
    for m in _OFFER_LINE.finditer(text):
        month = MONTHS.index(m["mo"]) + 1 if m["mo"] in MONTHS else now.month
        hour = int(m["h"])
        if m["part"] in ("de la tarde", "de la noche") and hour < 12:
            hour += 12
        year = now.year + (1 if month < now.month else 0)
        out.append(datetime(year, month, int(m["d"]), hour, int(m["mi"]), tzinfo=now.tzinfo))
    return out


def chosen_of(slots: Mapping[str, Any], now: datetime) -> tuple[datetime, str | None] | None:
    chosen = slots.get("chosen")
    if isinstance(chosen, Mapping) and chosen.get("start"):
        start = datetime.fromisoformat(str(chosen["start"])).astimezone(now.tzinfo)
        return start, (str(chosen["service"]) if chosen.get("service") else None)
    return None


def numbered_options(text: str) -> list[tuple[str, str]]:
    """("1", "Consulta de medicina general") for each numbered line of a message."""
    return [(m[1], m[2].strip()) for m in re.finditer(r"(?m)^\s*(\d{1,2})[.)]\s+(.+)$", text)]


def listed_position(text: str, name: str) -> int | None:
    """Where ``name`` is among the first three options a message lists ("Ofrecemos: a, b, c" or "1. a")."""
    options = [label for _, label in numbered_options(text)]
    if not options and ":" in text:
        options = re.split(r",| y ", text.split(":", 1)[1])
    for i, option in enumerate(options[:3]):
        if normalise(name) in normalise(option):
            return i
    return None


def weekday_name(dt: datetime) -> str:
    return WEEKDAYS[dt.weekday()]


# -- did the answer fit the question? ----------------------------------------------------------------


def fits(topic: str, text: str, clinic: Any, service_id: str | None) -> str | None:
    """None if ``text`` answers a question about ``topic`` (for ``service_id``), else why not."""
    plain = normalise(text)
    if topic == "price":
        prices = text.count("$")
        if service_id is None:
            return None if prices else "no price"
        own = clinic.format_price(clinic.service(service_id).price)
        if own not in text:
            return "not the price of the service asked about"
        if prices > 2:
            return f"every price of the clinic ({prices} prices)"
        return None
    if topic == "payment":
        return None if re.search(r"tarjeta|efectivo|transferencia|pago", plain) else "no payment methods"
    if topic == "hours":
        return None if re.search(r"\d{1,2}:\d\d|horario", plain) else "no hours"
    if topic == "address":
        return None if "jacarandas" in plain else "no address"
    if topic == "duration":
        return None if re.search(r"minutos|una hora|media hora", plain) else "no duration"
    if topic == "physician":
        if service_id is None:
            return None
        names = [normalise(p.name.split()[-2]) for p in clinic.physicians_for(service_id)]
        return None if any(n in plain for n in names) else "no physician named"
    return None
