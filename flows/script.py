"""What the assistant does with each intent in each phase: the clinic's script, read by FlowPolicy.

Returns a :class:`Decision` (a chart event and/or actions) or None — None hands the message to the
fallback policy, so an intent the current phase has no rule for is an explicit fallback, never ignored.
Emergencies and clinical questions never reach this file: their policies rank higher.
"""

from __future__ import annotations

import re
import unicodedata

from bot.core.dialogue import Decision, Turn
from bot.core.readers import service_id
from bot.core.topics import asks_detail, faq_topic
from flows.wants import IDLE_PHASES, also_asked, asks_arco, asks_booking, wanted

POLICY = "FlowPolicy"

#: General information answered in every assistant phase, even before consent; the phase then resumes.
INFO = {
    "ask_hours": "utter_hours",
    "ask_location": "utter_location",
    "ask_services": "utter_services",
    "ask_prices": "utter_prices",
    "bot_challenge": "utter_bot_challenge",
    "request_portal": "action_portal_link",  # a one-time portal link (actions/portal.py)
    "thanks": "utter_you_are_welcome",
    "out_of_scope": "utter_out_of_scope",
}
#: Answers to the messages sent after a booking, read by bot/core/expect.py (actions/aftercare.py).
AFTERCARE = {
    "confirm_appointment": "action_confirm_appointment",
    "rate_visit": "action_rate_visit",
    "comment_visit": "action_visit_comment",
}
#: The clinic FAQ, one intent per topic, answered from clinic.yml's faq: in every assistant phase.
FAQ_INTENTS = frozenset({"ask_payment", "ask_insurance", "ask_invoice", "ask_parking", "ask_accessibility",
                         "ask_what_to_bring", "ask_preparation"})
APPOINTMENT_INTENTS = (
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
    "check_appointment",
)
#: Single-word opt-out keywords (WhatsApp/Twilio convention, Spanish and English): only the whole message.
#: Never "cancel"/"cancelar": in Spanish that is how a patient cancels an appointment.
_OPT_OUT_WORD = re.compile(r"(?:baja|alto|stop|stop ?all|unsubscribe|end|quit|opt[- ]?out)"
                           r"(?:,? (?:por ?favor|porfa|please|gracias))?")
#: Explicit opt-out phrases, honoured anywhere in the message (unless negated, see _OPT_OUT_NEGATED).
_OPT_OUT_PHRASE = re.compile(
    r"\b(?:darme de baja"
    r"|cancelar (?:mi |la )?suscripcion"
    r"|ya no (?:me )?(?:manden|envien|escriban)"
    r"|ya no quiero (?:recibir )?(?:mas )?(?:mensajes|recordatorios)"
    r"|no me (?:manden|envien|escriban) (?:mas )?(?:mensajes|recordatorios)"
    r"|no quiero (?:recibir )?mas (?:mensajes|recordatorios))\b"
)
#: "no quiero darme de baja, solo cambiar la cita": the phrase, negated.
_OPT_OUT_NEGATED = re.compile(r"\bno (?:quiero |deseo |voy a |necesito )?"
                              r"(?:darme de baja|cancelar (?:mi |la )?suscripcion)\b")
#: Single-word opt-in keywords: only the whole message (never "si"/"yes": they answer other questions).
_OPT_IN_WORD = re.compile(r"alta|start|unstop")
#: Explicit opt-in phrases, anywhere in a message that negates nothing ("no quiero volver a recibir...").
_MESSAGES = r"(?:los |sus )?(?:mensajes|recordatorios|notificaciones)"
_OPT_IN_PHRASE = re.compile(r"\b(?:suscribirme(?: de nuevo| otra vez)?(?:$|[.!,]| por favor| porfa| a "
                            + _MESSAGES + r")|volver a recibir(?:$|[.!,]| " + _MESSAGES + r")"
                            r"|quiero recibir " + _MESSAGES + r")")
_NEGATION = re.compile(r"\b(?:no|nunca|jamas|ni)\b")
#: What a keyword may be wrapped in: whitespace, "¡" before, "." "!" "¡" "…" after (not "?": a question
#: such as "¿alto?" is not an instruction).
_LEADING = " \t\r\n¡"
_TRAILING = " \t\r\n.!¡…"


