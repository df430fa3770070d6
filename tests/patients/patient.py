"""A simulated patient in conversation: reads what the assistant last said and answers what it last asked.

It answers in its own style first; asked the same thing again it says it another way, and from the third
time as plainly as it can (the clinic's own name for the service, "Nombre Apellido", a full date) — as
a real patient does. It checks what it is offered and what it is asked to confirm against what it wants,
unless it is an inattentive patient, who takes the first option.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.patients import phrases as ph
from tests.patients.generator import Patient, Want
from tests.patients.reading import (
    chosen_of,
    done_of,
    listed_position,
    numbered_options,
    offers_of,
    question_of,
    weekday_name,
)
from tests.patients.when import in_window


@dataclass
class Situation:
    """What the patient needs to know about the calendar (from the simulator's oracle)."""

    day_free: bool  # the wanted day has room for the service
    window_free: bool  # ... at the wanted time
    target_id: str | None = None  # reschedule / cancel: the appointment meant
    target_words: str = ""


@dataclass
class Reply:
    """One message from the assistant, as the patient sees it."""

    response: str | None
    text: str
    buttons: Sequence[Mapping[str, str]] = ()


#: How often a patient also answers the second thing one question asks for ("responda ACEPTO y el nombre
#: completo", "¿qué consulta y qué día?"), by register; the rest answer the first thing only.
BOTH_ANSWERED = {"formal": 0.7, "colloquial": 0.6, "short": 0.45}


class SimulatedPatient:
    def __init__(self, patient: Patient, clinic: Any, situation: dict[str, Situation]) -> None:
        self.p = patient
        self.clinic = clinic
        self.situations = situation  # "want" and, for a change of mind, "changed"
        self.rng = random.Random(f"talk:{patient.seed}:{patient.index}")
        self.want: Want = patient.want
        self.situation = situation["want"]
        self.said: set[str] = set(patient.given)
        self.requested = patient.opening_kind not in ("greet", "question")
        self.question: str | None = None
        self.act = "opening"  # what the last message was: "answer:<kind>", "interrupt", "change", ...
        self.attempts: Counter[str] = Counter()
        self.interrupted = False
        self.changed = False
        self.done: str | None = None
        self.ended: str | None = None  # why the patient stopped ("handoff", "closed", ...), if not done
        self.picked: datetime | None = None

    # -- one turn -----------------------------------------------------------------------------------
    def opening(self) -> str:
        return self.p.opening

    def respond(self, replies: Sequence[Reply], slots: Mapping[str, Any], now: datetime) -> str | None:
        """The next message, or None when the patient stops talking."""
        if not replies:
            self.ended = "silence"
            return None
        asked = [question_of(r.response, r.text) for r in replies]
        for r in replies:
            self.done = self.done or done_of(r.response, r.text)
        for kind in ("handoff", "error", "closed", "emergency"):
            if kind in asked:
                self.ended = kind
                return None
        questions = [q for q in asked if q is not None]
        previous = self.question
        if questions:
            self.question = questions[-1]
        elif self.act.startswith("answer") or self.act in ("request", "opening"):
            self.question = "open"  # answered, and nothing new asked: the patient says what it wants
        q = self.question
        if previous == q and self.act.startswith("answer"):
            self.attempts[q or ""] += 1
        elif previous != q:
            self.attempts.clear()
        last = replies[-1]
        if self.done:
            if q == "reminders" and self.act != "answer:reminders":
                return self._say(self._yes_no(self.rng.random() < 0.6), "answer:reminders")
            self.ended = self.ended or "finished"
            return None
        if q == "no_appointments" and not self.p.books:
            self.ended = "not_found"
            return None
        if self.p.goal == "ask_then_book" and not self.requested:
            self.requested = True
            return self._say(self.p.follow_up or "quiero una cita", "request")
        if self.p.goal == "cancel" and q in ("service", "person", "time", "choice", "confirm"):
            return self._say(f"no, solo quiero cancelar mi cita, {self._la_de()}", "reject")
        if self.p.goal == "reschedule" and q in ("service", "person") and not slots.get("appointment_id"):
            return self._say(f"no, quiero cambiar la cita que ya tengo, {self._la_de()}", "reject")
        if self._change_due(q):
            return self._change()
        if self._interruption_due(q):
            self.interrupted = True
            return self._say(self.p.topic_text or "¿cuánto cuesta?", "interrupt")
        return self._answer(q, last, slots, now)

    def _answer(self, q: str | None, last: Reply, slots: Mapping[str, Any], now: datetime) -> str:
        attempt = self.attempts[q or ""]
        if q == "consent":
            return self._consent(last, attempt)
        if q == "service":
            return self._service(last, attempt)
        if q == "person":
            return self._person(last, attempt)
        if q == "time":
            return self._time(attempt)
        if q == "choice":
            return self._choice(last, slots, now, attempt)
        if q == "confirm":
            return self._confirm(last, slots, now)
        if q == "confirm_cancel":
            good = slots.get("appointment_id") in (None, self.situation.target_id) or not self.p.attentive
            if good:
                return self._tap_or_say(self._yes_no(True, last), last, "answer:confirm_cancel")
            return self._say(f"no, {self._la_de()}", "reject")
        if q == "reminders":
            return self._tap_or_say(self._yes_no(self.rng.random() < 0.6, last), last, "answer:reminders")
        if q == "offer_human":
            if self.p.accepts_human:
                return self._tap_or_say(self._yes_no(True, last), last, "answer:offer_human")
            return self._say("no, sigamos por aquí", "answer:offer_human")
        if q == "redirect":
            return self._say(self._request(plain=True), "request")
        if q == "rephrase":
            return self._rephrase(last, slots, now)
        # open (greeting, "¿algo más?"); a greeting that asks which service and day may get both
        asks_day = "que dia" in ph.normalise(last.text)
        invited = not self.requested and asks_day and self._invited(last, "consulta")
        return self._say(self._request(plain=self.requested, detailed=invited), "request")

    # -- answers ------------------------------------------------------------------------------------
    def _say(self, text: str, act: str, typed: bool = True) -> str:
        self.act = act
        if act.startswith("answer:"):
            self.said.add(act.split(":", 1)[1])
        return ph.write(text, self.p.orthography, self.rng, keep=(self.p.name,)) if typed else text

    def _tap_or_say(self, text: str, last: Reply, act: str) -> str:
        """A button's title is sent as it is (a tap); anything else is typed in the patient's style."""
        tapped = any(text == b.get("title") for b in last.buttons)
        return self._say(text, act, typed=not tapped)

    def _yes_no(self, yes: bool, last: Reply | None = None) -> str:
        if last is not None and last.buttons and self.p.buttons:
            titles = [b.get("title", "") for b in last.buttons]
            wanted = ("si", "sí", "yes", "acepto") if yes else ("no", "no acepto")
            for title in titles:
                if ph.normalise(title) in [ph.normalise(w) for w in wanted]:
                    return title
        bank = ph.YES if yes else ph.NO
        return self.rng.choice(bank[self.p.register])

    def _consent(self, last: Reply, attempt: int) -> str:
        if attempt >= 2:
            return self._say("ACEPTO", "answer:consent")
        if last.buttons and self.p.buttons:
            return self._tap_or_say(self._yes_no(True, last), last, "answer:consent")
        text = self.rng.choice(ph.CONSENT[self.p.register])
        invited = attempt == 0 and self._invited(last, "nombre")
        if (self.p.volunteer or invited) and attempt == 0 and "person" not in self.said:
            self.said.add("person")  # "acepto, me llamo Ana Ruiz": the name comes with the consent
            text = f"{text}, {self.p.name_answer}"
        return self._say(text, "answer:consent")

    def _service(self, last: Reply, attempt: int) -> str:
        service = self.clinic.service(self.want.service)
        words = ph.SERVICES[service.id]
        options = numbered_options(last.text)
        listed = [n for n, label in options if ph.normalise(service.name) in ph.normalise(label)]
        if last.buttons and self.p.buttons:
            for b in last.buttons:
                if ph.normalise(service.name) in ph.normalise(b.get("title", "")):
                    return self._say(b.get("title", ""), "answer:service", typed=False)
        position = listed_position(last.text, service.name)
        by_position = position is not None and self.p.register == "colloquial" and self.rng.random() < 0.4
        if attempt == 0 and position is not None and by_position:
            template = self.rng.choice(("la {o}", "la {o} opción", "la {o} porfa"))
            text = template.format(o=ph.ORDINALS[position])
        elif attempt == 0:
            text = (
                self.p.service_answer if self.want is self.p.want else self.rng.choice(words.answers["short"])
            )
            if (self.p.volunteer or self._invited(last, "que dia")) and "time" not in self.said:
                self.said.add("time")
                form = self.rng.choice(("{s}, para {w}", "{s} {w}", "{s}, {w}"))
                text = form.format(s=text, w=self.want.when)
        elif attempt == 1:
            text = (
                listed[0] if listed and self.rng.random() < 0.5 else self.rng.choice(words.answers["short"])
            )
        else:
            text = listed[0] if listed else service.name
        return self._say(text, "answer:service")

    def _invited(self, last: Reply, words: str) -> bool:
        """Whether the question also asks for ``words`` and this patient answers that too."""
        return words in ph.normalise(last.text) and self.rng.random() < BOTH_ANSWERED[self.p.register]

    def _person(self, last: Reply, attempt: int) -> str:
        name = self.p.name
        if attempt == 0:
            text = self.p.name_answer
            if (self.p.volunteer or self._invited(last, "que dia")) and "time" not in self.said:
                self.said.add("time")
                text = f"{text}, para {self.want.when}"
        elif attempt == 1:
            text = f"Se llama {name}" if self.p.relation else f"Me llamo {name}"
        else:
            text = name
        return self._say(text, "answer:person")

    def _time(self, attempt: int) -> str:
        text = self.want.when if attempt == 0 else self.want.canonical
        return self._say(text, "answer:time")

    def _acceptable(self, start: datetime, service: str | None = None) -> bool:
        if service is not None and service != self.want.service:
            return False
        if not self.situation.day_free:
            return True  # nothing that day: the patient takes what there is
        if start.date() != self.want.day:
            return False
        return in_window(start, self.want.window) or not self.situation.window_free

    def _choice(self, last: Reply, slots: Mapping[str, Any], now: datetime, attempt: int) -> str:
        offers = offers_of(slots, last.text, now)
        index = 0 if (offers and not self.p.attentive) else None
        if index is None:
            good = [i for i, start in enumerate(offers) if self._acceptable(start)]
            if good and self.want.window and not self.situation.window_free:  # the closest on the day
                middle = (self.want.window[0] + self.want.window[1]) // 2
                good.sort(key=lambda i: abs(offers[i].hour * 60 + offers[i].minute - middle))
            index = good[0] if good else None
        if index is None:
            if not offers:
                return self._say(self.want.when, "answer:time")
            text = self.rng.choice(ph.REJECT).format(when=self.want.when)
            return self._say(text, "reject")
        self.picked = offers[index]
        words = self._pick_words(offers, index, last, attempt)
        return self._tap_or_say(words, last, "answer:choice")

    def _pick_words(self, offers: list[datetime], index: int, last: Reply, attempt: int) -> str:
        n = str(index + 1)
        if attempt >= 2:
            return n
        if last.buttons and self.p.buttons and index < len(last.buttons):
            return last.buttons[index].get("title", n)
        start = offers[index]
        hour12 = start.hour % 12 or 12
        hour = f"{hour12}" if start.minute == 0 else f"{hour12} y media"
        options = []
        for template in ph.PICK[self.p.register]:
            if (
                "{hour}" in template
                and sum(o.hour == start.hour and o.minute == start.minute for o in offers) > 1
            ):
                continue
            if "{weekday}" in template and sum(o.date() == start.date() for o in offers) > 1:
                continue
            options.append(template)
        template = self.rng.choice(options)
        return template.format(n=n, ordinal=ph.ORDINALS[index] if index < 3 else n, hour=hour,
                               weekday=weekday_name(start))  # fmt: skip

    def _confirm(self, last: Reply, slots: Mapping[str, Any], now: datetime) -> str:
        chosen = chosen_of(slots, now)
        good = True
        if self.p.attentive and chosen is not None:
            start, service = chosen
            good = self._acceptable(start, service if self.p.books else None)
        if self.p.attentive and self.p.goal == "reschedule":
            if last.response == "utter_confirm_booking":
                return self._say(f"no, no quiero otra cita, quiero cambiar {self._la_de()}", "reject")
            if slots.get("appointment_id") not in (None, self.situation.target_id):
                return self._say(f"no, es otra cita, {self._la_de()}", "reject")
        if good:
            return self._tap_or_say(self._yes_no(True, last), last, "answer:confirm")
        text = self.rng.choice(ph.WRONG_CONFIRM).format(when=self.want.when)
        return self._say(text, "reject")

    def _rephrase(self, last: Reply, slots: Mapping[str, Any], now: datetime) -> str:
        """Not understood: the last answer again, as plainly as possible (or the request)."""
        kind = self.act.split(":", 1)[1] if self.act.startswith("answer:") else None
        if kind in ("service", "person", "time", "consent"):
            self.attempts[kind] = 2
            self.question = kind
            return self._answer(kind, last, slots, now)
        if kind == "choice" and self.picked is not None:
            offers = offers_of(slots, "", now)
            number = offers.index(self.picked) + 1 if self.picked in offers else 1
            return self._say(str(number), "answer:choice")
        return self._say(self._request(plain=True), "request")

    def _request(self, plain: bool, detailed: bool = False) -> str:
        service = self.clinic.service(self.want.service)
        words = ph.SERVICES[service.id]
        if self.p.goal == "reschedule":
            return "Quiero cambiar mi cita"
        if self.p.goal == "cancel":
            return "Quiero cancelar mi cita"
        self.requested = True
        if plain:
            return f"Quiero agendar una cita de {service.name.lower()}"
        template = self.rng.choice(ph.REQUEST_SERVICE if detailed else ph.REQUEST_SERVICE + ph.REQUEST_PLAIN)
        if "{" in template:
            self.said.add("service")
        if detailed and self.p.goal != "change_mind" and "time" not in self.said:
            self.said.add("time")
            template = f"{template.rstrip('?')} {self.want.when}"
        return template.format(noun=self.rng.choice(words.noun), con=self.rng.choice(words.con))

    def _la_de(self) -> str:
        """The appointment meant: "la del viernes", "la de mañana"."""
        words = self.situation.target_words or "la que tengo"
        return f"la del {words[3:]}" if words.startswith("el ") else f"la de {words}"

    # -- change of mind -----------------------------------------------------------------------------
    def _change_due(self, q: str | None) -> bool:
        """At the question planned, or the next one of the booking if that one was never asked."""
        if not self.p.change_at or self.changed or self.p.changed is None:
            return False
        order = ("time", "choice", "confirm")
        return q in order[order.index(self.p.change_at) :]

    def _interruption_due(self, q: str | None) -> bool:
        if not self.p.interrupt_at or self.interrupted:
            return False
        order = ("person", "time", "choice", "confirm")
        return q in order[order.index(self.p.interrupt_at) :]

    def _change(self) -> str:
        self.changed = True
        assert self.p.changed is not None
        self.want = self.p.changed
        self.situation = self.situations.get("changed", self.situation)
        self.picked = None
        return self._say(self.p.change_text or "mejor otro día", "change")
