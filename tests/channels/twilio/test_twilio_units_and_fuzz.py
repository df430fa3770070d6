"""Units (splitting, canonical numbers) and a Hypothesis fuzz of both webhooks: a 4xx writes nothing, a 200
records the message completely, and nothing is ever a 5xx."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.channels.twilio.ledger import twilio_inbound, twilio_status
from bot.channels.twilio.sender import split_text
from bot.channels.twilio.signature import valid_sid
from bot.core.identity import canonical_phone
from tests.channels.conftest import TOKEN, Harness, written
from tests.fakes.twilio_server import signed_post


@pytest.mark.parametrize(("raw", "canonical"), [
    ("whatsapp:+5215512345678", "+525512345678"),
    ("whatsapp:+525512345678", "+525512345678"),
    ("+5215512345678", "+525512345678"),
    ("+528112345678", "+528112345678"),
    ("whatsapp:+14155238886", "+14155238886"),
])
def test_canonical_sender(raw: str, canonical: str) -> None:
    assert canonical_phone(raw) == canonical


@pytest.mark.parametrize("raw", ["", "whatsapp:", "whatsapp:hola", "+1" * 40, "messenger:abc"])
def test_canonical_sender_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        canonical_phone(raw)


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
SAMPLES = ["whatsapp:+5215500001234", "SM" + "a" * 32, "0", "1", "delivered", "63016", "/greet", ""]
values = st.one_of(st.text(max_size=80), st.sampled_from(SAMPLES))
noise = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), values, max_size=12)
VALID = {"From": "whatsapp:+5215500001234", "To": "whatsapp:+14155238886", "NumMedia": "0",
         "AccountSid": "AC" + "0" * 32, "MessageStatus": "delivered"}
sids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32).map(lambda h: "SM" + h)
# random forms, and valid ones with a fresh MessageSid and a few fields overwritten (so 200s happen too)
forms = noise | st.builds(lambda sid, extra: {**VALID, "MessageSid": sid, **extra}, sids,
                          st.dictionaries(st.sampled_from(FIELDS), values, max_size=2))
INBOUND, STATUS = "/webhooks/twilio/whatsapp", "/webhooks/twilio/status"


def rows_with_sid(h: Harness, table: Any, sid: str) -> int:
    with h.channel.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)
                                .where(table.c.message_sid == sid)).scalar_one())


def check_outcome(h: Harness, path: str, form: dict[str, str], before: dict[str, int], status: int) -> None:
    """A 4xx wrote nothing at all; a 200 recorded the message (or status) completely; never a 5xx."""
    after = written(h)
    event(f"{path.rsplit('/', 1)[-1]} {status}")  # --hypothesis-show-statistics: what the fuzz reached
    assert 400 <= status < 500 or status == 200, status
    if status != 200:
        assert after == before, (status, before, after)
        return
    sid = valid_sid(form.get("MessageSid") or (form.get("SmsSid") if path == STATUS else None))
    assert sid is not None
    if path == STATUS:  # at most one status row more (a repeated callback adds none); nothing else
        assert rows_with_sid(h, twilio_status, sid) >= 1
        assert after["twilio_status"] - before["twilio_status"] in (0, 1)
        assert after == {**before, "twilio_status": after["twilio_status"]}
        return
    assert rows_with_sid(h, twilio_inbound, sid) == 1  # recorded once (a retried SID: the first record)
    assert after["twilio_inbound"] - before["twilio_inbound"] in (0, 1)
    assert after["twilio_status"] == before["twilio_status"]
    assert h.channel.ledger.inbound_status(sid) in ("processed", "media")  # answered, not left half-done
    if after["twilio_inbound"] > before["twilio_inbound"]:  # new: the dialogue saw it (media: never)
        assert after["tracker_events"] > before["tracker_events"] or form.get("NumMedia", "0") != "0"
    else:  # a duplicate of an earlier message: acknowledged, nothing else
        assert after == before


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=forms, signed=st.booleans(), path=st.sampled_from([INBOUND, STATUS]))
def test_fuzz_forms_never_5xx(harness: Harness, form: dict[str, str], signed: bool, path: str) -> None:
    before = written(harness)
    if signed:
        r = signed_post(harness.client, TOKEN, path, form)
    else:
        r = harness.client.post(path, content=urlencode(form).encode(),
                                headers={"content-type": "application/x-www-form-urlencoded"})
    check_outcome(harness, path, form, before, r.status_code)
    if not signed:
        assert r.status_code in (400, 403, 413)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(max_size=200), sid=sids,
       extra=st.dictionaries(st.sampled_from(["ButtonPayload", "ButtonText", "ProfileName", "WaId"]),
                             st.text(max_size=40), max_size=3))
def test_fuzz_valid_signed_messages_are_recorded_completely(harness: Harness, body: str, sid: str,
                                                            extra: dict[str, str]) -> None:
    """Valid, signed messages with arbitrary text: each is a 200 and is recorded and answered."""
    form = {**VALID, **extra, "Body": body, "MessageSid": sid}
    before = written(harness)
    r = signed_post(harness.client, TOKEN, INBOUND, form)
    assert r.status_code == 200
    check_outcome(harness, INBOUND, form, before, r.status_code)


CTYPES = ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data", ""]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2000), ctype=st.sampled_from(CTYPES),
       sig=st.text(max_size=40))
def test_fuzz_bytes_never_5xx(harness: Harness, body: bytes, ctype: str, sig: str) -> None:
    headers = {"content-type": ctype} if ctype else {}
    if sig.isascii() and sig.isprintable():
        headers["x-twilio-signature"] = sig
    before = written(harness)
    r = harness.client.post(INBOUND, content=body, headers=headers)
    assert 400 <= r.status_code < 500
    check_outcome(harness, INBOUND, {}, before, r.status_code)
