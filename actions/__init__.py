"""The clinic's custom actions, registered by name explicitly (no discovery by naming convention)."""

from __future__ import annotations

from bot.core.dialogue import Action


def registry() -> dict[str, Action]:
    from actions.aftercare import ConfirmAppointment, RateVisit, VisitComment
    from actions.booking import (
        ChooseSlot,
        ClearBooking,
        ClearTime,
        CollectDetails,
        CommitAppointment,
        OfferSlots,
        Reprompt,
        RouteRequest,
    )
    from actions.consent import DeclineConsent, GrantConsent, RemindersOptIn, RemindersOptOut
    from actions.faq import FaqAnswer
    from actions.handoff import (
        ArcoRequest,
        DeclineHuman,
        Handoff,
        HandoffAck,
        OfferHuman,
        OptIn,
        OptOut,
    )
    from actions.info import ServiceInfo
    from actions.portal import PortalLink
    from flows.script import ROUTES

    actions: list[Action] = [
        RouteRequest(),
        *(RouteRequest(name, intent) for intent, name in ROUTES.items()),
        CollectDetails(),
        OfferSlots(),
        ChooseSlot(),
        CommitAppointment(),
        ClearTime(),
        ClearBooking(),
        Reprompt(),
        GrantConsent(),
        DeclineConsent(),
        RemindersOptIn(),
        RemindersOptOut(),
        Handoff(),
        OptIn(),
        OptOut(),
        ArcoRequest(),
        OfferHuman(),
        DeclineHuman(),
        HandoffAck(),
        ServiceInfo(),
        FaqAnswer(),
        PortalLink(),
        ConfirmAppointment(),
        RateVisit(),
        VisitComment(),
    ]
    table: dict[str, Action] = {}
    for action in actions:
        if action.name in table:
            raise ValueError(f"action {action.name!r} registered twice")
        table[action.name] = action
    return table
