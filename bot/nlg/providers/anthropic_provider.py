"""Anthropic Messages API through the official SDK (the only module importing ``anthropic``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError
from bot.nlg.providers.base import (
    ParaphraseError,
    config_retries,
    config_str,
    config_timeout,
)

if TYPE_CHECKING:
    from types import ModuleType

    from anthropic.types import MessageParam

DEFAULT_MODEL = "claude-haiku-4-5"
_SDK_LOGGER = "anthropic._base_client"


class _DropRequestDumps(logging.Filter):
    """The SDK logs every request's JSON (our prompt) at DEBUG as "Request options: ...": drop those."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Request options"))


def _sdk() -> ModuleType:
    """The ``anthropic`` package, imported only here; a ConfigError naming the extra when it is missing."""
    try:
        import anthropic
    except ImportError as e:
        raise ConfigError(
            "endpoints.yml llm.provider is 'anthropic' but the Anthropic SDK is not installed: "
            "run `pip install '.[anthropic]'` (the `anthropic` extra), or use provider: none"
        ) from e
    return anthropic


def _silence_request_dumps() -> None:
    sdk_log = logging.getLogger(_SDK_LOGGER)
    if not any(isinstance(f, _DropRequestDumps) for f in sdk_log.filters):
        sdk_log.addFilter(_DropRequestDumps())


class AnthropicProvider:
    """One ``anthropic.Anthropic`` client (and its connection pool), reused for every call."""

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        timeout: float = 4.0,
        max_retries: int = 0,
    ) -> None:
        anthropic = _sdk()  # imported here: only a configured Anthropic provider pays for the SDK

        _silence_request_dumps()  # never log the prompt, even with ANTHROPIC_LOG=debug
        self.model = model
        self._errors: tuple[type[Exception], ...] = (anthropic.AnthropicError,)
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AnthropicProvider:
        _sdk()  # a missing SDK first: it is what the operator has to fix before anything else
        api_key = config_str(config, "api_key")
        if api_key is None:
            raise ConfigError(
                "endpoints.yml llm.provider is 'anthropic' but llm.api_key is empty: "
                "set ANTHROPIC_API_KEY (api_key: ${ANTHROPIC_API_KEY}) or use provider: none"
            )
        return cls(
            api_key=api_key,
            model=config_str(config, "model") or DEFAULT_MODEL,
            base_url=config_str(config, "base_url"),
            timeout=config_timeout(config),
            max_retries=config_retries(config),
        )

    def complete(self, system: str, prompt: str, *, max_tokens: int) -> str:
        messages: list[MessageParam] = [{"role": "user", "content": prompt}]
        try:
            message = self._client.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=system,
                messages=messages,
            )
        except self._errors as e:
            raise ParaphraseError(f"anthropic call failed: {type(e).__name__}") from e
        except (ValueError, TypeError, KeyError) as e:  # a body the SDK could not decode
            raise ParaphraseError(f"anthropic answer unreadable: {type(e).__name__}") from e
        parts = [getattr(block, "text", "") for block in (message.content or []) if block.type == "text"]
        text = "".join(p for p in parts if isinstance(p, str)).strip()
        if not text:
            raise ParaphraseError("anthropic answer has no text")
        return text

    def close(self) -> None:
        self._client.close()
