"""The clinic's frequently asked questions (payment, insurance, invoices, parking, accessibility, what to
bring, preparation), answered from clinic.yml's ``faq:`` — public information, before consent too.

"¿aceptan tarjeta?" gets the payment methods, never the price list. The topic is read by
:func:`bot.core.topics.faq_topic`, else from the model's intent (one per topic); a topic the clinic
did not fill in gets the general answer of the
intent the model chose (prices, location, services).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from bot import settings
from bot.config_files import load_mapping
from bot.core import topics
from bot.core.dialogue import Output, Turn, Utter

_GENERAL = {"ask_prices": "utter_prices", "ask_location": "utter_location", "ask_services": "utter_services"}
#: The model's FAQ intents and their topics in clinic.yml's ``faq:``.
FAQ_INTENTS = {
    "ask_payment": "payment",
    "ask_insurance": "insurance",
    "ask_invoice": "invoice",
    "ask_parking": "parking",
    "ask_accessibility": "accessibility",
    "ask_what_to_bring": "what_to_bring",
    "ask_preparation": "preparation",
}


@lru_cache(maxsize=4)
def _faq(path: Path, mtime: float) -> dict[str, str]:
    raw: Any = load_mapping(path, "the practice's configuration").get("faq") or {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def faq_answers(project: Path | None = None) -> dict[str, str]:
    path = (project or settings.project_dir()) / "clinic.yml"
    try:
        return _faq(path, path.stat().st_mtime)
    except OSError:
        return {}


class FaqAnswer:
    name = "action_faq"

    def run(self, turn: Turn) -> list[Output]:
        # the words of the question first ("¿aceptan tarjeta para el ultrasonido?" is about payment), the
        # model's topic when the words name none
        # model's topic when the words name none; every topic a message asks about ("¿aceptan tarjeta y
        # tienen estacionamiento?") gets its answer, in one message once the turn's replies are joined
        named = topics.faq_topics(turn.text) or [FAQ_INTENTS.get(turn.intent, "")]
        answers = faq_answers()
        found = [answers[t] for t in named if answers.get(t)]
        if found:
            return [Utter("utter_faq", {"faq_answer": answer}) for answer in found[:3]]
        return [Utter(_GENERAL.get(turn.intent, "utter_out_of_scope"))]
