"""What went wrong on the way, turn by turn: the incidents a failure is explained by.

``fatal`` incidents can explain a failed conversation (the last one before the end is its cause: an
answer not understood, a dropped request, the clinical redirect, offers on another day ...); the others
cost messages or quality (a question asked although the patient had said it, an answer that did not fit
the question, an unavailable time not announced) and are counted, not blamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.patients.phrases import normalise
from tests.patients.reading import done_of, fits, offers_of, question_of
from tests.patients.when import date_words, in_window

if TYPE_CHECKING:
    from tests.patients.patient import SimulatedPatient
    from tests.patients.simulator import Conversation

ANSWERED = ("consent", "service", "person", "time", "choice", "confirm", "confirm_cancel", "reminders")
_UNAVAILABLE = (
    "no hay",
    "no tengo",
    "ocupad",
    "no esta disponible",
    "ya no",
    "no queda",
    "lleno",
    "no me queda",
)


@dataclass(frozen=True)
class Incident:
    turn: int  # 1-based patient message
    kind: str
    detail: str = ""
    fatal: bool = True


def observe_turn(
    conv: Conversation, talker: SimulatedPatient, clinic: Any, slots: Mapping[str, Any]
) -> list[Incident]:
    """Incidents of the last turn; ``talker`` is still as it was when it sent the message."""
    turn = conv.turns[-1]
    n = len(conv.turns)
    p = talker.p
    out: list[Incident] = []
    asked = [question_of(r.response, r.text) for r in turn.replies]
    questions = [q for q in asked if q is not None]
    new_q = questions[-1] if questions else None
    responses = [r.response for r in turn.replies]
    said = f"{turn.text!r} (intent {turn.intent})"

    if "redirect" in asked and turn.act != "interrupt":
        out.append(Incident(n, "clinical_redirect", f"{turn.text!r} got the clinical redirect"))
    if n == 1 and p.opening_kind not in ("greet", "question") and new_q == "open":
        out.append(Incident(n, "dropped_request", f"{turn.text!r} got only {responses}"))
    elif n == 1 and p.goal in ("reschedule", "cancel") and new_q in ("service", "person", "consent", "open"):
        out.append(Incident(n, f"{p.goal}_read_as_booking", f"{said} got {responses}"))
    if "handoff" in asked:  # the kind says what the patient was doing: "handoff:answer:person"
        why = "offered and accepted" if turn.act == "answer:offer_human" else f"on {said}"
        out.append(Incident(n, f"handoff:{turn.act}", why))
    if "error" in asked:
        out.append(Incident(n, f"error:{turn.act}", said))
    if "emergency" in asked:
        out.append(Incident(n, f"emergency:{turn.act}", f"{said} got the emergency answer"))
    if "offer_human" in asked and turn.act != "answer:offer_human":
        out.append(Incident(n, "offered_human", said, fatal=False))

    kind = turn.act.split(":", 1)[1] if turn.act.startswith("answer:") else None
    no_slots = "utter_no_slots" in responses
    finished = talker.done or any(done_of(r.response, r.text) for r in turn.replies)
    repeated = (new_q in (kind, "rephrase") and not no_slots) or new_q == "offer_human"
    if kind in ("confirm", "confirm_cancel") and new_q == "open" and not finished:
        repeated = True  # the yes was not taken as a yes: nothing done, "¿algo más?"
    if kind in ANSWERED and repeated:
        out.append(Incident(n, f"not_understood:{kind}", said))
    elif (
        kind is None
        and turn.act in ("opening", "request", "reject", "change")
        and new_q in ("rephrase", "offer_human")
    ):
        out.append(Incident(n, f"not_understood:{turn.act}", said))
    if no_slots and talker.situation.day_free:
        out.append(Incident(n, "no_slots_but_free", f"{talker.want.when!r}: the day has room"))

    earlier = {question_of(r.response, r.text) for t in conv.turns[:-1] for r in t.replies}
    if (
        new_q in ("service", "person", "time")
        and new_q in talker.said
        and new_q not in earlier
        and turn.act not in (f"answer:{new_q}", "reject", "change")
        and not no_slots
    ):
        out.append(Incident(n, f"asked_again:{new_q}", f"the patient had already said its {new_q}", False))
    elif turn.act == "change" and p.changed is not None and new_q in ("service", "person", "time"):
        kept = "time" if p.changed.service != p.want.service else "service"
        if new_q in (kept, "person"):
            out.append(
                Incident(
                    n, f"asked_again:{new_q}", f"after {turn.text!r}, which changed only one thing", False
                )
            )

    if new_q == "choice" and "time" in talker.said and turn.act not in ("answer:choice", "interrupt"):
        out += _offers(n, turn, talker, slots)
    if turn.act == "interrupt" or (turn.act == "opening" and p.goal == "ask_then_book"):
        topic = p.topic or ""
        text = "\n".join(r.text for r, q in zip(turn.replies, asked, strict=True) if q is None) or "\n".join(
            r.text for r in turn.replies
        )
        service = talker.want.service if (turn.act == "interrupt" or topic == "price") else None
        reason = fits(topic, text, clinic, service)
        if reason:
            out.append(Incident(n, f"answer_misfit:{topic}", f"{turn.text!r}: {reason}", False))
        if turn.act == "interrupt" and not questions:
            out.append(
                Incident(n, "no_reprompt", "after the answer, the pending question was not asked", False)
            )
    target = talker.situation.target_id
    if target and not finished and slots.get("appointment_id") not in (None, target):
        out.append(
            Incident(n, "wrong_appointment_selected", "working on another of the patient's appointments")
        )
    person = slots.get("person")
    if (
        p.books
        and isinstance(person, str)
        and "person" in talker.said
        and normalise(person) != normalise(p.name)
    ):
        out.append(Incident(n, "person_misread", f"the name slot holds {person!r}", fatal=False))
    seen = {(i.kind, i.detail) for i in conv.incidents}
    return [i for i in out if (i.kind, i.detail) not in seen]


def _offers(n: int, turn: Any, talker: SimulatedPatient, slots: Mapping[str, Any]) -> list[Incident]:
    want, situation = talker.want, talker.situation
    text = next((r.text for r in reversed(turn.replies) if question_of(r.response, r.text) == "choice"), "")
    now = talker.p.clock
    offers = offers_of(slots, text, now)
    if not offers or not situation.day_free:
        return []
    days = ", ".join(sorted({date_words(o.date()) for o in offers}))
    on_day = [o for o in offers if o.date() == want.day]
    asked = f"asked {want.when!r} ({date_words(want.day)})"
    if not on_day:
        return [Incident(n, "offers_off_day", f"{asked}, offered {days}")]
    out = []
    hours = ", ".join(f"{o:%H:%M}" for o in on_day)
    if offers[0].date() != want.day:
        out.append(
            Incident(n, "first_offer_other_day", f"{asked}, first offer {date_words(offers[0].date())}")
        )
    if want.window and situation.window_free and not any(in_window(o, want.window) for o in on_day):
        out.append(Incident(n, "offers_off_time", f"{asked}, offered {hours} that day"))
    elif want.window and situation.window_free and not in_window(offers[0], want.window):
        out.append(Incident(n, "asked_time_not_first", f"{asked}, offered {hours} in that order"))
    if want.window and not situation.window_free and not any(w in normalise(text) for w in _UNAVAILABLE):
        out.append(Incident(n, "unannounced_unavailable", f"{asked}: not free, not said", False))
    return out
