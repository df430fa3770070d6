"""bot.edge: the input-validation layer (JSON, forms, integers, content types) and its ASGI middleware.

The routes against each hostile class are in test_edge_fuzz.py; here are the rules themselves and the
middleware's streaming bound, measured in bytes the app pulled from the connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bot import edge
from bot.app.server import create_app
from bot.edge import EdgeError, EdgeMiddleware, Rule, ascii_int, content_type_ok, parse_form, parse_json
from tests.channels import conftest as channels
from tests.channels.conftest import Harness


def refused(call: Any, status: int = 400) -> str:
    with pytest.raises(EdgeError) as caught:
        call()
    assert caught.value.status == status, caught.value.message
    return caught.value.message


# --------------------------------------------------------------------------- JSON

def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def test_depth_is_bounded_before_the_parser_recurses() -> None:
    assert parse_json(nested(edge.MAX_DEPTH)) is not None
    assert "nested deeper than 32" in refused(lambda: parse_json(nested(edge.MAX_DEPTH + 1)))
    assert "deeper" in refused(lambda: parse_json('{"a":' * 100_000))  # unterminated: still no recursion
    assert "deeper" in refused(lambda: parse_json("[" * 1_000_000))
    mixed = '{"a": [' * 20 + "1" + "]}" * 20  # 40 levels through objects and arrays
    assert "deeper" in refused(lambda: parse_json(mixed))


@pytest.mark.parametrize("text", [
    '{"text": "' + "[" * 5000 + '"}',
    '{"text": "\\"' + "{" * 5000 + '\\\\"}',  # an escaped quote does not end the string
    '["\\\\", ' + '"[[[[[[[[[[",' * 500 + "1]",  # an escaped backslash does not escape the quote
])
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    assert parse_json(text) == json.loads(text)


def test_depth_scan_is_linear_on_pathological_strings() -> None:
    """A regex over JSON strings backtracks quadratically on an unterminated run of escapes (seconds for
    64 KiB); the scan must stay fast on every such shape."""
    shapes = ('"' + '\\"' * 32_000, '["' + "\\\\" * 32_000, '"\\' * 32_000, '"' * 64_000, "\\" * 64_000)
    for text in (shape + "[" * 40 for shape in shapes):  # the brackets make the scan run to the end
        started = time.perf_counter()
        with pytest.raises(EdgeError):
            parse_json(text)
        assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(("literal", "ok"), [
    ("9" * 30, True), ("-" + "9" * 30, True), ("9" * 31, False), ("7" * 5000, False),
    ("-" + "7" * 5000, False),
    ("1.5", True), ("-0.25e-3", True), ("1e308", True), ("1e309", False), ("1e999999", False),
    ("7" * 5000 + ".5", False), ("0." + "1" * 60, False), ("NaN", False), ("Infinity", False),
    ("-Infinity", False),
])
def test_numbers_are_bounded(literal: str, ok: bool) -> None:
    body = '{"n": ' + literal + "}"
    if ok:
        assert parse_json(body)["n"] == json.loads(body)["n"]
    else:
        refused(lambda: parse_json(body))


@pytest.mark.parametrize("body", [
    '"\\ud800"', '"hola \\ud800"', '"\\udc00"', '"\\udc00\\ud800"', '"a\\ud83d"', '{"\\ud800": 1}',
    '[["ok", {"k": ["\\udfff"]}]]',
])
def test_unpaired_surrogates_are_refused_in_keys_and_values(body: str) -> None:
    assert "surrogates" in refused(lambda: parse_json(body))


def test_paired_surrogates_are_one_character() -> None:
    assert parse_json('{"t": "\\ud83d\\ude00"}') == {"t": "😀"}


@pytest.mark.parametrize("body", [b'"\xff"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b"\xef\xbb\xbf{}",
                                  b'"\xe2\x82"'])
def test_invalid_utf8_and_bom(body: bytes) -> None:
    refused(lambda: parse_json(body))


def test_nul_duplicates_and_nfc() -> None:
    assert "NUL" in refused(lambda: parse_json('{"t": "a\\u0000"}'))
    assert "NUL" in refused(lambda: parse_json('{"a\\u0000": 1}'))
    assert "duplicate" in refused(lambda: parse_json('{"a": 1, "a": 2}'))
    assert "duplicate" in refused(lambda: parse_json('{"\\u00e9": 1, "e\\u0301": 2}'))  # equal after NFC
    assert parse_json('{"e\\u0301": ["man\\u0303ana"]}') == {"é": ["mañana"]}
    assert parse_json(b'{"t": "\xc2\xbfma\xc3\xb1ana? \xf0\x9f\x98\x80"}') == {"t": "¿mañana? 😀"}


def test_valid_json_round_trips() -> None:
    doc = {"a": [1, -2, 3.5, True, False, None, "x"], "b": {"c": {"d": []}}, "": ""}
    assert parse_json(json.dumps(doc)) == doc
    refused(lambda: parse_json("{not json"))
    refused(lambda: parse_json(""))
    refused(lambda: parse_json("[1,]"))


# --------------------------------------------------------------------------- forms and integers

@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0), ("7", 7), ("999", 999), ("007", 7), ("1000", None), ("", None), ("²", None), ("١", None),
    ("١٢", None), ("１", None), ("⁰", None), ("-1", None), ("+1", None), (" 1", None), ("1 ", None),
    ("1_0", None), ("0x1", None), ("1e2", None), ("9" * 5000, None), ("1\x00", None), (None, None), (5, None),
])
def test_ascii_int(value: Any, expected: int | None) -> None:
    assert ascii_int(value, 0, 999) == expected


def test_ascii_int_range() -> None:
    assert ascii_int("3", 5, 10) is None and ascii_int("11", 5, 10) is None and ascii_int("5", 5, 10) == 5


def test_forms_keep_raw_values_for_the_signature() -> None:
    pairs = parse_form(b"Body=man%CC%83ana&Empty=&Body=2")
    assert pairs == [("Body", "man\u0303ana"), ("Empty", ""), ("Body", "2")]  # as sent: not NFC
    assert parse_form(b"Body=a%00b") == [("Body", "a\x00b")]
    assert edge.clean_form({"Body": "man\u0303ana", "B": "a\x00b"}) == {"Body": "mañana", "B": "ab"}


@pytest.mark.parametrize(("body", "status"), [
    (b"Body=%FF", 400), (b"Body=\xff", 400), (b"Body=%ED%A0%80", 400), (b"Body=%C0%AF", 400),
    (b"&".join(b"f%d=1" % i for i in range(201)), 400),
    (b"Body=" + b"a" * (edge.MAX_FORM_VALUE + 1), 413), (b"k" * 300 + b"=1", 413),
])
def test_hostile_forms(body: bytes, status: int) -> None:
    refused(lambda: parse_form(body), status)


# --------------------------------------------------------------------------- content types, lengths

@pytest.mark.parametrize(("value", "ok"), [
    ("application/json", True), ("application/json; charset=utf-8", True),
    ("Application/JSON;charset=UTF-8", True),
    ('application/json; charset="utf-8"', True), ("application/json; charset=latin-1", False),
    ("application/json; boundary=x", False), ("application/json-patch+json", False), ("text/plain", False),
    ("application/x-www-form-urlencoded", False), ("multipart/form-data; boundary=x", False), ("", False),
    (None, False), ("application/json, text/plain", False),
])
def test_json_content_types(value: str | None, ok: bool) -> None:
    assert content_type_ok(value, edge.JSON_ONLY) is ok


@pytest.mark.parametrize(("values", "status"), [
    (["abc"], 400), (["-1"], 400), (["１２"], 400), (["١٢"], 400), (["1", "2"], 400), (["9" * 40], 400),
    ([str(edge.MAX_BODY + 1)], 413), (["1e3"], 400), ([""], 400),
])
def test_invalid_or_oversized_content_length(values: list[str], status: int) -> None:
    refused(lambda: edge.declared_length(values), status)


def test_valid_content_length() -> None:
    assert edge.declared_length([]) is None
    assert edge.declared_length(["0"]) == 0 and edge.declared_length(["10", "10"]) == 10


def test_every_post_route_of_the_app_declares_its_content_types() -> None:
    """A new route that reads a body must say what it accepts in bot.edge.ROUTES."""
    app = create_app()
    posts = [r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert posts
    assert [p for p in posts if edge.rule_for(p) is None] == []
    assert any(isinstance(m, Middleware) and m.cls is EdgeMiddleware for m in app.user_middleware)


# --------------------------------------------------------------------------- the middleware (ASGI level)

async def _echo(request: Request) -> JSONResponse:
    body = b"".join([chunk async for chunk in request.stream()])  # an unbounded reader, on purpose
    return JSONResponse({"size": len(body)})


def tiny_app(limit: int = 1024) -> Starlette:
    rules = (Rule("/json", edge.JSON_ONLY, limit), Rule("/form", edge.FORM_ONLY, limit))
    routes = [Route(p, _echo, methods=["POST", "GET"]) for p in ("/json", "/form", "/other")]
    return Starlette(routes=routes, middleware=[Middleware(EdgeMiddleware, rules=rules, limit=limit)])


async def drive(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]],
                chunks: Iterator[bytes]) -> tuple[int, dict[str, Any], int]:
    """Run one request straight through ASGI: (status, JSON body, bytes the app pulled from the client)."""
    pulled = 0
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body) if body else {}, pulled


def endless(piece: int = 256) -> Iterator[bytes]:
    while True:
        yield b"[" * piece


JSON_HEADERS = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/json", "/form", "/other"])
async def test_a_streamed_body_is_cut_at_the_cap(path: str) -> None:
    ctype = b"application/x-www-form-urlencoded" if path == "/form" else b"application/json"
    headers = [(b"content-type", ctype), (b"transfer-encoding", b"chunked")]
    status, body, pulled = await drive(tiny_app(1024), "POST", path, headers, endless())
    assert status == 413 and "larger than 1 KiB" in body["error"]
    assert pulled <= 1024 + 256  # never more than the cap and one chunk, however long the client sends


@pytest.mark.anyio
async def test_a_declared_oversized_or_invalid_length_is_refused_before_the_app_reads() -> None:
    app = tiny_app(1024)
    status, _, pulled = await drive(app, "POST", "/json", [(b"content-type", b"application/json"),
                                                           (b"content-length", b"1025")], endless())
    assert (status, pulled) == (413, 0)
    for bad in (b"abc", b"-5", b"\xd9\xa1", b"1, 2"):
        status, body, pulled = await drive(app, "POST", "/other", [(b"content-length", bad)], endless())
        assert (status, pulled) == (400, 0) and body == {"error": "invalid Content-Length header"}


@pytest.mark.anyio
async def test_bodies_within_the_cap_pass() -> None:
    status, body, _ = await drive(tiny_app(1024), "POST", "/json", JSON_HEADERS, iter([b"[1]", b" " * 500]))
    assert (status, body) == (200, {"size": 503})


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "ctype", "status"), [
    ("/json", b"text/plain", 415), ("/json", b"application/x-www-form-urlencoded", 415), ("/json", None, 415),
    ("/form", b"application/json", 415), ("/form", b"application/x-www-form-urlencoded", 200),
    ("/form", b"application/x-www-form-urlencoded; charset=UTF-8", 200), ("/other", b"text/plain", 200),
])
async def test_declared_content_types(path: str, ctype: bytes | None, status: int) -> None:
    headers = [(b"content-length", b"2")] + ([(b"content-type", ctype)] if ctype else [])
    got, _, _ = await drive(tiny_app(), "POST", path, headers, iter([b"{}"]))
    assert got == status


@pytest.mark.anyio
async def test_no_body_needs_no_content_type() -> None:
    status, body, _ = await drive(tiny_app(), "POST", "/json", [], iter([]))
    assert (status, body) == (200, {"size": 0})
    status, _, _ = await drive(tiny_app(), "POST", "/json", [(b"content-length", b"0")], iter([]))
    assert status == 200


@pytest.mark.anyio
async def test_two_content_types_are_refused() -> None:
    headers = [(b"content-length", b"2"), (b"content-type", b"application/json"),
               (b"content-type", b"text/plain")]
    assert (await drive(tiny_app(), "POST", "/json", headers, iter([b"{}"])))[0] == 415


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "status"),
                         [("/other\x00", 400), ("/oth\ner", 400), ("/" + "a" * 3000, 414)])
async def test_paths_are_bounded(path: str, status: int) -> None:
    assert (await drive(tiny_app(), "GET", path, [], iter([])))[0] == status


@pytest.fixture
def twilio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The Twilio channel tests' harness (tests/channels/conftest.py) over a fresh SQLite file."""
    from bot import db

    channels._env(monkeypatch)
    eng = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(eng)
    try:
        yield from channels._serve(eng, channels._state(eng))
    finally:
        eng.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------- the real app, streamed

