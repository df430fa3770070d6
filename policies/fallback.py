"""Last in line: the message was not understood, or the current phase has no rule for it.

First time: ask to rephrase. Second in a row: offer a person (an "affirm" then hands off). While a question
is pending (a booking detail, a choice, a confirmation), the question itself is asked again instead.
"""

from __future__ import annotations

from bot.core.dialogue import Decision, Turn

_ASKING_PHASES = frozenset({"consent", "intake", "booking", "confirmation"})


class FallbackPolicy:
    name = "FallbackPolicy"

    def __init__(self, low_confidence_limit: int = 2) -> None:
        self.limit = low_confidence_limit

    def predict(self, turn: Turn) -> Decision | None:
        if turn.phase in ("handoff",):
            return None
        reason = "low_confidence" if turn.intent == "nlu_fallback" else "no_transition"
        if turn.parse.get("asked") and turn.phase in _ASKING_PHASES:
            # an answer to the pending question that was not understood: the question again, in other words
            # (numbered options, examples), and a person after a second failure (bot/core/repeats.py)
            return Decision(self.name, ("action_reprompt",), fallback_reason=reason)
        if turn.tracker.low_confidence_streak + 1 >= self.limit:
            return Decision(self.name, ("action_offer_human",), fallback_reason=reason)
        return Decision(self.name, ("utter_ask_rephrase",), fallback_reason=reason)
