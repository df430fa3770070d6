"""The flow policy: follows the clinic's script (flows/script.py) for the current phase."""

from __future__ import annotations

from bot.core.dialogue import Decision, Turn
from flows import script


class FlowPolicy:
    name = "FlowPolicy"

    def predict(self, turn: Turn) -> Decision | None:
        return script.decide(turn)
