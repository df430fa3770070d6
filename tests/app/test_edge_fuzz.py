"""Every route against every hostile input class (issue 15, medium 1-2): a 4xx with ``{"error"}``, no 5xx.

Routes: ``/model/parse``, ``/webhooks/rest/webhook``, the agents' JSON routes (hand-back, messages,
templates), the signed Twilio webhooks (``/webhooks/twilio/whatsapp``, ``/status``) and the agents'
``GET .../deliveries``. Classes: deep nesting, huge numbers, unpaired surrogates (values and keys), NUL,
invalid UTF-8, oversized bodies streamed without Content-Length, wrong content types (a web page's blind
POST), then Hypothesis with random JSON, random bytes and random forms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot.app.server import create_app
from tests.channels import conftest as channels
from tests.channels.conftest import TOKEN, Harness
from tests.fakes.twilio_server import sign, signed_post

AUTH = {"authorization": "Bearer agent-secret"}
JSON_TYPE = {"content-type": "application/json"}
FORM_TYPE = "application/x-www-form-urlencoded"
# each JSON route, with the place a hostile value goes (where its handler reads a field)
JSON_ROUTES = {
    "/model/parse": b'{"text": %s}',
    "/webhooks/rest/webhook": b'{"sender": "edge-probe", "message": %s}',
    "/agent/conversations/{id}/handback": b'{"agent": "ana", "notify": false, "note": %s}',
    "/agent/conversations/{id}/messages": b'{"agent": "ana", "text": %s}',
    "/agent/conversations/{id}/templates":
        b'{"agent": "ana", "response": "utter_greet", "variables": {"1": %s}}',
}
HOSTILE_VALUES = {
    "deep array": b"[" * 5000 + b"]" * 5000,
    "deep object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "deep, unterminated": b"[" * 10_000,
    "5000-digit int": b"7" * 5000,
    "5000-digit float": b"7" * 5000 + b".5",
    "huge exponent": b"1e999999",
    "NaN": b"NaN",
    "lone high surrogate": b'"hola \\ud800"',
    "lone low surrogate": b'"\\udc00 hola"',
    "reversed pair": b'"\\udc00\\ud800"',
    "surrogate in a key": b'{"\\ud800": "x"}',
    "NUL": b'"hola\\u0000"',
    "invalid UTF-8": b'"hola \xff\xfe"',
    "overlong UTF-8": b'"\xc0\xaf"',
    "UTF-8-encoded surrogate": b'"\xed\xa0\x80"',
}
WRONG_TYPES = ["text/plain", FORM_TYPE, "multipart/form-data; boundary=x", "application/xml",
               "application/json; charset=latin-1", "application/json-patch+json", None]


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
def client(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BOT_AGENT_TOKEN", "agent-secret")
    with TestClient(create_app(app_state), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def handoff(client: TestClient) -> str:
    """The inbox id of a REST conversation in handoff, so the agent routes' handlers run in full."""
    r = client.post("/webhooks/rest/webhook",
                    json={"sender": "edge-1", "message": "quiero hablar con una persona"})
    assert r.status_code == 200, r.text
    waiting = client.get("/agent/conversations", headers=AUTH).json()["conversations"]
    assert waiting, "the conversation should be waiting for an agent"
    return str(waiting[0]["id"])


def _url(route: str, conversation: str) -> str:
    return route.replace("{id}", conversation)


def _headers(route: str, ctype: str | None = "application/json") -> dict[str, str]:
    headers = dict(AUTH) if route.startswith("/agent/") else {}
    if ctype is not None:
        headers["content-type"] = ctype
    return headers


