"""LLM backends for paraphrasing response templates, chosen by ``llm.provider`` in endpoints.yml.

``none`` (the default) means no LLM: templates are sent as written. SDKs are imported only by the module
of the provider that is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from bot.errors import ConfigError
from bot.nlg.providers.base import LLMProvider, ParaphraseError

__all__ = ["PROVIDERS", "LLMProvider", "ParaphraseError", "make_provider"]

PROVIDERS = ("none", "anthropic", "openai-compatible")


def make_provider(
    config: Mapping[str, Any] | None, *, http_client: httpx.Client | None = None
) -> LLMProvider | None:
    """The provider endpoints.yml's ``llm:`` section names, or None for ``provider: none``.

    ``http_client`` lets the application share its one httpx client with the openai-compatible provider
    (the caller then closes it); the Anthropic SDK keeps its own pool. Raises ConfigError for an unknown
    provider or a missing secret/address, so start-up stops with a clear message (promise 7).
    """
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise ConfigError("endpoints.yml llm: must be a mapping")
    raw = config.get("provider")
    provider = (raw.strip().lower() if isinstance(raw, str) else raw) or "none"
    if provider == "none":
        return None
    if provider == "anthropic":
        from bot.nlg.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider.from_config(config)
    if provider == "openai-compatible":
        from bot.nlg.providers.openai_compatible import OpenAICompatibleProvider

        return OpenAICompatibleProvider.from_config(config, http_client=http_client)
    raise ConfigError(f"endpoints.yml llm.provider {raw!r} is unknown; use one of: {', '.join(PROVIDERS)}")
