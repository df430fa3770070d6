"""Fake LLM HTTP APIs on loopback, so the real Anthropic SDK and our httpx client are exercised.

One :class:`FakeLLMServer` (a ``ThreadingHTTPServer`` on 127.0.0.1, random port) serves both
``POST /v1/messages`` (Anthropic Messages API shape) and ``POST /v1/chat/completions`` (OpenAI-compatible
shape). Set ``server.mode`` to choose the behaviour (see ``MODES``); every request is recorded in
``server.requests`` so tests can assert what the LLM was (not) told.

Importable as ``tests.fakes.llm_servers`` once the repository root is on ``sys.path`` (tests/nlg/conftest.py
adds it). Use it as a context manager, or through the fixtures in tests/nlg/conftest.py::

    with FakeLLMServer(mode="good") as server:
        provider = make_provider(anthropic_config(server))
        ...

The fake understands the prompt layout of :func:`bot.nlg.paraphrase.build_prompt` (template between
``<<<`` / ``>>>`` lines, then ``- value`` lines); for any other prompt the whole user text is the template.
``server.responder`` replaces the "good" answer with your own function ``(template, values) -> str``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MODES = (
    "good",
    "adds_diagnosis",
    "changes_time",
    "english",
    "injects_url",
    "adds_phone",
    "drops_value",
    "too_long",
    "timeout",
    "http_500",
    "malformed_json",
    "empty",
)
ADVERSARIAL_MODES = MODES[1:]

GOOD_PREFIX = "Con gusto. "
INJECTED_URL = "https://promo.example.com/oferta"
INJECTED_PHONE = "55 1234 5678"
DIAGNOSIS = "Sus resultados indican diabetes; continúe su tratamiento."
VALUES_HEADER = "Valores que deben aparecer exactamente igual:"


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: str  # raw body, decoded as UTF-8
    json: Any  # parsed body (None when it was not JSON)

    def text(self) -> str:
        """Raw body, parsed body with non-ASCII unescaped, and headers: everything the server saw."""
        parsed = json.dumps(self.json, ensure_ascii=False) if self.json is not None else ""
        return "\n".join([self.body, parsed, *self.headers.values()])


def split_prompt(prompt: str) -> tuple[str, list[str]]:
    """``(template, values)`` from a prompt built by ``bot.nlg.paraphrase.build_prompt``."""
    start, end = prompt.find("<<<\n"), prompt.rfind("\n>>>")
    if start < 0 or end < start:
        return prompt, []
    template = prompt[start + 4 : end]
    tail = prompt[end + 4 :]
    values = []
    if VALUES_HEADER in tail:
        for line in tail.split(VALUES_HEADER, 1)[1].splitlines():
            if line.startswith("- "):
                values.append(line[2:])
    return template, values


def good_paraphrase(template: str, values: list[str]) -> str:
    """A faithful rewrite: a warm opener, the template unchanged (keeps every value and number)."""
    return GOOD_PREFIX + template if len(template) >= 20 else template


def _changed_time(template: str) -> str:
    match = re.search(r"\b(\d{1,2}):(\d{2})\b", template)
    if match:
        hour = (int(match.group(1)) + 1) % 24
        return f"{template[: match.start()]}{hour}:{match.group(2)}{template[match.end() :]}"
    match = re.search(r"\d+", template)
    if match:
        return f"{template[: match.start()]}{int(match.group()) + 1}{template[match.end() :]}"
    return template + " a las 11:00"


def answer_for(mode: str, template: str, values: list[str], responder: Responder | None) -> str:
    """The text a model in ``mode`` answers (for the modes that answer with text)."""
    if mode == "good":
        return (responder or good_paraphrase)(template, values)
    if mode == "adds_diagnosis":
        return f"{template} {DIAGNOSIS}"
    if mode == "changes_time":
        return _changed_time(template)
    if mode == "english":
        return f"Your appointment is confirmed: {' '.join(values)}. Thank you, we will see you soon."
    if mode == "injects_url":
        return f"{template} Más detalles en {INJECTED_URL}"
    if mode == "adds_phone":
        return f"{template} Llámenos al {INJECTED_PHONE}."
    if mode == "drops_value":
        return template.replace(values[0], "", 1) if values else template[: len(template) // 2]
    if mode == "too_long":
        return " ".join([template] * 3)
    if mode == "empty":
        return ""
    raise ValueError(f"unknown fake LLM mode {mode!r}")


Responder = Callable[[str, list[str]], str]


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread: nothing outlives the test
    block_on_close = True
    owner: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out close the socket; a broken pipe here is expected, not news."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive thread left blocking
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        owner._record(RecordedRequest(self.path, dict(self.headers.items()), raw, body))
        path = self.path.split("?", 1)[0]
        if path not in ("/v1/messages", "/v1/chat/completions"):
            self._send(404, {"error": {"type": "not_found", "message": "no such endpoint"}})
            return
        anthropic = path == "/v1/messages"
        mode = owner.mode
        if mode == "timeout":
            owner._stopping.wait(owner.timeout_sleep)
            self._send(200, {"error": "too late"})
            return
        if mode == "http_500":
            self._send(500, {"type": "error", "error": {"type": "api_error", "message": "fake failure"}})
            return
        if mode == "malformed_json":
            self._send_raw(200, b'{"id": "msg_fake", "content": [{"type": "text", "text": "Hola')
            return
        template, values = split_prompt(_user_prompt(body, anthropic))
        text = answer_for(mode, template, values, owner.responder)
        self._send(200, _anthropic_message(body, text) if anthropic else _chat_completion(body, text))

    def _send(self, status: int, payload: Any) -> None:
        self._send_raw(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def _send_raw(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout mode)


def _user_prompt(body: Any, anthropic: bool) -> str:
    try:
        messages = body["messages"]
        content = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    except (TypeError, KeyError, StopIteration):
        return ""
    if isinstance(content, list):  # Anthropic content blocks
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return str(content)


def _anthropic_message(body: Any, text: str) -> dict[str, Any]:
    model = body.get("model", "fake") if isinstance(body, dict) else "fake"
    return {
        "id": "msg_fake_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": max(1, len(text) // 4)},
    }


def _chat_completion(body: Any, text: str) -> dict[str, Any]:
    model = body.get("model", "fake") if isinstance(body, dict) else "fake"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(text) // 4), "total_tokens": 20},
    }


class FakeLLMServer:
    """Both fake APIs on one loopback port. ``mode`` may be changed between requests."""

    def __init__(self, *, mode: str = "good", timeout_sleep: float = 3.0) -> None:
        self.mode = mode
        self.timeout_sleep = timeout_sleep  # how long "timeout" mode stalls (cut short by stop())
        self.responder: Responder | None = None
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown fake LLM mode {value!r}; one of {', '.join(MODES)}")
        self._mode = value

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeLLMServer is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def saw(self, needle: str) -> bool:
        """Whether ``needle`` appears in any recorded request (raw or JSON-decoded body, or headers)."""
        return any(needle in request.text() for request in self.requests)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def start(self) -> FakeLLMServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wake handlers stalled in "timeout" mode
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def anthropic_config(server: FakeLLMServer, *, timeout: float = 2.0, **extra: Any) -> dict[str, Any]:
    """An endpoints.yml ``llm:`` section pointing the real Anthropic SDK at ``server``."""
    return {
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "api_key": "test-key-not-secret",
        "base_url": server.base_url,
        "timeout": timeout,
        **extra,
    }


def openai_config(server: FakeLLMServer, *, timeout: float = 2.0, **extra: Any) -> dict[str, Any]:
    """An endpoints.yml ``llm:`` section pointing the openai-compatible provider at ``server``."""
    return {
        "provider": "openai-compatible",
        "model": "fake-local-model",
        "base_url": server.base_url,
        "timeout": timeout,
        **extra,
    }
