"""What the assistant does with each intent in each phase: the clinic's script, read by FlowPolicy.

Returns a :class:`Decision` (a chart event and/or actions) or None — None hands the message to the
fallback policy, so an intent the current phase has no rule for is an explicit fallback, never ignored.
Emergencies and clinical questions never reach this file: their policies rank higher.
"""

from __future__ import annotations

import re

from bot.core.dialogue import Decision, Turn

POLICY = "FlowPolicy"

#: General information answered in every assistant phase, even before consent; the phase then resumes.
INFO = {
    "ask_hours": "utter_hours",
    "ask_location": "utter_location",
    "ask_services": "utter_services",
    "ask_prices": "utter_prices",
    "bot_challenge": "utter_bot_challenge",
    "request_portal": "utter_portal",
    "thanks": "utter_you_are_welcome",
    "out_of_scope": "utter_out_of_scope",
}
APPOINTMENT_INTENTS = (
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
    "check_appointment",
)
#: Opt-out keywords honoured whatever the model says (WhatsApp/Twilio conventions, Spanish and English).
OPT_OUT = re.compile(
    r"^\s*(baja|alto|stop|stopall|unsubscribe|cancelar suscripci[oó]n|darme de baja"
    r"|ya no (me )?(manden|env[ií]en))\b",
    re.IGNORECASE,
)
OPT_IN = re.compile(r"^\s*(alta|start|unstop|suscribir(me)?|volver a recibir)\b", re.IGNORECASE)
ACCEPT = re.compile(r"^\s*acepto\b", re.IGNORECASE)
#: An offered slot picked by its number or ordinal ("2", "la segunda", "opción 3").
CHOICE = re.compile(
    r"^\s*(?:(?:la|el|opci[oó]n|option|n[uú]mero|#)\s*)?(1|2|3|uno|dos|tres|primer[oa]?|segund[oa]|tercer[oa]?|first|second|third)\b",
    re.IGNORECASE,
)


def _d(*actions: str, event: str | None = None) -> Decision:
    return Decision(POLICY, tuple(actions), event)


def decide(turn: Turn) -> Decision | None:
    phase, intent = turn.phase, turn.intent
    if phase == "handoff":
        return _d()  # a person is answering: the bot stays silent (emergencies rank higher)
    if phase == "opted_out":
        if OPT_IN.match(turn.text):
            return _d("action_opt_in")
        return _d("utter_opted_out_reminder")
    if phase == "closed":
        if intent == "opt_out":
            return _d("action_opt_out")
        inner = _assistant(turn, "greeting", intent)
        if inner is None or inner.flow_event:
            return _d("utter_greet", event="reopened")
        return Decision(POLICY, inner.actions, "reopened")
    return _assistant(turn, phase, intent)


def _assistant(turn: Turn, phase: str, intent: str) -> Decision | None:
    if OPT_OUT.match(turn.text):
        intent = "opt_out"
    if (
        intent in ("out_of_scope", "nlu_fallback")
        and phase in ("intake", "booking", "confirmation")
        and (turn.entity("time") is not None or turn.entity("service") is not None)
    ):
        intent = "inform"  # a bare date or service is an answer to the question we just asked
    if intent == "opt_out":
        return _d("action_opt_out")
    if intent == "request_human" or (intent == "affirm" and turn.slot("offered_human")):
        return _d("action_handoff")
    if intent == "arco_request":
        return _d("action_arco_request", "action_reprompt")
    if ACCEPT.match(turn.text) and (phase == "consent" or turn.slot("consent_declined")):
        return _d("action_grant_consent")
    if phase == "booking" and turn.slot("offers") and CHOICE.match(turn.text):
        return _d("action_choose_slot")
    if (
        phase == "intake"
        and turn.slot("requested_slot") == "person"
        and turn.slot("person")
        and intent in ("inform", "nlu_fallback", "greet", "affirm")
    ):
        return _d("action_collect_details")
    if intent == "nlu_fallback":
        return None
    if intent == "goodbye":
        return _d("utter_goodbye", event="conversation_closed")
    if intent in INFO:
        return _d(INFO[intent], "action_reprompt")
    if intent == "greet":
        return _d("utter_greet") if phase == "greeting" else _d("utter_greet_again", "action_reprompt")
    handler = _PHASES.get(phase)
    return handler(turn, intent) if handler else None


def _greeting(turn: Turn, intent: str) -> Decision | None:
    if intent in APPOINTMENT_INTENTS or (
        intent == "inform" and (turn.entity("service") or turn.entity("time"))
    ):
        return _d("action_route_request")
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
        return _d("action_route_request")
    if intent == "deny":
        return _d("utter_anything_else", event="started_over")
    return None


def _booking(turn: Turn, intent: str) -> Decision | None:
    if intent in ("inform", "book_appointment", "reschedule_appointment", "affirm") and turn.entity("time"):
        return _d("action_offer_slots")
    if intent == "affirm" and turn.slot("offers"):
        return _d("utter_ask_choice")
    if intent in ("inform", "book_appointment", "reschedule_appointment", "affirm"):
        return _d("action_offer_slots")
    if intent == "deny":
        return _d("action_clear_time", "utter_ask_new_time")
    if intent in ("cancel_appointment", "check_appointment"):
        return _d("action_route_request")
    return None


def _confirmation(turn: Turn, intent: str) -> Decision | None:
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
        return _d("action_route_request")
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