def normalise(text: str) -> str:
    """Lower-case, without accents (NFKD, combining marks dropped), whitespace collapsed to one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def _keyword(text: str) -> str:
    return normalise(text).lstrip(_LEADING).rstrip(_TRAILING)


def is_opt_out(text: str) -> bool:
    """True if the patient explicitly asks to stop receiving messages, whatever the NLU model says.

    Case- and accent-insensitive. A single keyword counts only as the *whole* message (surrounding
    whitespace, a leading "¡" and trailing "." "!" "…" ignored; "por favor", "porfa", "please", "gracias"
    may follow): BAJA, ALTO, STOP, STOPALL, UNSUBSCRIBE, END, QUIT, OPTOUT / OPT-OUT. So "Baja California
    Sur", "alto riesgo?" or "Stop, espere, me equivoqué de hora" are not opt-outs. Explicit phrases count
    anywhere in the message: "darme de baja", "cancelar (mi|la) suscripción", "ya no (me)
    manden/envíen/escriban", "ya no quiero recibir (más) mensajes", "no me manden (más) mensajes", "no
    quiero (recibir) más mensajes" — but not negated ("no quiero darme de baja"). "cancelar" alone is
    never an opt-out (it cancels appointments).
    """
    if _OPT_OUT_WORD.fullmatch(_keyword(text)):
        return True
    plain = _OPT_OUT_NEGATED.sub(" ", normalise(text))  # a negated phrase does not count
    return bool(_OPT_OUT_PHRASE.search(plain))


def is_opt_in(text: str) -> bool:
    """True if a patient who opted out explicitly asks to receive messages again.

    Same normalisation as :func:`is_opt_out`. Single keywords only as the whole message: ALTA, START,
    UNSTOP (never "sí"/"yes"). Phrases naming the messages, anywhere, unless the message has a negation
    ("no", "nunca", "jamás", "ni"): "suscribirme" (alone, or "a los mensajes"), "volver a recibir"
    (alone, or "(los) mensajes / recordatorios"), "quiero recibir (los) mensajes" — not "quiero volver a
    recibir mi receta" nor "suscribirme a la revista".
    """
    if _OPT_IN_WORD.fullmatch(_keyword(text)):
        return True
    plain = normalise(text)
    return bool(_OPT_IN_PHRASE.search(plain)) and not _NEGATION.search(plain)


#: "acepto" as the answer to the consent question, anywhere but negated or asked ("bueno, está bien,
#: ACEPTO"; never "no acepto" nor "¿qué acepto?").
ACCEPT = re.compile(r"^(?!.*\bno acepto\b)(?!.*[?¿]).*\bacepto\b", re.IGNORECASE)
#: An offered slot picked by its number or ordinal ("2", "la segunda", "opción 3").
CHOICE = re.compile(
    r"^\s*(?:(?:la|el|opci[oó]n|option|n[uú]mero|#)\s*)?(1|2|3|uno|dos|tres|primer[oa]?|segund[oa]|tercer[oa]?|first|second|third)\b",
    re.IGNORECASE,
)


def _d(*actions: str, event: str | None = None) -> Decision:
    return Decision(POLICY, tuple(actions), event)


def decide(turn: Turn) -> Decision | None:
    phase, intent = turn.phase, turn.intent
    # Opt-out keywords are honoured at once in every phase (LFPDPPP); in opted_out they get the reminder.
    if phase == "handoff":
        # A person is answering: the bot only acknowledges (emergencies rank higher), except for an explicit
        # opt-out keyword, which also ends the handoff. Never the model's opt_out intent alone here.
        # A short acknowledgement the first time, then at most once an hour (actions/handoff.py).
        return _d("action_opt_out") if is_opt_out(turn.text) else _d("action_handoff_ack")
    if phase == "opted_out":
        if is_opt_in(turn.text):
            return _d("action_opt_in")
        return _d("utter_opted_out_reminder")
    if phase == "closed":
        if _wants_out(turn):
            return _d("action_opt_out")
        inner = _assistant(turn, "greeting", intent)
        if inner is None or inner.flow_event:
            return _d("utter_greet", event="reopened")
        return Decision(POLICY, inner.actions, "reopened")
    return _assistant(turn, phase, intent)


def _wants_out(turn: Turn) -> bool:
    """An explicit opt-out (:func:`is_opt_out`), or the model's opt_out intent read with some confidence
    unless the text is an explicit opt-in phrase ("quiero recibir mensajes" is never an opt-out, whatever
    the model says). An unsure model ("Stop, espere, me equivoqué de hora" at 0.4) never silences a
    patient's reminders: the explicit words are caught above whatever the model says."""
    if is_opt_out(turn.text):
        return True
    return turn.intent == "opt_out" and turn.confidence >= OPT_OUT_CONFIDENCE and not is_opt_in(turn.text)


