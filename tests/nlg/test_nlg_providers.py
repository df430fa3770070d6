"""make_provider and the two HTTP providers against the fake servers (real SDK, real httpx)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from bot.errors import ConfigError
from bot.nlg.providers import LLMProvider, ParaphraseError, make_provider
from bot.nlg.providers.anthropic_provider import AnthropicProvider
from bot.nlg.providers.openai_compatible import OpenAICompatibleProvider, chat_completions_url
from tests.fakes.llm_servers import FakeLLMServer, openai_config

PROMPT = "Mensaje:\n<<<\nSu cita es el 12/05/2025 a las 10:30 en el consultorio.\n>>>"


@pytest.mark.parametrize("config", [None, {}, {"provider": "none"}, {"provider": " None "}, {"provider": ""}])
def test_provider_none(config: dict[str, Any] | None) -> None:
    assert make_provider(config) is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"provider": "gpt"}, "unknown"),
        ({"provider": 3}, "unknown"),
        ({"provider": "anthropic"}, "api_key"),
        ({"provider": "anthropic", "api_key": ""}, "api_key"),  # ${ANTHROPIC_API_KEY:-} unset
        ({"provider": "anthropic", "api_key": "k", "timeout": "soon"}, "timeout"),
        ({"provider": "anthropic", "api_key": "k", "timeout": 0}, "timeout"),
        ({"provider": "anthropic", "api_key": "k", "max_retries": 5}, "max_retries"),
        ({"provider": "anthropic", "api_key": 123}, "api_key"),
        ({"provider": "openai-compatible", "model": "m"}, "base_url"),
        ({"provider": "openai-compatible", "model": "m", "base_url": ""}, "base_url"),
        ({"provider": "openai-compatible", "model": "m", "base_url": "localhost:8000"}, "base_url"),
        ({"provider": "openai-compatible", "base_url": "http://127.0.0.1:1"}, "model"),
    ],
)
def test_config_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_provider(config)


def test_config_error_when_llm_section_is_not_a_mapping() -> None:
    with pytest.raises(ConfigError):
        make_provider(["anthropic"])  # type: ignore[arg-type]


def test_providers_satisfy_the_protocol(llm_provider: LLMProvider, llm_config: dict[str, Any]) -> None:
    assert isinstance(llm_provider, LLMProvider)
    assert llm_provider.name == llm_config["provider"]
    expected = AnthropicProvider if llm_provider.name == "anthropic" else OpenAICompatibleProvider
    assert isinstance(llm_provider, expected)


def test_good_answer(llm_provider: LLMProvider, llm_server: FakeLLMServer) -> None:
    answer = llm_provider.complete("sistema", PROMPT, max_tokens=100)
    assert answer == "Con gusto. Su cita es el 12/05/2025 a las 10:30 en el consultorio."
    (request,) = llm_server.requests
    assert request.json["max_tokens"] == 100


@pytest.mark.parametrize("mode", ["timeout", "http_500", "malformed_json", "empty"])
def test_failures_raise_paraphrase_error(
    mode: str, llm_provider: LLMProvider, llm_server: FakeLLMServer
) -> None:
    llm_server.mode = mode
    started = time.perf_counter()
    with pytest.raises(ParaphraseError):
        llm_provider.complete("sistema", PROMPT, max_tokens=100)
    assert time.perf_counter() - started < 4.0  # client timeout is 1 s; the server would stall 5 s
    assert len(llm_server.requests) == 1  # no retries by default


def test_connection_refused_is_a_paraphrase_error() -> None:
    with FakeLLMServer() as server:
        config = openai_config(server, timeout=0.3)
    provider = make_provider(config)  # the server is gone: nothing listens on that port now
    assert provider is not None
    try:
        with pytest.raises(ParaphraseError):
            provider.complete("s", PROMPT, max_tokens=10)
    finally:
        provider.close()


def test_openai_retry_once_on_5xx(llm_server: FakeLLMServer) -> None:
    llm_server.mode = "http_500"
    provider = make_provider(openai_config(llm_server, max_retries=1))
    assert provider is not None
    try:
        with pytest.raises(ParaphraseError):
            provider.complete("s", PROMPT, max_tokens=10)
    finally:
        provider.close()
    assert len(llm_server.requests) == 2


def test_openai_api_key_is_sent_as_bearer_only_when_configured(llm_server: FakeLLMServer) -> None:
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({}, None),
        ({"api_key": "local-secret"}, "Bearer local-secret"),
    ]
    for extra, expected in cases:
        llm_server.clear_requests()
        provider = make_provider({**openai_config(llm_server), **extra})
        assert provider is not None
        try:
            provider.complete("s", PROMPT, max_tokens=10)
        finally:
            provider.close()
        headers = {k.lower(): v for k, v in llm_server.requests[0].headers.items()}
        assert headers.get("authorization") == expected


def test_anthropic_sdk_sends_the_configured_key_and_model(llm_server: FakeLLMServer) -> None:
    provider = make_provider(
        {"provider": "anthropic", "api_key": "sk-test", "base_url": llm_server.base_url, "model": "claude-x"}
    )
    assert provider is not None
    try:
        provider.complete("s", PROMPT, max_tokens=10)
    finally:
        provider.close()
    (request,) = llm_server.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    # SDK versions differ on the header (x-api-key or Authorization: Bearer); the key must be in one
    assert "sk-test" in (
        headers.get("x-api-key", ""),
        headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert request.json["model"] == "claude-x"


def test_shared_http_client_is_used_and_left_open(llm_server: FakeLLMServer) -> None:
    with httpx.Client(timeout=httpx.Timeout(1.0)) as client:
        provider = make_provider(openai_config(llm_server), http_client=client)
        assert provider is not None
        provider.complete("s", PROMPT, max_tokens=10)
        provider.close()
        assert not client.is_closed
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize(
    "base_url",
    ["http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/"],
)
def test_chat_completions_url(base_url: str) -> None:
    assert chat_completions_url(base_url) == "http://h:8000/v1/chat/completions"


def test_importing_the_paraphraser_does_not_load_any_sdk() -> None:
    code = "import sys, bot.nlg.paraphrase, bot.nlg.providers; print('anthropic' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("api_key", ["sk-test", ""])
def test_anthropic_without_the_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # import anthropic -> ImportError
    with pytest.raises(ConfigError, match=r"pip install '\.\[anthropic\]'"):
        make_provider({"provider": "anthropic", "api_key": api_key})


def test_openai_compatible_and_none_never_import_the_anthropic_sdk() -> None:
    code = (
        "import sys\n"
        "sys.modules['anthropic'] = None\n"  # as if the `anthropic` extra were not installed
        "from bot.nlg.providers import make_provider\n"
        "assert make_provider({'provider': 'none'}) is None\n"
        "config = {'provider': 'openai-compatible', 'base_url': 'http://127.0.0.1:9', 'model': 'm'}\n"
        "p = make_provider(config)\n"
        "print(p.name, sys.modules['anthropic'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["openai-compatible", "None"]
