"""Fixtures for the paraphrasing tests: a fake LLM server on loopback and providers pointed at it.

``tests/fakes`` is a plain directory (no ``__init__.py`` files are added to tests/): the repository root
is put on ``sys.path`` here so ``tests.fakes.llm_servers`` imports as a namespace package. Other test
directories can do the same two lines, or copy these fixtures.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bot.nlg.providers import LLMProvider, make_provider  # noqa: E402
from tests.fakes.llm_servers import FakeLLMServer, anthropic_config, openai_config  # noqa: E402

CLIENT_TIMEOUT = 1.0  # seconds, room for a loaded CI box; "timeout" mode stalls until the server stops
PROVIDER_NAMES = ("anthropic", "openai-compatible")


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(mode="good", timeout_sleep=5.0) as server:
        yield server


@pytest.fixture(params=PROVIDER_NAMES)
def llm_config(request: pytest.FixtureRequest, llm_server: FakeLLMServer) -> dict[str, Any]:
    """An ``llm:`` section for each provider in turn, pointed at the fake server."""
    make = anthropic_config if request.param == "anthropic" else openai_config
    return make(llm_server, timeout=CLIENT_TIMEOUT)


@pytest.fixture
def llm_provider(llm_config: dict[str, Any]) -> Iterator[LLMProvider]:
    provider = make_provider(llm_config)
    if provider is None:
        raise RuntimeError("llm_config names a real provider")
    try:
        yield provider
    finally:
        provider.close()
