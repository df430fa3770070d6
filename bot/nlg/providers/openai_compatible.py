"""OpenAI-compatible chat completions (vLLM, llama.cpp server, Ollama, ...) over httpx."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from bot.errors import ConfigError
from bot.nlg.providers.base import ParaphraseError, config_retries, config_str, config_timeout


def chat_completions_url(base_url: str) -> str:
    """``{base_url}/v1/chat/completions``; a base URL already ending in ``/v1`` is not doubled."""
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return f"{base}/v1/chat/completions"


class OpenAICompatibleProvider:
    """POSTs to ``/v1/chat/completions`` with one httpx client (shared if one is passed in)."""

    name = "openai-compatible"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 4.0,
        max_retries: int = 0,
        temperature: float = 0.3,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.url = chat_completions_url(base_url)
        self.model = model
        self.temperature = temperature
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 2.0))
        self._max_retries = max_retries
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._owns_client = http_client is None
        self._client = http_client if http_client is not None else httpx.Client(timeout=self._timeout)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, http_client: httpx.Client | None = None
    ) -> OpenAICompatibleProvider:
        base_url = config_str(config, "base_url")
        if base_url is None:
            raise ConfigError(
                "endpoints.yml llm.provider is 'openai-compatible' but llm.base_url is empty: "
                "set it to the server's address, e.g. http://localhost:8000"
            )
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoints.yml llm.base_url must start with http:// or https://: {base_url!r}")
        model = config_str(config, "model")
        if model is None:
            raise ConfigError("endpoints.yml llm.provider is 'openai-compatible' but llm.model is empty")
        return cls(
            base_url=base_url,
            model=model,
            api_key=config_str(config, "api_key"),
            timeout=config_timeout(config),
            max_retries=config_retries(config),
            http_client=http_client,
        )

    def complete(self, system: str, prompt: str, *, max_tokens: int) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": False,
        }
        for attempt in range(self._max_retries + 1):
            try:
                response = self._client.post(
                    self.url, json=body, headers=self._headers, timeout=self._timeout
                )
            except httpx.HTTPError as e:
                if attempt < self._max_retries and not isinstance(e, httpx.TimeoutException):
                    continue
                raise ParaphraseError(f"openai-compatible call failed: {type(e).__name__}") from e
            if response.status_code >= 500 and attempt < self._max_retries:
                continue
            return _answer_text(response)
        raise ParaphraseError("openai-compatible call failed")  # unreachable: the loop returns or raises

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def _answer_text(response: httpx.Response) -> str:
    if response.status_code != 200:
        raise ParaphraseError(f"openai-compatible server answered HTTP {response.status_code}")
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise ParaphraseError(f"openai-compatible answer malformed: {type(e).__name__}") from e
    if not isinstance(content, str) or not content.strip():
        raise ParaphraseError("openai-compatible answer has no text")
    return content.strip()