#: The model's confidence an opt-out needs when no explicit opt-out words are in the message.
OPT_OUT_CONFIDENCE = 0.6


def _assistant(turn: Turn, phase: str, intent: str) -> Decision | None:
    if _wants_out(turn):
        intent = "opt_out"
    elif intent == "opt_out":
        intent = "nlu_fallback"  # the model's opt_out on an explicit opt-in phrase: not understood
    intent = wanted(turn, phase, intent)  # the words over an unsure or mistaken model (flows/wants.py)
    if intent == "opt_out":
        return _d("action_opt_out")
    offered = turn.slot("offered_human") and turn.parse.get("asked") == "utter_offer_human"
    if intent == "request_human" or (intent == "affirm" and offered):
        return _d("action_handoff")  # an offer of a person is honoured only right after it was made
    if intent == "deny" and offered:
        if phase in ("greeting", "follow_up"):
            return _d("action_decline_human", "utter_anything_else")
        return _d("action_decline_human", "action_reprompt")
    if intent == "arco_request" and not asks_arco(turn):
        return _d("utter_privacy_use", "action_reprompt")  # "¿para qué quieren mis datos?": not filed
    if intent == "arco_request":
        return _d("action_arco_request", "action_reprompt")
    if intent in AFTERCARE:  # answers to a reminder or a follow-up (bot/core/aftercare.py)
        return _d(AFTERCARE[intent])
    if ACCEPT.match(normalise(turn.text)) and (phase == "consent" or turn.slot("consent_declined")):
        return _d("action_grant_consent")
    if phase == "booking" and turn.slot("offers") and (
        isinstance(turn.parse.get("choice"), int) or CHOICE.match(turn.text)
    ):
        return _d("action_choose_slot")
    if (
        phase == "intake"
        and turn.slot("requested_slot") == "person"
        and turn.slot("person")
        and intent in ("inform", "nlu_fallback", "greet", "affirm")
    ):
        return _d("action_collect_details")
    if intent == "goodbye" and phase in ("consent", "intake", "booking", "confirmation"):
        # "sabe qué, mejor no, luego le escribo": the request is dropped, nothing half-kept for later
        return _d("action_clear_booking", "utter_goodbye", event="conversation_closed")
    if intent == "goodbye":
        return _d("utter_goodbye", event="conversation_closed")
    if intent in FAQ_INTENTS or (
        intent in ("ask_prices", "ask_services", "ask_location", "out_of_scope", "nlu_fallback")
        and faq_topic(turn.text)
    ):
        if asks_detail(turn.text):  # "¿cuánto cuesta el ultrasonido y qué necesito llevar?": both answered
            return _d("action_service_info", "action_faq", _then(turn, phase))
        return _d("action_faq", _then(turn, phase))  # payment, insurance, invoices... (clinic.yml faq:)
    if (
        intent in ("ask_prices", "ask_services", "out_of_scope", "inform", "nlu_fallback")
        or (intent == "ask_hours" and _names_service(turn))  # "¿qué días viene la Dra. Herrera?"
    ) and asks_detail(turn.text):
        return _d("action_service_info", _then(turn, phase))  # for the service asked about or being booked
    if intent == "nlu_fallback":
        return None
    if intent == "thanks" and phase in ("consent", "intake", "booking", "confirmation"):
        return _d("utter_welcome_brief", "action_reprompt")  # not "¿algo más?" while a question is open
    if intent in INFO:
        # "¿dónde quedan? y ¿a qué hora abren el sábado?": every question of the message is answered
        more = [a for a in also_asked(turn) if a != INFO[intent]] if intent.startswith("ask_") else []
        then = _then(turn, phase) if intent.startswith("ask_") else "action_reprompt"
        return _d(INFO[intent], *more, then)
    if intent == "greet":
        return _d("utter_greet") if phase == "greeting" else _d("utter_greet_again", "action_reprompt")
    handler = _PHASES.get(phase)
    return handler(turn, intent) if handler else None


def _names_service(turn: Turn) -> bool:
    return bool(turn.entity("service") or service_id(turn.text, turn.services.clinic))