def assert_refused(response: Any, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    assert not any(h.lower().startswith("access-control-") for h in response.headers)


@pytest.mark.parametrize("route", list(JSON_ROUTES))
@pytest.mark.parametrize("kind", list(HOSTILE_VALUES))
def test_hostile_json_values_get_a_400(client: TestClient, handoff: str, route: str, kind: str) -> None:
    body = JSON_ROUTES[route] % HOSTILE_VALUES[kind]
    r = client.post(_url(route, handoff), content=body, headers=_headers(route))
    assert_refused(r, 400)


@pytest.mark.parametrize("route", list(JSON_ROUTES))
@pytest.mark.parametrize("kind", ["deep array", "5000-digit int", "lone high surrogate", "invalid UTF-8"])
def test_hostile_whole_bodies_get_a_400(client: TestClient, handoff: str, route: str, kind: str) -> None:
    r = client.post(_url(route, handoff), content=HOSTILE_VALUES[kind], headers=_headers(route))
    assert_refused(r, 400)


def _chunks(total: int, piece: bytes = b" ") -> Iterator[bytes]:
    for _ in range(total // 4096):
        yield piece * 4096


@pytest.mark.parametrize("route", list(JSON_ROUTES))
def test_oversized_bodies_streamed_without_length_get_a_413(client: TestClient, handoff: str,
                                                            route: str) -> None:
    # a generator body: chunked transfer encoding, no Content-Length
    r = client.post(_url(route, handoff), content=_chunks(1024 * 1024), headers=_headers(route))
    assert "content-length" not in r.request.headers
    assert_refused(r, 413)


@pytest.mark.parametrize("route", list(JSON_ROUTES))
@pytest.mark.parametrize("ctype", WRONG_TYPES)
def test_json_routes_refuse_other_content_types(client: TestClient, handoff: str, route: str,
                                                ctype: str | None) -> None:
    """A page cannot POST them blind: a simple form or text/plain post is a 415, and no CORS headers."""
    body = JSON_ROUTES[route] % b'"hola"'
    r = client.post(_url(route, handoff), content=body, headers=_headers(route, ctype))
    assert_refused(r, 415)


@pytest.mark.parametrize("route", list(JSON_ROUTES))
def test_no_cors_preflight_succeeds(client: TestClient, handoff: str, route: str) -> None:
    r = client.options(_url(route, handoff), headers={"origin": "https://evil.example",
                                                      "access-control-request-method": "POST",
                                                      "access-control-request-headers": "content-type"})
    assert r.status_code >= 400
    assert not any(h.lower().startswith("access-control-") for h in r.headers)


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8",
                                   "Application/JSON;charset=UTF-8"])
def test_json_content_types_accepted(client: TestClient, ctype: str) -> None:
    r = client.post("/model/parse", content=b'{"text": "hola"}', headers={"content-type": ctype})
    assert r.status_code == 200, r.text


def test_nfc_text_reaches_the_parser(client: TestClient) -> None:
    decomposed = "mañana".replace("ñ", "n\u0303")
    r = client.post("/model/parse", content=json.dumps({"text": decomposed}), headers=JSON_TYPE)
    assert r.status_code == 200 and r.json()["text"] == "mañana"


# --------------------------------------------------------------------------- Hypothesis, JSON routes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["text", "sender", "message", "agent", "notify", "response", "variables", "reference_time"]
objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=5)
raw_bodies = st.one_of(
    st.binary(max_size=400),
    st.sampled_from(list(HOSTILE_VALUES.values())),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(0, 3000)),
    st.builds(lambda n, d: b'{"text": ' + b"9" * n + d + b"}", st.integers(1, 6000),
              st.sampled_from([b"", b".1", b"e5", b"e-999"])),
    st.builds(lambda cp: b'{"text": "\\u%04x", "message": "\\u%04x"}' % (cp, cp),
              st.integers(0xD700, 0xE000)),
)
ctypes = st.sampled_from(["application/json", "application/json; charset=utf-8", *WRONG_TYPES[:4], None])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(list(JSON_ROUTES)), payload=st.one_of(objects, raw_bodies), ctype=ctypes)
def test_fuzz_json_routes_never_5xx(client: TestClient, handoff: str, route: str, payload: Any,
                                    ctype: str | None) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    r = client.post(_url(route, handoff), content=body, headers=_headers(route, ctype))
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if body and (ctype is None or not ctype.startswith("application/json")):
        assert r.status_code == 415, r.status_code
    if r.status_code >= 400:
        assert "error" in r.json()


# --------------------------------------------------------------------------- deliveries (GET)

@pytest.mark.parametrize("tail", [
    "%00", "a%00b", "%ED%A0%80", "%FF", "%D9%A1%D9%A5%D9%A5", "%C2%B2", "9" * 5000, "x" * 10_000,
    "%2B52" + "%D9%A1" * 10, "whatsapp:%2B5215500001234%0A",
])
def test_deliveries_hostile_paths(client: TestClient, tail: str) -> None:
    r = client.get(f"/agent/conversations/{tail}/deliveries", headers=AUTH)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])


def test_deliveries_declared_oversized_body_is_refused(client: TestClient) -> None:
    r = client.request("GET", "/agent/conversations/abc/deliveries",
                       headers={**AUTH, "content-type": "text/plain"},
                       content=b"x" * (1024 * 1024))
    assert r.status_code == 413


# --------------------------------------------------------------------------- Twilio (signed)

INBOUND, STATUS = "/webhooks/twilio/whatsapp", "/webhooks/twilio/status"
VALID = {"From": "whatsapp:+5215500001234", "To": "whatsapp:+14155238886", "NumMedia": "0",
         "AccountSid": "AC" + "0" * 32, "Body": "hola"}


