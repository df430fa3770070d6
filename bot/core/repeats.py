"""The same question is never sent three times in a row (issue 17), whatever action asks it.

The processor passes every response through :func:`vary` before rendering it. For an asking response (one
that declares ``expects:`` in domain.yml) it counts how many of the assistant's previous turns ended
asking the same question: once before, and the patient's answer was not understood, it is asked
differently (``<name>_retry``, or the retry of its kind: numbered options, examples of what is accepted);
twice before, a person is offered instead (``utter_offer_human``; an "affirm" right after hands off).
"""

from __future__ import annotations

from bot.core.dialogue import Utter
from bot.core.domain import Domain
from bot.core.events import BotUttered, Event, SlotSet, UserUttered
from bot.core.tracker import Tracker

OFFER_HUMAN = "utter_offer_human"
#: The second way of asking, per kind of answer expected, when a response has no ``<name>_retry``.
_RETRY_OF_KIND = {
    "choice": "utter_ask_choice_retry",
    "time": "utter_ask_time_retry",
    "yes_no": "utter_confirm_retry",
    "service": "utter_ask_service_retry",
    "person": "utter_ask_person_retry",
}
#: Responses that carry their own content (a list of offers): a new list is a new question.
_CONTENT = ("utter_booking_offers", "utter_offers_asked_")


def _key(domain: Domain, response: str, text: str) -> str | None:
    spec = domain.responses.get(response)
    if spec is None or not spec.expects or response == OFFER_HUMAN:
        return None
    if response.startswith(_CONTENT):
        return f"{spec.expects}:{text}"
    if spec.expects == "yes_no" and not response.startswith(("utter_confirm", "utter_ask_reminders")):
        return f"yes_no:{response}"
    return spec.expects


def _previous_questions(domain: Domain, tracker: Tracker) -> list[str | None]:
    """The question each earlier assistant turn ended on, most recent first (None: it asked nothing)."""
    turns: list[str | None] = []
    current: str | None = None
    seen_user = 0
    for ev in reversed(tracker.events):
        if isinstance(ev, UserUttered):
            seen_user += 1
            if seen_user > 1:
                turns.append(current)
                current = None
                if len(turns) >= 3:
                    break
        elif isinstance(ev, BotUttered) and seen_user >= 1 and current is None and ev.response:
            current = _key(domain, ev.response, ev.text) if domain.responses.get(ev.response) else None
            if current is None:
                current = ""  # the turn's last message asked nothing
    return turns


#: Slots whose change this turn means the patient's message moved the conversation on.
_PROGRESS = frozenset({"service", "person", "time", "physician", "relation", "chosen", "appointment_id"})


def _progress_this_turn(domain: Domain, tracker: Tracker) -> str | None:
    """Whether this turn was not a failed answer: "answered" if the assistant already answered something
    else (an interruption: the question is then only repeated), "detail" if the message set a detail of
    the request other than the one asked (it is then asked again in other words), else None."""
    events = tracker.events
    start = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], UserUttered)), 0)
    found = None
    for ev in events[start:]:
        if isinstance(ev, BotUttered) and ev.response and _key(domain, ev.response, ev.text) is None:
            return "answered"
        if isinstance(ev, SlotSet) and ev.name in _PROGRESS and ev.value is not None and found is None:
            before = next((e.value for e in reversed(events[:start])
                           if isinstance(e, SlotSet) and e.name == ev.name), None)
            if ev.value != before:  # the same detail said again is not progress
                found = "detail"
    return found


def vary(domain: Domain, tracker: Tracker, utter: Utter, text: str = "") -> tuple[Utter, list[Event]]:
    """The response to send instead of ``utter`` (and the events that go with it)."""
    key = _key(domain, utter.response, text)
    if key is None:
        return utter, []
    content = str(utter.values.get("offer_list") or "") if key.startswith("choice:") else ""
    streak = 0
    for asked in _previous_questions(domain, tracker):
        same = (asked or "").startswith("choice:") and content in (asked or "") if content else asked == key
        if not same:
            break
        streak += 1
    progress = _progress_this_turn(domain, tracker)
    if progress:
        # not a failed answer: an interruption was answered (the question is only repeated, but never three
        # times in the same words), or other details were given ("es para Ana, mañana": the same question
        # again reads as if they were not heard, so it is asked the other way)
        last = _last_asked(domain, tracker)
        if last == utter.response and streak >= 2:
            return _reworded(domain, utter), []
        if progress == "detail" and streak >= 1 and not content and last == utter.response:
            # the same words again read as if the details were not heard: asked the other way (new offers
            # after a change are the answer; "¿qué consulta y qué día?" -> "el lunes" -> "¿qué consulta?"
            # is already another question)
            return _reworded(domain, utter), []
        return utter, []
    if streak >= 2 and OFFER_HUMAN in domain.responses:
        return Utter(OFFER_HUMAN), [SlotSet(name="offered_human", value=True)]
    if streak == 1 and not key.startswith("choice:"):  # the same offers again: said, not re-worded
        return _reworded(domain, utter), []
    return utter, []


def _reworded(domain: Domain, utter: Utter) -> Utter:
    """The second way of asking ``utter`` (``<name>_retry``, else the retry of its kind), or ``utter``."""
    retry = f"{utter.response}_retry"
    if retry not in domain.responses:
        spec = domain.responses[utter.response]
        retry = _RETRY_OF_KIND.get(spec.expects or "", "")
    if retry in domain.responses and retry != utter.response:
        return Utter(retry, utter.values, utter.buttons)
    return utter


def _last_asked(domain: Domain, tracker: Tracker) -> str | None:
    """The asking response the previous assistant turn ended on (before the patient's latest message)."""
    seen_user = False
    for ev in reversed(tracker.events):
        if isinstance(ev, UserUttered):
            if seen_user:
                return None
            seen_user = True
        elif seen_user and isinstance(ev, BotUttered) and ev.response:
            spec = domain.responses.get(ev.response)
            return ev.response if spec is not None and spec.expects else None
    return None