AUTH = {"authorization": "Bearer agent-secret"}


@pytest.fixture
def served(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BOT_AGENT_TOKEN", "agent-secret")
    with TestClient(create_app(app_state), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/model/parse", "/agent/conversations/x/handback",
                                  "/agent/conversations/x/messages", "/agent/conversations/x/templates"])
def test_every_json_route_stops_reading_at_the_cap(served: TestClient, path: str) -> None:
    """10 MB offered in 4 KiB chunks, no Content-Length: a 413 after at most the cap and one chunk."""
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked"),
               (b"authorization", AUTH["authorization"].encode())]
    chunks = (b" " * 4096 for _ in range(2560))
    status, body, pulled = served.portal.call(drive, served.app, "POST", path, headers, chunks)  # type: ignore[union-attr]
    assert status == 413 and "64 KiB" in body["error"]
    assert pulled <= edge.MAX_BODY + 4096


@pytest.mark.parametrize("path", ["/webhooks/twilio/whatsapp", "/webhooks/twilio/status"])
def test_the_twilio_routes_stop_reading_at_the_cap(twilio: Harness, path: str) -> None:
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"transfer-encoding", b"chunked"),
               (b"x-twilio-signature", b"x")]
    chunks = (b"a" * 4096 for _ in range(2560))
    client = twilio.client
    status, _, pulled = client.portal.call(drive, client.app, "POST", path, headers, chunks)  # type: ignore[union-attr]
    assert status == 413 and pulled <= edge.MAX_BODY + 4096


def test_hand_back_without_a_body_still_works(served: TestClient) -> None:
    r = served.post("/agent/conversations/nobody/handback", headers=AUTH)  # no body, no content type
    assert r.status_code == 404
