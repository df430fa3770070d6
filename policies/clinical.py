"""A clinical question gets the fixed secure-portal redirect in any phase, never paraphrased."""

from __future__ import annotations

from bot.core.dialogue import Decision, Turn


class ClinicalRequestPolicy:
    name = "ClinicalRequestPolicy"

    def __init__(self, min_confidence: float = 0.3) -> None:
        self.min_confidence = min_confidence

    def predict(self, turn: Turn) -> Decision | None:
        if turn.phase == "handoff":
            return None  # a person is answering; their text still passes the disclosure gate
        asked = turn.intent == "ask_clinical_info" and turn.confidence >= self.min_confidence
        ranked = any(
            r.get("name") == "ask_clinical_info" and float(r.get("confidence", 0)) >= 0.45
            for r in turn.parse.get("intent_ranking") or ()
        )
        if asked or ranked:
            return Decision(self.name, ("utter_clinical_redirect",))
        return None
