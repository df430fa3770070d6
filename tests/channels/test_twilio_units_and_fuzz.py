"""Units (splitting, canonical numbers) and a Hypothesis fuzz of both webhooks: never a 5xx."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.twilio_outbound import split_text
from bot.channels.twilio_store import canonical_sender
from tests.channels.conftest import TOKEN, Harness
from tests.fakes.twilio_server import signed_post


@pytest.mark.parametrize(("raw", "canonical"), [
    ("whatsapp:+5215512345678", "+525512345678"),
    ("whatsapp:+525512345678", "+525512345678"),
    ("+5215512345678", "+525512345678"),
    ("+528112345678", "+528112345678"),
    ("whatsapp:+14155238886", "+14155238886"),
])
def test_canonical_sender(raw: str, canonical: str) -> None:
    assert canonical_sender(raw) == canonical


@pytest.mark.parametrize("raw", ["", "whatsapp:", "whatsapp:hola", "+1" * 40, "messenger:abc"])
def test_canonical_sender_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        canonical_sender(raw)


@given(st.text(alphabet=st.sampled_from("ab cd.!?\n¿ñ" + "x" * 5), max_size=6000),
       st.integers(min_value=20, max_value=1600))
def test_split_text_respects_limit_and_keeps_words(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_split_prefers_paragraphs_then_sentences() -> None:
    para = "Primera oración. " * 50
    chunks = split_text(f"{para.strip()}\n\n{para.strip()}", 1600)
    assert chunks == [para.strip(), para.strip()]
    assert split_text("corto") == ["corto"]
    assert split_text("   ") == []


FIELDS = ["Body", "From", "To", "MessageSid", "AccountSid", "NumMedia", "MediaUrl0", "MediaContentType0",
          "ProfileName", "WaId", "ButtonPayload", "ButtonText", "MessageStatus", "ErrorCode", "Zzz"]
SAMPLES = ["whatsapp:+5215512345678", "SM" + "a" * 32, "0", "1", "delivered", "63016", "/greet", ""]
values = st.one_of(st.text(max_size=80), st.sampled_from(SAMPLES))
forms = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), values, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=forms, signed=st.booleans(), path=st.sampled_from(["/webhooks/twilio/whatsapp",
                                                               "/webhooks/twilio/status"]))
def test_fuzz_forms_never_5xx(harness: Harness, form: dict[str, str], signed: bool, path: str) -> None:
    if signed:
        r = signed_post(harness.client, TOKEN, path, form)
    else:
        r = harness.client.post(path, content=urlencode(form).encode(),
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code < 500
    if not signed:
        assert r.status_code in (400, 403, 413)


CTYPES = ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data", ""]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2000), ctype=st.sampled_from(CTYPES),
       sig=st.text(max_size=40))
def test_fuzz_bytes_never_5xx(harness: Harness, body: bytes, ctype: str, sig: str) -> None:
    headers = {"content-type": ctype} if ctype else {}
    if sig.isascii() and sig.isprintable():
        headers["x-twilio-signature"] = sig
    r = harness.client.post("/webhooks/twilio/whatsapp", content=body, headers=headers)
    assert 400 <= r.status_code < 500
