"""Handing the conversation to a person, opting out of messages and back in, ARCO requests."""

from __future__ import annotations

import re

from actions.common import consent_channel, evidence, patient_ref, slot
from bot.core.dialogue import FlowEvent, Output, Turn, Utter
from bot.core.events import BotUttered, HandoffEnded, HandoffStarted

_ARCO_KINDS = (
    ("cancellation", re.compile(r"borr|elimin|cancel|suprim|delete|erase|remove", re.I)),
    ("rectification", re.compile(r"correg|rectific|actualiz|cambiar mi|correct|update", re.I)),
    (
        "opposition",
        re.compile(r"me opongo|oposici|no (quiero que )?usen|dejen de usar|object|stop using", re.I),
    ),
)


class Handoff:
    name = "action_handoff"

    def run(self, turn: Turn) -> list[Output]:
        reason = "requested" if turn.intent == "request_human" else "low_confidence"
        turn.services.audit.append(
            "bot", "handoff.started", f"patient:{patient_ref(turn)}", {"reason": reason, "phase": turn.phase}
        )
        return [
            Utter("utter_handoff"),
            slot("offered_human", None),
            HandoffStarted(reason=reason),
            FlowEvent("human_requested"),
        ]


class OptOut:
    name = "action_opt_out"

    def run(self, turn: Turn) -> list[Output]:
        ref = patient_ref(turn)
        for purpose in ("reminders", "follow_up", "surveys"):
            if turn.services.consent.has(ref, purpose):
                turn.services.consent.revoke(ref, purpose, consent_channel(turn), evidence(turn))
        turn.services.audit.append(
            f"patient:{ref}", "messaging.opted_out", f"patient:{ref}", {"channel": turn.channel}
        )
        out: list[Output] = [
            Utter("utter_opted_out"),
            slot("opted_out", True),
            slot("reminders_opt_in", False),
        ]
        if turn.tracker.in_handoff:
            # honoured during a handoff too: the person stops writing (the inbox no longer lists it)
            out.append(HandoffEnded())
        out.append(FlowEvent("opt_out"))
        return out


class OptIn:
    name = "action_opt_in"

    def run(self, turn: Turn) -> list[Output]:
        turn.services.audit.append(
            f"patient:{patient_ref(turn)}",
            "messaging.opted_in",
            f"patient:{patient_ref(turn)}",
            {"channel": turn.channel},
        )
        return [Utter("utter_opted_in"), slot("opted_out", None), FlowEvent("opt_in")]


class ArcoRequest:
    name = "action_arco_request"

    def run(self, turn: Turn) -> list[Output]:
        kind = next((k for k, rx in _ARCO_KINDS if rx.search(turn.text)), "access")
        request = turn.services.arco.open(patient_ref(turn), kind, turn.channel)
        due = request.due_date.strftime("%d/%m/%Y")
        return [
            Utter(
                "utter_arco_ack",
                {"arco_kind": _KIND_ES[kind], "arco_due_date": due, "arco_id": str(request.id)[:8]},
            )
        ]


_KIND_ES = {
    "access": "acceso",
    "rectification": "rectificación",
    "cancellation": "cancelación",
    "opposition": "oposición",
}


class HandoffAck:
    """While a person has the conversation: "your message is noted" the first time, then at most hourly."""

    name = "action_handoff_ack"
    every_seconds = 3600.0

    def run(self, turn: Turn) -> list[Output]:
        latest = turn.tracker.latest_message  # events carry the same clock as each other
        now = latest.timestamp if latest is not None else turn.now.timestamp()
        for ev in reversed(turn.tracker.events):
            if isinstance(ev, HandoffStarted):
                break
            if isinstance(ev, BotUttered) and ev.response == "utter_handoff_waiting":
                if abs(now - ev.timestamp) < self.every_seconds:
                    return []
                break
        return [Utter("utter_handoff_waiting")]


class DeclineHuman:
    """The patient prefers to go on with the assistant: the offer is withdrawn, the question re-asked."""

    name = "action_decline_human"

    def run(self, turn: Turn) -> list[Output]:
        return [slot("offered_human", None)]


class OfferHuman:
    """After two messages in a row it could not follow, the assistant offers a person."""

    name = "action_offer_human"

    def run(self, turn: Turn) -> list[Output]:
        return [slot("offered_human", True), Utter("utter_offer_human")]
