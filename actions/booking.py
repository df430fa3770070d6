"""Booking, rescheduling, cancelling and checking appointments.

The patient is identified by ``services.patient_ref(sender)`` (a keyed hash, never the number). Offers
are three concrete free slots from the clinic's schedules; the database refuses a double booking.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from actions import select
from actions.common import BOOKING_SLOTS, DETAIL_SLOTS, has_consent, parse_time_value, patient_ref, slot
from actions.offers import offer_outputs
from bot.core.dialogue import FlowEvent, Output, Turn, Utter
from bot.errors import SlotUnavailableError
from bot.scheduling.models import AppointmentNotFoundError

_NEGATED = re.compile(r"^\W*(?:no|nel|ninguna|ninguno|tampoco)\b", re.IGNORECASE)
_MODES = {"book_appointment": "book", "reschedule_appointment": "reschedule", "cancel_appointment": "cancel"}
_ORDINALS = {
    "1": 0,
    "uno": 0,
    "primer": 0,
    "primero": 0,
    "primera": 0,
    "first": 0,
    "2": 1,
    "dos": 1,
    "segundo": 1,
    "segunda": 1,
    "second": 1,
    "3": 2,
    "tres": 2,
    "tercer": 2,
    "tercero": 2,
    "tercera": 2,
    "third": 2,
}


def _appointment_text(turn: Turn, start: datetime, physician_id: str, service_id: str) -> str:
    """How WhatsApp names the appointment: a sensitive service, and a physician who would reveal one, never
    (``Clinic.appointment_phrase``, the same words as the staff inbox's confirmations)."""
    return turn.services.clinic.appointment_phrase(start, physician_id, service_id, possessive=False)


def route_request(turn: Turn, intent: str, *, consented: bool | None = None) -> list[Output]:
    """Start what the patient asked for — after consent, which every appointment request needs."""
    if consented is None:
        consented = has_consent(turn)
    if not consented:
        out: list[Output] = [slot("pending_intent", intent)]
        if turn.flow_can("consent_requested"):
            out.append(FlowEvent("consent_requested"))
        # a booking still needs the patient's name: the same message invites it ("Acepto, Ana López")
        wants_name = intent == "book_appointment" and not turn.slot("person")
        out.append(Utter("utter_consent_request_name" if wants_name else "utter_consent_request"))
        return out
    if intent == "check_appointment":
        return check_appointments(turn)
    if intent in ("reschedule_appointment", "cancel_appointment"):
        return _select_existing(turn, _MODES[intent])
    out = [slot(name, None) for name in BOOKING_SLOTS if name != "time"]
    out.append(slot("booking_mode", "book"))
    if turn.phase != "intake" and turn.flow_can("details_requested"):
        out.append(FlowEvent("details_requested"))
    return out + collect_details(turn)


def check_appointments(turn: Turn) -> list[Output]:
    upcoming = turn.services.appointments.upcoming(patient_ref(turn), turn.now)
    if not upcoming:
        return [Utter("utter_no_appointments")]
    lines = [f"• {_appointment_text(turn, a.starts_at, a.physician_id, a.service_id)}" for a in upcoming[:5]]
    return [Utter("utter_appointments", {"appointments_list": "\n".join(lines)})]


def _select_existing(turn: Turn, mode: str) -> list[Output]:
    upcoming = select.upcoming_of(turn)
    if not upcoming:
        return [Utter("utter_no_appointments")]
    appt, new_time = select.pick(turn, upcoming)
    if appt is None:  # several and the message does not say which: list them, the patient picks
        return select.ask_which(turn, upcoming, mode, _appointment_text)
    text = _appointment_text(turn, appt.starts_at, appt.physician_id, appt.service_id)
    out: list[Output] = [
        slot("booking_mode", mode),
        slot("appointment_id", appt.id),
        slot("service", appt.service_id),
        slot("physician", appt.physician_id),
        slot("appointment_text", text),
        slot("appointment_start", appt.starts_at.astimezone(turn.services.clinic.timezone).isoformat()),
        slot("offers", None),
        slot("chosen", None),
    ]
    if turn.phase != "booking":
        out.append(FlowEvent("appointment_selected"))
    if mode == "cancel":
        out.append(slot("appointment_choices", None))
        return [*out, FlowEvent("slot_chosen"), Utter("utter_confirm_cancel", {"appointment_text": text})]
    out.append(slot("appointment_choices", None))
    if new_time is not None:
        return [*out, slot("time", new_time), *_offers(turn, new_time, appt.service_id, appt.physician_id)]
    return [*out, slot("time", None), Utter("utter_ask_new_time", {"appointment_text": text})]


def collect_details(turn: Turn) -> list[Output]:
    """Ask for the next missing detail (service, then name); when complete, move on to slots."""
    slots: dict[str, Any] = turn.tracker.slots
    if not slots.get("service"):
        return [slot("requested_slot", "service"), Utter(ask_service(turn))]
    if not slots.get("person"):
        return [slot("requested_slot", "person"), Utter(ask_person(turn))]
    out: list[Output] = [slot("requested_slot", None), FlowEvent("details_complete")]
    if slots.get("time") is None:
        return [*out, slot("requested_slot", "time"), Utter("utter_ask_time")]
    return out + _offers(turn, slots["time"], slots["service"], slots.get("physician"))


def ask_service(turn: Turn) -> str:
    """The service question; while no day is known it invites the day too ("pediatría el jueves")."""
    return "utter_ask_service" if turn.slot("time") is not None else "utter_ask_service_time"


def ask_person(turn: Turn) -> str:
    """The name question; while no day is known it invites the day too ("Ana López, el jueves")."""
    return "utter_ask_person" if turn.slot("time") is not None else "utter_ask_person_time"


def _offers(
    turn: Turn, time_value: Any, service_id: str, physician_id: str | None, *, announce: bool = True
) -> list[Output]:
    """Offers for the time asked, clinic-local; when it is not free the reply says so (actions/offers.py)."""
    return offer_outputs(turn, time_value, service_id, physician_id, announce=announce)


def _pick(turn: Turn, offer: dict[str, str]) -> list[Output]:
    """The patient picked one of the offers. A new booking picked explicitly (a number, an ordinal, a day or
    an hour that matches one offer) is booked at once: the pick is the confirmation, and the booked message
    says how to change it. A reschedule, a pick asked as a question ("¿y a las 10?") or left to the
    assistant ("cualquiera"), is confirmed first.
    """
    mode = turn.slot("booking_mode") or "book"
    asked = "?" in turn.text or "¿" in turn.text or bool(turn.parse.get("choice_any"))
    if mode != "book" or asked or turn.intent == "deny" or _NEGATED.match(turn.text):
        return _confirm(turn, offer)  # "no, yo quería el jueves a las 4:30" is never booked at once
    chosen: list[Output] = [slot("chosen", offer), slot("requested_slot", None), FlowEvent("slot_chosen")]
    return chosen + commit(turn, "book", offer)


def _confirm(turn: Turn, offer: dict[str, str]) -> list[Output]:
    start = datetime.fromisoformat(offer["start"])
    text = _appointment_text(turn, start, offer["physician"], offer["service"])
    mode = turn.slot("booking_mode") or "book"
    response = "utter_confirm_reschedule" if mode == "reschedule" else "utter_confirm_booking"
    return [
        slot("chosen", offer),
        slot("requested_slot", None),
        FlowEvent("slot_chosen"),
        Utter(
            response, {"appointment_text": text, "old_appointment_text": turn.slot("appointment_text") or ""}
        ),
    ]


class RouteRequest:
    """Start the request the model read (a booking when it read none); the ``action_route_<mode>`` variants
    start the one the script decided from the words when they overrule the model ("quiero otra cita para mi
    esposo" read as a reschedule is a booking; "ya no voy a poder ir" read as a "no" is a change)."""

    def __init__(self, name: str = "action_route_request", intent: str | None = None) -> None:
        self.name, self.intent = name, intent

    def run(self, turn: Turn) -> list[Output]:
        intent = self.intent or turn.intent
        return route_request(turn, intent if intent in (*_MODES, "check_appointment") else "book_appointment")



class CollectDetails:
    name = "action_collect_details"

    def run(self, turn: Turn) -> list[Output]:
        return collect_details(turn)


class OfferSlots:
    name = "action_offer_slots"

    def run(self, turn: Turn) -> list[Output]:
        value = turn.entity("time")
        offers = turn.slot("offers") or []
        picked = _match_offer(offers, value)
        if picked is not None:
            return _pick(turn, picked)
        if value is None:
            value = turn.slot("time")
        if value is None:
            return [slot("requested_slot", "time"), Utter("utter_ask_time")]
        return [slot("time", value), *_offers(turn, value, turn.slot("service"), turn.slot("physician"))]


def _match_offer(offers: list[dict[str, str]], value: Any) -> dict[str, str] | None:
    when = parse_time_value(value)
    if not isinstance(when, datetime):
        return None
    for offer in offers:
        if datetime.fromisoformat(offer["start"]) == when:
            return offer
    return None


class ChooseSlot:
    name = "action_choose_slot"

    def run(self, turn: Turn) -> list[Output]:
        offers = turn.slot("offers") or []
        picked = turn.parse.get("choice")  # read as the answer to the offers (bot/core/expect.py)
        if isinstance(picked, int) and 0 <= picked < len(offers):
            return _pick(turn, offers[picked])
        words = turn.text.lower().replace("opción", " ").replace("opcion", " ").split()
        for word in words[:3]:
            index = _ORDINALS.get(word.strip(".,)#"))
            if index is not None and index < len(offers):
                return _pick(turn, offers[index])
        return [Utter("utter_ask_choice")]


class CommitAppointment:
    name = "action_commit_appointment"

    def run(self, turn: Turn) -> list[Output]:
        return commit(turn, turn.slot("booking_mode") or "book", turn.slot("chosen"))


def commit(turn: Turn, mode: str, offer: dict[str, str] | None) -> list[Output]:
    """Book, move or cancel what the conversation holds; the reply says what became of it."""
    repo = turn.services.appointments
    ref = patient_ref(turn)
    text = turn.slot("appointment_text") or ""
    if mode == "cancel":
        try:
            repo.cancel(turn.slot("appointment_id"), ref, now=turn.now)
        except AppointmentNotFoundError:
            return [FlowEvent("booking_confirmed"), *_clear(), Utter("utter_no_appointments")]
        return [
            FlowEvent("booking_confirmed"),
            *_clear(),
            Utter("utter_cancelled", {"appointment_text": text}),
        ]
    if not offer:
        return [FlowEvent("change_requested"), Utter("utter_ask_time")]
    start = datetime.fromisoformat(offer["start"])
    try:
        if mode == "reschedule":
            appt = repo.reschedule(
                turn.slot("appointment_id"), ref, start, now=turn.now, physician_id=offer["physician"]
            )
        else:
            appt = repo.book(
                ref,
                turn.slot("person") or "",
                offer["service"],
                offer["physician"],
                start,
                for_relation=turn.slot("relation"),
                now=turn.now,
            )
    except AppointmentNotFoundError:
        return [FlowEvent("booking_confirmed"), *_clear(), Utter("utter_no_appointments")]
    except SlotUnavailableError:
        return [
            FlowEvent("change_requested"),
            slot("chosen", None),
            Utter("utter_slot_taken"),
            *_offers(turn, offer["start"], offer["service"], None, announce=False),
        ]
    new_text = _appointment_text(turn, start, offer["physician"], offer["service"])
    response = "utter_rescheduled" if mode == "reschedule" else "utter_booked"
    out: list[Output] = [
        FlowEvent("booking_confirmed"),
        *_clear(),
        slot("appointment_id", appt.id),
        Utter(response, {"appointment_text": new_text}),
    ]
    if turn.slot("reminders_opt_in") is None and not turn.services.consent.has(ref, "reminders"):
        out += [slot("asked_reminders", True), Utter("utter_ask_reminders")]
    return out


def _clear() -> list[Output]:
    """After a booking, a change or a cancellation: the next request starts afresh — "ahora una para mi
    hijo" is never booked under the name, service or physician of the one just made."""
    done = ("offers", "chosen", "time", "requested_slot", "appointment_text", "appointment_start",
            *DETAIL_SLOTS)
    return [slot(name, None) for name in done]


class ClearTime:
    name = "action_clear_time"

    def run(self, turn: Turn) -> list[Output]:
        return [
            slot("time", None),
            slot("offers", None),
            slot("chosen", None),
            slot("requested_slot", "time"),
        ]


class ClearBooking:
    """The request is dropped ("siempre no", "no" to a cancellation): the next one starts afresh."""

    name = "action_clear_booking"

    def run(self, turn: Turn) -> list[Output]:
        return [slot(name, None) for name in (*BOOKING_SLOTS, *DETAIL_SLOTS)]


class Reprompt:
    """After an interruption (hours, prices...), repeat the question the phase was waiting on."""

    name = "action_reprompt"

    def run(self, turn: Turn) -> list[Output]:
        phase, requested = turn.phase, turn.slot("requested_slot")
        if phase == "consent":
            return [Utter("utter_consent_reminder")]
        if phase == "intake":
            return [Utter(ask_person(turn) if requested == "person" else ask_service(turn))]
        if phase == "booking":
            return [Utter("utter_ask_choice" if turn.slot("offers") else "utter_ask_time")]
        if phase == "confirmation" and turn.slot("chosen"):
            return _confirm(turn, turn.slot("chosen"))[-1:]
        return []
