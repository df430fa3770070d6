"""The inbox pages over WhatsApp (signed webhooks, the real assistant, the real twilio SDK against the
local fake Twilio): inside the 24-hour window a reply goes out; outside it the reply box becomes a
template picker, free text is refused (409, nothing sent) and an approved template goes out."""

from __future__ import annotations

from typing import Any

from bot.inbox.staff import StaffAccounts
from tests.inbox.conftest import CONSENT_SID, Inbox
from tests.inbox.web.test_pages import PASSWORD, csrf_of


def _login(inbox: Inbox) -> Any:
    client = inbox.h.client
    StaffAccounts(inbox.state.directory.engine).add("eva.p", "Eva Pérez", "agent", PASSWORD)
    page = client.get("/inbox/entrar")
    r = client.post("/inbox/entrar", data={"csrf": csrf_of(page.text), "usuario": "eva.p",
                                           "contrasena": PASSWORD})
    assert r.status_code == 200 and "Eva Pérez" in r.text
    return client


def test_reply_inside_the_window_and_templates_only_outside(inbox: Inbox) -> None:
    client = _login(inbox)
    fake = inbox.h.fake
    queue = client.get("/inbox/cola").text
    assert f"/inbox/c/{inbox.cid}" in queue and "WhatsApp" in queue and "5512345678" not in queue
    page = client.get(f"/inbox/c/{inbox.cid}")
    assert 'id="reply-form"' in page.text and 'id="send-template"' not in page.text
    token = csrf_of(page.text)
    sent = len(fake.accepted)
    r = client.post(f"/inbox/c/{inbox.cid}/responder", data={"csrf": token, "texto": "Con gusto le ayudo."})
    assert r.status_code == 200 and "Mensaje enviado" in r.text
    assert len(fake.accepted) == sent + 1 and fake.accepted[-1]["Body"] == "Con gusto le ayudo."

    inbox.h.clock.advance(hours=24, seconds=1)
    page = client.get(f"/inbox/c/{inbox.cid}")
    assert 'id="send-template"' in page.text and 'id="reply-form"' not in page.text
    assert "utter_consent_reminder" in page.text and "cerrada" in page.text
    r = client.post(f"/inbox/c/{inbox.cid}/responder", data={"csrf": token, "texto": "Hola de nuevo"})
    assert r.status_code == 409 and "plantilla" in r.text
    assert len(fake.accepted) == sent + 1  # nothing went out
    r = client.post(f"/inbox/c/{inbox.cid}/plantilla",
                    data={"csrf": token, "plantilla": "utter_consent_reminder"})
    assert r.status_code == 200 and "Plantilla enviada" in r.text
    assert fake.accepted[-1]["ContentSid"] == CONSENT_SID
    r = client.post(f"/inbox/c/{inbox.cid}/plantilla", data={"csrf": token, "plantilla": "utter_nope"})
    assert r.status_code == 400 and "plantilla" in r.text
    # resolving outside the window returns the conversation without writing to the patient
    r = client.post(f"/inbox/c/{inbox.cid}/resolver", data={"csrf": token})
    assert r.status_code == 200 and "sin escribir al paciente" in r.text
    assert len(fake.accepted) == sent + 2
    assert not inbox.h.processor.tracker("+525512345678").in_handoff
    actions = inbox.staff_actions()
    assert ("staff:eva.p", "agent.template") in actions and ("staff:eva.p", "handoff.ended") in actions
