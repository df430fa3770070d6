"""Optional LLM paraphrasing of rendered response templates, validated, cached, and failing to the template.

Promise 1 (DESIGN.md): the LLM never receives patient text, history or clinical data. ``paraphrase`` takes
only the response name, the already rendered template and the slot values; the prompt is built from the
template, the values that appear in it and the tone rules — there is nothing else in reach to leak. The
answer is checked by :func:`bot.nlg.validate.validate_paraphrase` and the injected disclosure-gate check;
any failure, timeout or doubt sends the template as written. Only the response name, provider, outcome,
reasons and latency are logged — never the prompt, the values or the answer.

``paraphrase`` is synchronous (it may wait up to the provider's timeout): call it from a worker thread
(``anyio.to_thread.run_sync``) when inside ``async def``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.nlg.providers.base import LLMProvider, ParaphraseError
from bot.nlg.validate import reasons_text, validate_paraphrase

__all__ = ["DEFAULT_TONE", "ParaphraseStats", "Paraphraser", "build_prompt"]

_log = logging.getLogger("bot.nlg.paraphrase")

DEFAULT_TONE = (
    "Español de México. Trate siempre de «usted», con cortesía formal. "
    "Mensajes breves y cálidos, sin emojis ni exclamaciones de más."
)
TEMPLATE_OPEN = "<<<"
TEMPLATE_CLOSE = ">>>"
VALUES_HEADER = "Valores que deben aparecer exactamente igual:"

_SYSTEM = """Usted redacta mensajes de WhatsApp para un consultorio médico en México.
Reescriba el mensaje que se le da para que suene natural, sin cambiar lo que dice.
Estilo: {tone}
Reglas estrictas:
- Copie cada valor de la lista exactamente, carácter por carácter (fechas, horas, nombres, precios, enlaces).
- No agregue información: ni números, ni enlaces, ni teléfonos, ni nombres, ni datos médicos.
- No agregue formato (negritas, listas, encabezados, saltos de línea) que el mensaje no tenga.
- Responda solo con el mensaje reescrito, una sola versión, sin comillas ni explicaciones."""

PROVIDER_ERROR = "provider_error"
PROVIDER_UNEXPECTED = "provider_unexpected"
GATE = "gate"
GATE_ERROR = "gate_error"

CacheKey = tuple[str, str, tuple[tuple[str, str], ...]]


def build_prompt(
    rendered_template: str, values: Mapping[str, str], tone: str = DEFAULT_TONE
) -> tuple[str, str]:
    """``(system, prompt)``: tone rules; the template between markers and the values it uses, one a line."""
    lines = [f"Mensaje:\n{TEMPLATE_OPEN}\n{rendered_template}\n{TEMPLATE_CLOSE}", VALUES_HEADER]
    lines.extend(f"- {value}" for value in values.values())
    if not values:
        lines.append("(ninguno)")
    return _SYSTEM.format(tone=tone), "\n".join(lines)


@dataclass
class ParaphraseStats:
    """Counters since start-up. ``rejected`` counts each rejection reason (one answer may have several)."""

    calls: int = 0  # paraphrase() calls with a provider configured
    cache_hits: int = 0
    provider_calls: int = 0
    accepted: int = 0
    fallbacks: int = 0  # calls that sent the template because the answer was rejected or failed
    rejected: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "provider_calls": self.provider_calls,
            "accepted": self.accepted,
            "fallbacks": self.fallbacks,
            "rejected": dict(self.rejected),
        }


def _gate_open(text: str) -> bool:
    return True


class Paraphraser:
    """Paraphrases whitelisted responses through ``provider``; with no provider it is a pass-through."""

    def __init__(
        self,
        provider: LLMProvider | None,
        *,
        gate_check: Callable[[str], bool] = _gate_open,
        cache_size: int = 1024,
        tone: str = DEFAULT_TONE,
    ) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self._provider = provider
        self._gate_check = gate_check
        self._cache_size = cache_size
        self._tone = tone
        self._cache: OrderedDict[CacheKey, str] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = ParaphraseStats()

    @property
    def provider(self) -> LLMProvider | None:
        return self._provider

    def paraphrase(self, response_name: str, rendered_template: str, slot_values: Mapping[str, str]) -> str:
        """A validated paraphrase of ``rendered_template``, or the template itself."""
        provider = self._provider
        if provider is None:
            return rendered_template
        if not rendered_template.strip():
            return rendered_template
        used = {
            name: value.strip()
            for name, value in slot_values.items()
            if isinstance(value, str) and value.strip() and value.strip() in rendered_template
        }
        key: CacheKey = (response_name, rendered_template, tuple(sorted(used.items())))
        with self._lock:
            self.stats.calls += 1
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.stats.cache_hits += 1
        if cached is not None:
            self._log(response_name, provider.name, "cache_hit", [], 0.0)
            return cached

        system, prompt = build_prompt(rendered_template, used, self._tone)
        max_tokens = min(1024, max(64, len(rendered_template) // 2 + 64))
        started = time.perf_counter()
        answer = ""
        try:
            answer = provider.complete(system, prompt, max_tokens=max_tokens)
        except ParaphraseError:
            reasons = [PROVIDER_ERROR]
        except Exception:  # a paraphrase is decoration: no provider bug may cost the patient the reply
            _log.warning("nlg.paraphrase.provider_bug provider=%s", provider.name, exc_info=False)
            reasons = [PROVIDER_UNEXPECTED]
        else:
            reasons = validate_paraphrase(rendered_template, used, answer)
            if not reasons:
                reasons = self._check_gate(answer)
        latency_ms = (time.perf_counter() - started) * 1000

        with self._lock:
            self.stats.provider_calls += 1
            if reasons:
                self.stats.fallbacks += 1
                self.stats.rejected.update(reasons)
            else:
                self.stats.accepted += 1
                if self._cache_size:
                    self._cache[key] = answer
                    self._cache.move_to_end(key)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        self._log(response_name, provider.name, "rejected" if reasons else "accepted", reasons, latency_ms)
        return rendered_template if reasons else answer

    def _check_gate(self, answer: str) -> list[str]:
        try:
            return [] if self._gate_check(answer) is True else [GATE]
        except Exception:  # the gate fails closed: an error means the template is sent
            return [GATE_ERROR]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        """Close the provider's HTTP client (when there is a provider)."""
        if self._provider is not None:
            self._provider.close()

    @staticmethod
    def _log(response: str, provider: str, outcome: str, reasons: list[str], latency_ms: float) -> None:
        _log.info(
            "nlg.paraphrase response=%s provider=%s outcome=%s reasons=%s latency_ms=%.1f",
            response,
            provider,
            outcome,
            reasons_text(reasons),
            latency_ms,
            extra={
                "event": "nlg.paraphrase",
                "response": response,
                "provider": provider,
                "outcome": outcome,
                "reasons": list(reasons),
                "latency_ms": round(latency_ms, 1),
            },
        )
