"""A clinical question gets the fixed secure-portal redirect in any phase, never paraphrased."""

from __future__ import annotations

import re
import unicodedata

from bot.core.dialogue import Decision, Turn
from bot.core.topics import APPOINTMENT_WORDS

#: What asks FOR clinical information (results, diagnosis, dose, prescription...), even inside a booking;
#: "¿qué tengo?" is a diagnosis asked for, "la cita que tengo el viernes" is not.
_REQUEST = re.compile(
    r"\bresultad|\bdiagnost|\bdosis\b|\brecet\w*|\bmedicament|\bpastillas?\b|\bmiligram|\d\s?mg\b|"
    r"\bque (?:me )?(?:tomo|tome|puedo tomar|debo tomar)\b|\bes (?:normal|grave|peligroso)\b|\binterpret|"
    r"(?<!cita )(?<!citas )(?<!sita )(?<!consulta )(?<!la )(?<!el )(?<!hora )\bque tengo\b|"
    r"\bque significa|\bmis (?:analisis|estudios|laboratorios)\b"
)
_BOOKING = ("book_appointment", "reschedule_appointment", "check_appointment", "cancel_appointment", "inform")


def _fold(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def _booking_only(turn: Turn) -> bool:
    """A request for an appointment that mentions a condition, and asks for no clinical information."""
    text = _fold(turn.text)
    asks_booking = (turn.intent in _BOOKING and turn.confidence >= 0.5) or _WANTS_BOOKING.search(text)
    return bool(asks_booking) and APPOINTMENT_WORDS.search(text) is not None and not _REQUEST.search(text)


_WANTS_BOOKING = re.compile(r"\b(?:(?:quiero|quisiera|necesito|necesita|ocupo|ocupa|deseo|quiere|"
                            r"me (?:puede|podria)) (?:\w+ )?"
                            r"(?:agendar|sacar|apartar|hacer|una [cs]ita|mi [cs]ita|[cs]ita|[ck]o[n]?sulta|"
                            r"una [ck]o[n]?sulta|mi control|mi [ck]o[n]?sulta)|"
                            r"(?:me|lo|la|nos|le) (?:pueden|puede|podrian|podria) "
                            r"(?:ver|atender|revisar|checar|dar (?:una )?[cs]ita))\b")
#: Phases where a booking the message also asks for can start (elsewhere the open question is asked again).
_IDLE = ("greeting", "follow_up", "closed")


class ClinicalRequestPolicy:
    name = "ClinicalRequestPolicy"

    def __init__(self, min_confidence: float = 0.3) -> None:
        self.min_confidence = min_confidence

    def predict(self, turn: Turn) -> Decision | None:
        if turn.phase == "handoff":
            return None  # a person is answering; their text still passes the disclosure gate
        asked = turn.intent == "ask_clinical_info" and turn.confidence >= self.min_confidence
        ranked = any(
            r.get("name") == "ask_clinical_info" and float(r.get("confidence", 0)) >= 0.45
            for r in turn.parse.get("intent_ranking") or ()
        )
        if (asked or ranked) and _booking_only(turn):
            return None  # "tengo diabetes y quiero mi cita de control" is a booking, not a question
        if asked or ranked or (_REQUEST.search(_fold(turn.text)) and turn.intent in _BOOKING):
            # the redirect always; a booking the same message asks for ("quiero cita para que el doctor vea
            # mis resultados") starts after it, and a question under way is asked again
            then: tuple[str, ...] = ()
            if turn.phase in _IDLE and _WANTS_BOOKING.search(_fold(turn.text)):
                then = ("action_route_booking",)
            elif turn.phase not in _IDLE:
                then = ("action_reprompt",)
            return Decision(self.name, ("utter_clinical_redirect", "action_portal_link", *then))
        return None
