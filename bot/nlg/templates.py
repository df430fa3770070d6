"""Rendering registered responses: pick a variation (rotating, as Rasa does), fill its placeholders."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.domain import Domain
from bot.errors import DomainError


@dataclass(frozen=True)
class Rendered:
    response: str
    text: str
    values: Mapping[str, str]  # the placeholder values this text used (what a paraphraser may see)
    buttons: tuple[Mapping[str, str], ...] = ()


class TemplateRenderer:
    def __init__(self, domain: Domain, globals_: Mapping[str, Any] | None = None) -> None:
        self.domain = domain
        self.globals = dict(globals_ or {})
        self._formatter = string.Formatter()

    def render(
        self,
        response: str,
        *,
        channel: str,
        slots: Mapping[str, Any],
        values: Mapping[str, Any] | None = None,
        rotation: int = 0,
    ) -> Rendered:
        spec = self.domain.responses.get(response)
        if spec is None:
            raise DomainError(f"unknown response {response!r}")
        variations = spec.for_channel(channel)
        if not variations:
            raise DomainError(f"response {response!r} has no variation for channel {channel!r}")
        variation = variations[rotation % len(variations)]
        used: dict[str, str] = {}
        for name in variation.placeholders:
            if values and name in values:
                raw = values[name]
            elif name in slots:
                raw = slots[name]
            elif name in self.globals:
                raw = self.globals[name]
            else:
                raise DomainError(f"response {response!r} needs {{{name}}} but no value is set")
            used[name] = str(raw)
        text = variation.text.format(**used)
        return Rendered(response, text, used, variation.buttons)
