"""Phase metadata that sits next to the states it describes (see flows/clinic.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """What a phase may say: the responses it may send and whether an LLM may paraphrase them."""

    responses: tuple[str, ...]
    paraphrase: bool = False

    def allows(self, response: str) -> bool:
        return response in self.responses
