"""The clinic's conversation, as a python-statemachine chart.

Read it as the practice's script: six assistant phases inside one compound state, so "a person takes
over", "the patient opts out" and "the conversation closes" are each one transition from anywhere, and a
history state returns the conversation to the phase it left. ``PHASES`` says, next to the states it
describes, which responses each phase may send and whether an LLM may paraphrase there.

Strict on purpose: an event with no transition raises ``TransitionNotAllowed`` (the dialogue turns it into
an explicit fallback) and callback errors propagate instead of becoming events.
"""

from __future__ import annotations

from statemachine import HistoryState, State, StateChart

from bot.flow.phases import Phase

#: Answers allowed in every phase: general information, safety and control messages.
COMMON = (
    "utter_hours",
    "utter_location",
    "utter_services",
    "utter_prices",
    "utter_bot_challenge",
    "utter_emergency",
    "utter_clinical_redirect",
    "utter_portal",
    "utter_you_are_welcome",
    "utter_out_of_scope",
    "utter_ask_rephrase",
    "utter_offer_human",
    "utter_handoff",
    "utter_opted_out",
    "utter_goodbye",
    "utter_arco_ack",
    "utter_privacy_use",
    "utter_not_now",
    "utter_anything_else",
    "utter_welcome_brief",
    "utter_appointment_kept",
    "utter_greet_again",
    "utter_consent_request",
    "utter_consent_request_name",
    "utter_handoff_back",
    # which of several appointments (actions/select.py), and the second way of asking each question
    # (bot/core/repeats.py): wherever a request or a question can come up
    "utter_which_appointment",
    "utter_ask_service_retry",
    "utter_ask_person_retry",
    "utter_ask_time_retry",
    "utter_ask_choice_retry",
    "utter_confirm_retry",
    "utter_service_info",  # price, duration, physician of one service (actions/info.py)
    "utter_physicians",
    "utter_faq",  # clinic.yml faq: (actions/faq.py)
    # bot.app.reminders, outside any patient turn: in every phase but opted_out (a person handling the
    # conversation does not cancel the reminder the patient asked for, so handoff allows it too)
    "utter_appointment_reminder",
    "utter_follow_up",  # bot.app.followups: the post-visit check-in and the no-show rebooking offer
    "utter_no_show_rebook",
    # the answers to them (bot/core/aftercare.py, actions/aftercare.py) and the portal's notice
    "utter_appointment_confirmed",
    "utter_rating_thanks",
    "utter_comment_received",
    "utter_portal_notice",
)


class ClinicFlow(StateChart):
    allow_event_without_transition = False  # strict: unknown events raise TransitionNotAllowed
    catch_errors_as_events = False  # strict: errors raise

    class assistant(State.Compound):
        greeting = State(initial=True)
        consent = State()
        intake = State()
        booking = State()
        confirmation = State()
        follow_up = State()
        resume = HistoryState()

        consent_requested = greeting.to(consent) | intake.to(consent) | follow_up.to(consent)
        consent_given = consent.to(intake)
        consent_declined = consent.to(greeting)
        details_requested = greeting.to(intake) | follow_up.to(intake) | booking.to(intake)
        details_complete = intake.to(booking)
        appointment_selected = greeting.to(booking) | intake.to(booking) | follow_up.to(booking)
        slot_chosen = booking.to(confirmation)
        change_requested = confirmation.to(booking)
        booking_confirmed = confirmation.to(follow_up)
        started_over = (
            consent.to(greeting)
            | intake.to(greeting)
            | booking.to(greeting)
            | confirmation.to(greeting)
            | follow_up.to(greeting)
        )

    handoff = State()
    opted_out = State()
    closed = State()

    human_requested = assistant.to(handoff)
    agent_resolved = handoff.to(assistant.resume)
    opt_out = assistant.to(opted_out) | handoff.to(opted_out) | closed.to(opted_out)
    opt_in = opted_out.to(assistant)
    conversation_closed = assistant.to(closed)
    reopened = closed.to(assistant)


_BOOKING = (
    "utter_booking_offers",
    "utter_offers_asked_taken",  # the asked time is not free: say so, then the nearest (actions/offers.py)
    "utter_offers_asked_closed",
    "utter_offers_asked_soon",
    "utter_offers_asked_far",
    "utter_ask_time",
    "utter_no_slots",
    "utter_slot_taken",
    "utter_ask_choice",
    "utter_no_appointments",
    "utter_ask_new_time",
)

PHASES: dict[str, Phase] = {
    "greeting": Phase(
        paraphrase=True,
        responses=(
            *COMMON,
            "utter_greet",
            "utter_consent_declined",
            "utter_appointments",
            "utter_no_appointments",
            "utter_consent_thanks",
        ),
    ),
    "consent": Phase(paraphrase=False, responses=(*COMMON, "utter_consent_reminder")),
    "intake": Phase(
        paraphrase=True,
        responses=(
            *COMMON,
            "utter_consent_thanks",
            "utter_ask_service",
            "utter_ask_service_time",
            "utter_ask_person",
            "utter_ask_person_time",
            "utter_ask_time",
            *_BOOKING,
        ),
    ),
    "booking": Phase(
        paraphrase=False,
        responses=(
            *COMMON,
            *_BOOKING,
            "utter_consent_thanks",
            "utter_appointments",
            "utter_ask_service",
            "utter_ask_service_time",
            "utter_ask_person",
            "utter_ask_person_time",
        ),
    ),
    "confirmation": Phase(
        paraphrase=False,
        responses=(
            *COMMON,
            "utter_confirm_booking",
            "utter_confirm_reschedule",
            "utter_confirm_cancel",
            *_BOOKING,
        ),
    ),
    "follow_up": Phase(
        paraphrase=True,
        responses=(
            *COMMON,
            "utter_booked",
            "utter_rescheduled",
            "utter_cancelled",
            "utter_ask_reminders",
            "utter_reminders_on",
            "utter_reminders_off",
            "utter_appointments",
            "utter_no_appointments",
            "utter_ask_service",
            "utter_ask_service_time",
            "utter_ask_person",
            "utter_ask_person_time",
            *_BOOKING,
        ),
    ),
    "handoff": Phase(
        paraphrase=False,
        # utter_opted_out: an opt-out keyword is honoured during a handoff too, and the processor checks
        # the reply against the phase it is sent in, before action_opt_out's transition to opted_out
        responses=("utter_emergency", "utter_handoff_waiting", "utter_handoff_back",
                   "utter_appointment_reminder", "utter_follow_up", "utter_no_show_rebook",
                   "utter_portal_notice", "utter_opted_out"),
    ),
    "opted_out": Phase(
        paraphrase=False,
        responses=(
            "utter_emergency",
            "utter_clinical_redirect",
            "utter_opted_out_reminder",
            "utter_opted_in",
            "utter_opted_out",
        ),
    ),
    "closed": Phase(paraphrase=False, responses=(*COMMON,)),
}