@pytest.mark.parametrize("num_media", ["²", "١", "٣", "１", "⁰", "-1", "+1", " 1", "1_0", "1e2", "0x1",
                                       "9" * 5000, "1\u00a0", "1000"])
def test_num_media_must_be_ascii_digits(twilio: Harness, num_media: str) -> None:
    form = {**VALID, "MessageSid": "SM" + "e" * 32, "NumMedia": num_media}
    r = _signed(twilio, INBOUND, form)
    assert r.status_code == 400, (r.status_code, r.text)


def _signed(h: Harness, path: str, form: dict[str, str]) -> Any:
    client = TestClient(h.client.app, raise_server_exceptions=False)
    return signed_post(client, TOKEN, path, form)


@pytest.mark.parametrize("path", [INBOUND, STATUS])
@pytest.mark.parametrize("body", [
    b"Body=%ED%A0%80&From=x",  # a UTF-8-encoded surrogate
    b"Body=%FF&From=x",
    b"Body=\xff",
    b"&".join(b"f%d=1" % i for i in range(300)),  # too many fields
    b"Body=" + b"a" * 60_000 + b"&Body=b",
])
def test_twilio_hostile_forms_get_a_4xx(twilio: Harness, path: str, body: bytes) -> None:
    client = TestClient(twilio.client.app, raise_server_exceptions=False)
    r = client.post(path, content=body, headers={"content-type": FORM_TYPE, "x-twilio-signature": "x"})
    assert 400 <= r.status_code < 500, r.status_code


def test_twilio_nul_in_a_signed_body_is_removed_not_refused(twilio: Harness) -> None:
    """Twilio vouches for a signed message: it is kept (without the NUL), not lost to a 400."""
    sid = "SM" + "d" * 32
    assert _signed(twilio, INBOUND, {**VALID, "MessageSid": sid, "Body": "hola\x00"}).status_code == 200
    from bot.core.events import UserUttered

    events = twilio.processor.tracker("+525500001234").events
    texts = [e.text for e in events if isinstance(e, UserUttered)]
    assert texts == ["hola"]


@pytest.mark.parametrize("path", [INBOUND, STATUS])
def test_twilio_oversized_stream_is_a_413(twilio: Harness, path: str) -> None:
    client = TestClient(twilio.client.app, raise_server_exceptions=False)
    r = client.post(path, content=_chunks(1024 * 1024, b"a"),
                    headers={"content-type": FORM_TYPE, "x-twilio-signature": "x"})
    assert r.status_code == 413


@pytest.mark.parametrize("path", [INBOUND, STATUS])
@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "multipart/form-data; boundary=x", None])
def test_twilio_routes_refuse_other_content_types(twilio: Harness, path: str, ctype: str | None) -> None:
    form = {**VALID, "MessageSid": "SM" + "c" * 32, "MessageStatus": "delivered"}
    headers = {"x-twilio-signature": sign(TOKEN, "http://testserver" + path, form)}
    if ctype:
        headers["content-type"] = ctype
    client = TestClient(twilio.client.app, raise_server_exceptions=False)
    r = client.post(path, content=urlencode(form).encode(), headers=headers)
    assert r.status_code == 415, r.status_code


def test_twilio_signature_is_checked_on_the_raw_params(twilio: Harness) -> None:
    """Text is NFC-normalised for the dialogue, but the signature covers what Twilio sent (decomposed)."""
    form = {**VALID, "MessageSid": "SM" + "b" * 32, "Body": "man\u0303ana"}
    assert _signed(twilio, INBOUND, form).status_code == 200
    forged = {**form, "MessageSid": "SM" + "a" * 32}
    headers = {"content-type": FORM_TYPE,
               "x-twilio-signature": sign(TOKEN, "http://testserver" + INBOUND, {**forged, "Body": "mañana"})}
    client = TestClient(twilio.client.app, raise_server_exceptions=False)
    assert client.post(INBOUND, content=urlencode(forged).encode(), headers=headers).status_code == 403


hostile_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["²", "١", "１", "9" * 5000, "\x00", "man\u0303ana", "\u202e", "0", "1"]),
)
form_fields = ["Body", "From", "NumMedia", "MessageSid", "MessageStatus", "ErrorCode", "ButtonPayload"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from([INBOUND, STATUS]), sid=st.text("0123456789abcdef", min_size=32, max_size=32),
       extra=st.dictionaries(st.sampled_from(form_fields), hostile_text, max_size=3))
def test_fuzz_signed_twilio_forms_never_5xx(twilio: Harness, path: str, sid: str,
                                            extra: dict[str, str]) -> None:
    form = {**VALID, "MessageSid": "SM" + sid, "MessageStatus": "delivered", **extra}
    r = _signed(twilio, path, form)
    assert r.status_code < 500, (r.status_code, r.text[:200])