def _then(turn: Turn, phase: str) -> str:
    """After an answer: the booking the same message asks for ("¿aceptan seguro? quiero sacar cita con la
    ginecóloga"), else the open question again."""
    if phase in IDLE_PHASES and asks_booking(turn):
        return _route("book_appointment")
    return "action_reprompt"


def _route(intent: str) -> str:
    """The action that starts the request ``intent``, whatever the model read."""
    return ROUTES.get(intent, "action_route_request")


#: The action that starts each request when the script, not the model, decided which one it is.
ROUTES = {
    "book_appointment": "action_route_booking",
    "reschedule_appointment": "action_route_change",
    "cancel_appointment": "action_route_cancel",
    "check_appointment": "action_route_check",
}


def _greeting(turn: Turn, intent: str) -> Decision | None:
    if intent in APPOINTMENT_INTENTS or (
        intent == "inform" and (turn.entity("service") or turn.entity("time"))
    ):
        return _d(*also_asked(turn), _route(intent))  # "¿dónde están? y quiero cita para hoy": both
    if intent in ("affirm", "deny"):
        return _d("utter_anything_else")
    return None


def _consent(turn: Turn, intent: str) -> Decision | None:
    if intent == "affirm":
        return _d("action_grant_consent")
    if intent == "deny":
        return _d("action_decline_consent")
    if intent in APPOINTMENT_INTENTS or intent == "inform":
        return _d("utter_consent_reminder")
    return None


def _intake(turn: Turn, intent: str) -> Decision | None:
    if intent in ("inform", "book_appointment", "affirm") or (intent == "deny" and turn.entity("relation")):
        return _d("action_collect_details")
    if intent in ("reschedule_appointment", "cancel_appointment", "check_appointment"):
        return _d(_route(intent))
    if intent == "deny":
        return _d("utter_anything_else", event="started_over")
    return None


def _booking(turn: Turn, intent: str) -> Decision | None:
    changes = ("inform", "book_appointment", "reschedule_appointment", "affirm", "deny")
    if intent in changes and turn.entity("time"):
        return _d("action_offer_slots")  # "ninguna, ¿tiene el viernes a las 10?" is the new time
    if intent == "affirm" and turn.slot("offers"):
        return _d("utter_ask_choice")
    if intent in ("inform", "book_appointment", "reschedule_appointment", "affirm"):
        return _d("action_offer_slots")
    if intent == "deny" and turn.entity("service"):
        return _d("action_offer_slots")  # "siempre no, mejor para la vacuna": the same time, another service
    if intent == "deny":
        return _d("action_clear_time", "utter_ask_new_time")
    if intent in ("cancel_appointment", "check_appointment"):
        return _d(_route(intent))
    return None


def _confirmation(turn: Turn, intent: str) -> Decision | None:
    if intent == "deny" and turn.slot("booking_mode") == "cancel":
        # "no" to "¿Desea cancelar su cita…?": it stays as it is, no new time is asked
        return _d("action_clear_booking", "utter_appointment_kept", event="started_over")
    other_service = turn.entity("service") and not turn.entity("time")
    if intent in ("deny", "inform", "book_appointment") and other_service:
        return _d("action_offer_slots", event="change_requested")  # another service, the same day and time
    if intent == "affirm":
        return _d("action_commit_appointment")
    if intent in ("deny", "inform", "book_appointment", "reschedule_appointment"):
        if turn.entity("time"):
            return _d("action_offer_slots", event="change_requested")
        return _d("action_clear_time", "utter_ask_new_time", event="change_requested")
    if intent == "cancel_appointment" and turn.slot("booking_mode") == "book":
        return _d("action_clear_booking", "utter_anything_else", event="started_over")
    return None


def _follow_up(turn: Turn, intent: str) -> Decision | None:
    if turn.slot("asked_reminders") and intent == "affirm":
        return _d("action_reminders_opt_in")
    if turn.slot("asked_reminders") and intent == "deny":
        return _d("action_reminders_opt_out")
    if intent in APPOINTMENT_INTENTS or (intent == "inform" and turn.entity("service")):
        return _d(*also_asked(turn), _route(intent))
    if intent in ("affirm", "deny"):
        return _d("utter_anything_else")
    return None


_PHASES = {
    "greeting": _greeting,
    "consent": _consent,
    "intake": _intake,
    "booking": _booking,
    "confirmation": _confirmation,
    "follow_up": _follow_up,
}
