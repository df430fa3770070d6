"""What every LLM backend offers the paraphraser, and the error it raises.

A provider turns ``(system, prompt)`` into text, or raises :class:`ParaphraseError`. It never sees anything
but what the paraphraser built from a response template (promise 1 in DESIGN.md); it never logs the prompt
or the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from bot.errors import BotError, ConfigError


class ParaphraseError(BotError):
    """The LLM could not produce a paraphrase (timeout, HTTP error, malformed or empty answer)."""


@runtime_checkable
class LLMProvider(Protocol):
    """A text-completion backend. ``complete`` raises :class:`ParaphraseError` on any failure."""

    name: str

    def complete(self, system: str, prompt: str, *, max_tokens: int) -> str: ...

    def close(self) -> None: ...


DEFAULT_TIMEOUT_SECONDS = 4.0


def config_str(config: Mapping[str, Any], key: str) -> str | None:
    """A string setting, or None when absent/empty (``${VAR:-}`` expands to an empty string)."""
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"endpoints.yml llm.{key} must be a string, got {type(value).__name__}")
    value = value.strip()
    return value or None


def config_timeout(config: Mapping[str, Any]) -> float:
    """``llm.timeout`` in seconds (default 4): a positive number."""
    raw = config.get("timeout")
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"endpoints.yml llm.timeout must be a number of seconds, got {raw!r}") from e
    if not 0 < value <= 120:
        raise ConfigError(f"endpoints.yml llm.timeout must be between 0 and 120 seconds, got {value}")
    return value


def config_retries(config: Mapping[str, Any]) -> int:
    """``llm.max_retries`` (default 0: the reply is waiting; a failed paraphrase just sends the template)."""
    raw = config.get("max_retries", 0)
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ConfigError(f"endpoints.yml llm.max_retries must be 0 or 1, got {raw!r}")
    try:
        value = int(raw)
    except ValueError as e:
        raise ConfigError(f"endpoints.yml llm.max_retries must be 0 or 1, got {raw!r}") from e
    if value not in (0, 1):
        raise ConfigError(f"endpoints.yml llm.max_retries must be 0 or 1, got {value}")
    return value
