"""Consent for personal data: asked before any booking, recorded with evidence, revocable per purpose."""

from __future__ import annotations

from actions.booking import route_request
from actions.common import BOOKING_SLOTS, DETAIL_SLOTS, consent_channel, evidence, patient_ref, slot
from bot.core.dialogue import FlowEvent, Output, Turn, Utter

NECESSARY = ("appointments",)
VOLUNTARY = ("reminders", "follow_up")


class GrantConsent:
    name = "action_grant_consent"

    def run(self, turn: Turn) -> list[Output]:
        turn.services.consent.grant(patient_ref(turn), NECESSARY, consent_channel(turn), evidence(turn))
        out: list[Output] = [slot("consent_given", True), slot("consent_declined", None)]
        if turn.phase == "consent":
            out.append(FlowEvent("consent_given"))
        out.append(Utter("utter_consent_thanks"))
        pending = turn.slot("pending_intent") or "book_appointment"
        out.append(slot("pending_intent", None))
        out.extend(route_request(turn, pending, consented=True))
        return out


class DeclineConsent:
    name = "action_decline_consent"

    def run(self, turn: Turn) -> list[Output]:
        # "no guardaremos sus datos": nothing said with the refusal or before it is kept for a booking
        forgotten = [slot(name, None) for name in (*BOOKING_SLOTS, *DETAIL_SLOTS)]
        return [
            *forgotten,
            slot("consent_declined", True),
            slot("pending_intent", None),
            FlowEvent("consent_declined"),
            Utter("utter_consent_declined"),
        ]


class RemindersOptIn:
    name = "action_reminders_opt_in"

    def run(self, turn: Turn) -> list[Output]:
        turn.services.consent.grant(patient_ref(turn), VOLUNTARY, consent_channel(turn), evidence(turn))
        return [slot("reminders_opt_in", True), slot("asked_reminders", None), Utter("utter_reminders_on")]


class RemindersOptOut:
    name = "action_reminders_opt_out"

    def run(self, turn: Turn) -> list[Output]:
        for purpose in VOLUNTARY:
            if turn.services.consent.has(patient_ref(turn), purpose):
                turn.services.consent.revoke(
                    patient_ref(turn), purpose, consent_channel(turn), evidence(turn)
                )
        return [slot("reminders_opt_in", False), slot("asked_reminders", None), Utter("utter_reminders_off")]
