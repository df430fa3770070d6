"""Emergencies first, in every phase — even before consent, during a handoff or after an opt-out."""

from __future__ import annotations

import re
import unicodedata

from bot.core.dialogue import Decision, Turn

#: A deterministic safety net under the NLU model: these phrases always get the emergency answer.
_PATTERNS = re.compile(
    r"no puedo respirar|me (estoy )?ahog|dolor (muy )?(fuerte )?(en el |de |del )?pecho|infarto|"
    r"me quiero (morir|suicidar|matar)|suicid|quitarme la vida|sangr\w* (mucho|demasiado|sin parar)|"
    r"hemorragia|se desmay|me desmay|inconscien|convulsi|envenen|intoxic|sobredosis|"
    r"emergencia|urgencia|accidente|chocamos|atropell|herid[oa]s?\b|no respira|"
    r"can'?t breathe|chest pain|heart attack|overdose|kill myself|unconscious",
    re.IGNORECASE,
)


#: Words of an appointment request, with the usual misspellings.
_APPOINTMENT = re.compile(
    r"\b(?:[cs]itas?|consultas?|agend\w*|apart\w*|reserv\w*|turno|horarios?)\b", re.IGNORECASE
)
_SURE = 0.8


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class EmergencyPolicy:
    name = "EmergencyPolicy"

    def __init__(self, min_confidence: float = 0.3) -> None:
        self.min_confidence = min_confidence

    def predict(self, turn: Turn) -> Decision | None:
        text = _fold(turn.text)
        if _PATTERNS.search(text):
            return Decision(self.name, ("utter_emergency",))
        # an unsure model on a message about appointments ("se puede hacer sita?") is not an emergency;
        # the phrases above still catch every emergency that also mentions an appointment
        floor = _SURE if _APPOINTMENT.search(text) else self.min_confidence
        by_model = turn.intent == "emergency" and turn.confidence >= floor
        ranked = any(
            r.get("name") == "emergency" and float(r.get("confidence", 0)) >= max(0.5, floor)
            for r in turn.parse.get("intent_ranking") or ()
        )
        if by_model or ranked:
            return Decision(self.name, ("utter_emergency",))
        return None
