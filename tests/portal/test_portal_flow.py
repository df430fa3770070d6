"""The portal end to end over HTTP (TestClient, SQLite): link → code → consent modal → released result."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from tests.portal.conftest import OTHER, SENDER, ask_link, ref_of, sign_in


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def _accept(client: Any, csrf: str, purposes: list[str]) -> Any:
    return client.post(
        "/portal/consentimiento",
        data={"csrf": csrf, "decision": "accept", "purpose": purposes},
        follow_redirects=False,
    )


def test_link_code_consent_and_released_result(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    doc_id = portal.records.release(
        ref, "result", "Biometría hemática", "Hemoglobina 14.1 g/dL\nNormal.", "staff:dra_lopez"
    )
    csrf = sign_in(client, portal)

    home = client.get("/portal")
    assert home.status_code == 200
    assert 'role="dialog"' in home.text and "Aviso de privacidad" in home.text
    assert "Biometría hemática" not in home.text  # nothing clinical behind the modal
    assert "checked" not in home.text  # nothing pre-ticked

    refused = _accept(client, csrf, ["reminders"])  # the necessary purpose left unticked
    assert refused.status_code == 400 and "finalidad necesaria" in refused.text

    done = _accept(client, csrf, ["appointments", "reminders"])
    assert done.status_code == 303
    records = app_state.services.consent.records(ref)
    web = [r for r in records if r.channel == "web"]
    assert web and sorted(web[-1].purposes) == ["appointments", "reminders"]
    evidence = app_state.services.consent.evidence(web[-1])
    assert evidence["ip"] == "testclient" and evidence["user_agent"]
    assert app_state.services.consent.verify_links() == []

    home = client.get("/portal")
    assert 'role="dialog"' not in home.text and "Biometría hemática" in home.text
    page = client.get(f"/portal/documentos/{doc_id}")
    assert page.status_code == 200 and "Hemoglobina 14.1 g/dL" in page.text
    assert page.headers["cache-control"] == "no-store"

    out = client.post("/portal/salir", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 200 and "Sesión cerrada" in out.text
    assert client.get(f"/portal/documentos/{doc_id}").status_code == 401

    actions = [e.action for e in app_state.services.audit.entries()]
    for expected in (
        "portal.link_issued",
        "portal.link_used",
        "portal.code_sent",
        "portal.factor_passed",
        "consent.granted",
        "portal.document_viewed",
        "portal.logout",
    ):
        assert expected in actions, expected


def test_reused_expired_and_unknown_links_get_the_same_answer(portal_app: Any, clock: Any) -> None:
    client, _portal = portal_app
    token = ask_link(client)
    assert client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False).status_code == 303
    client.cookies.clear()
    reused = client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False)
    unknown = client.post("/portal/l/" + "A" * 43, data={"go": "1"}, follow_redirects=False)
    late = ask_link(client, OTHER)
    clock.now += 16 * 60
    expired = client.post(f"/portal/l/{late}", data={"go": "1"}, follow_redirects=False)
    assert reused.status_code == unknown.status_code == expired.status_code == 410
    assert reused.text == unknown.text == expired.text
    assert "set-cookie" not in reused.headers


def test_the_link_page_does_not_consume_the_link(portal_app: Any) -> None:
    client, _ = portal_app
    token = ask_link(client)
    assert client.get(f"/portal/l/{token}").status_code == 200  # a link preview
    assert client.get("/portal/l/" + "B" * 43).text == client.get(f"/portal/l/{token}").text.replace(
        token, "B" * 43
    )
    assert client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False).status_code == 303


def test_five_wrong_codes_lock_the_patient_out(portal_app: Any, clock: Any, app_state: Any) -> None:
    client, portal = portal_app
    token = ask_link(client)
    client.post(f"/portal/l/{token}", data={"go": "1"})
    csrf = _csrf(client.get("/portal/codigo").text)
    right = portal.recorded.last_code()
    wrong = "000000" if right != "000000" else "111111"
    statuses = [
        client.post("/portal/codigo", data={"csrf": csrf, "code": wrong}).status_code for _ in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]
    assert client.post("/portal/codigo", data={"csrf": csrf, "code": right}).status_code == 401
    again = ask_link(client)
    assert client.post(f"/portal/l/{again}", data={"go": "1"}).status_code == 410  # locked: same answer
    clock.now += 16 * 60
    later = ask_link(client)
    assert client.post(f"/portal/l/{later}", data={"go": "1"}, follow_redirects=False).status_code == 303
    actions = [e.action for e in app_state.services.audit.entries()]
    assert actions.count("portal.factor_failed") == 5 and "portal.locked_out" in actions


def test_another_patients_document_is_a_404_and_audited(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    other = ref_of(app_state, OTHER)
    foreign = portal.records.release(other, "note", "Nota ajena", "Texto ajeno", "staff:dra_lopez")
    csrf = sign_in(client, portal)
    _accept(client, csrf, ["appointments"])
    page = client.get(f"/portal/documentos/{foreign}")
    missing = client.get("/portal/documentos/999999")
    junk = client.get("/portal/documentos/1%20OR%201=1")
    assert page.status_code == missing.status_code == junk.status_code == 404
    assert "Texto ajeno" not in page.text and page.text == missing.text
    denied = [e for e in app_state.services.audit.entries() if e.action == "portal.document_denied"]
    assert len(denied) == 3


def test_csrf_idle_timeout_and_declining(portal_app: Any, clock: Any, app_state: Any) -> None:
    client, portal = portal_app
    csrf = sign_in(client, portal)
    assert _accept(client, "0" * 64, ["appointments"]).status_code == 403
    assert client.post("/portal/salir", data={}).status_code == 403
    clock.now += 11 * 60
    assert client.get("/portal").status_code == 401  # idle too long
    csrf = sign_in(client, portal)
    declined = client.post("/portal/consentimiento", data={"csrf": csrf, "decision": "decline"})
    assert declined.status_code == 200 and "Sin su consentimiento" in declined.text
    assert client.get("/portal").status_code in (200, 401)
    ref = ref_of(app_state, SENDER)
    assert not [r for r in app_state.services.consent.records(ref) if r.channel == "web"]


def test_cookie_flags_and_security_headers(portal_app: Any, monkeypatch: Any) -> None:
    client, _portal = portal_app
    token = ask_link(client)
    r = client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http in development
    page = client.get("/portal/codigo")
    assert "script" not in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text
    monkeypatch.setenv("BOT_PUBLIC_URL", "https://clinica.example.mx")
    token = ask_link(client, OTHER)
    assert token  # the link now points at the public URL
    r = client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("__host-portal_sid=") and "secure" in cookie
    assert "strict-transport-security" in r.headers


def test_nothing_secret_is_stored_or_audited_in_clear(portal_app: Any, app_state: Any) -> None:
    from bot.portal.tables import portal_link, portal_session

    client, portal = portal_app
    token = ask_link(client)
    client.post(f"/portal/l/{token}", data={"go": "1"})
    code = portal.recorded.last_code()
    engine = app_state.services.consent.engine
    with engine.connect() as conn:
        dump = repr(conn.execute(select(portal_link)).all()) + repr(
            conn.execute(select(portal_session)).all()
        )
    assert token not in dump and code not in dump and SENDER not in dump
    audit = repr([(e.actor, e.action, e.subject, e.details) for e in app_state.services.audit.entries()])
    assert token not in audit and SENDER not in audit and f"'{code}'" not in audit


def test_a_clinical_question_gets_the_redirect_and_a_link(portal_app: Any) -> None:
    client, _ = portal_app
    answer = client.post(
        "/webhooks/rest/webhook",
        json={"sender": SENDER, "message": "¿ya salieron mis resultados de laboratorio?"},
    )
    texts = " ".join(m["text"] for m in answer.json())
    assert "portal seguro" in texts and "/portal/l/" in texts


def test_hostile_input_gets_4xx_never_500(portal_app: Any) -> None:
    client, portal = portal_app
    for path in (
        "/portal/l/%00",
        "/portal/l/" + "x" * 500,
        "/portal/l/..%2f..",
        "/portal/documentos/-1",
        "/portal/documentos/９",
        "/portal/codigo",
        "/portal",
    ):
        assert client.get(path).status_code < 500, path
    bad_type = client.post(
        "/portal/codigo", content=b'{"code": 1}', headers={"content-type": "application/json"}
    )
    assert bad_type.status_code == 415
    huge = client.post(
        "/portal/codigo",
        content=b"code=" + b"1" * 5000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413
    bad_utf8 = client.post(
        "/portal/l/abc", content=b"go=\xff", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert 400 <= bad_utf8.status_code < 500
    csrf = sign_in(client, portal)
    for value in ("", "１２３４５６", "12345", "1234567", "' OR 1=1 --", "\u202e123456"):
        r = client.post("/portal/consentimiento", data={"csrf": csrf, "decision": value, "purpose": [value]})
        assert 400 <= r.status_code < 500, value


def test_the_session_token_is_rotated_when_the_factor_passes(portal_app: Any) -> None:
    from bot.portal.routes import cookie_name

    client, portal = portal_app
    token = ask_link(client)
    client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False)
    pending = client.cookies.get(cookie_name())
    csrf = _csrf(client.get("/portal/codigo").text)
    r = client.post(
        "/portal/codigo", data={"csrf": csrf, "code": portal.recorded.last_code()}, follow_redirects=False
    )
    assert r.status_code == 303
    signed_in = client.cookies.get(cookie_name())
    assert signed_in and signed_in != pending
    client.cookies.clear()
    client.cookies.set(cookie_name(), pending)
    assert client.get("/portal").status_code == 401


def test_a_voluntary_purpose_can_be_revoked_from_the_portal(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    csrf = sign_in(client, portal)
    _accept(client, csrf, ["appointments", "reminders"])
    ref = ref_of(app_state, SENDER)
    assert app_state.services.consent.has(ref, "reminders")
    home = client.get("/portal")
    assert "Retirar" in home.text
    r = client.post(
        "/portal/consentimiento",
        data={"csrf": csrf, "decision": "revoke", "purpose": "reminders"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert not app_state.services.consent.has(ref, "reminders")
    necessary = client.post(
        "/portal/consentimiento", data={"csrf": csrf, "decision": "revoke", "purpose": "appointments"}
    )
    assert necessary.status_code == 400 and app_state.services.consent.has(ref, "appointments")
    assert app_state.services.consent.verify_links() == []


def test_the_link_text_passes_the_gate_over_whatsapp(app_state: Any, monkeypatch: Any) -> None:
    """The rendered utter_portal with a one-time link, as it would leave for WhatsApp."""
    monkeypatch.setenv("BOT_PUBLIC_URL", "https://bot.consultorio-jacarandas.example")
    from actions.portal import portal_base

    link = f"{portal_base(app_state.services.clinic.portal_url)}/portal/l/{'Zx9_-' * 8}abc"
    rendered = app_state.processor.renderer.render(
        "utter_portal", channel="whatsapp", slots={}, values={"portal_url": link}
    )
    text = rendered.text
    sent, blocked = app_state.processor.gate.filter(
        text, channel="whatsapp", provenance=("template", "utter_portal"), patient_specific=True, recent=[]
    )
    assert not blocked and link in sent


def test_an_opted_out_patient_gets_the_redirect_without_a_link(portal_app: Any) -> None:
    client, _ = portal_app
    client.post("/webhooks/rest/webhook", json={"sender": SENDER, "message": "BAJA"})
    answer = client.post(
        "/webhooks/rest/webhook",
        json={"sender": SENDER, "message": "ya salieron mis resultados de laboratorio?"},
    )
    texts = " ".join(m["text"] for m in answer.json())
    assert "portal seguro" in texts and "/portal/l/" not in texts


def test_random_link_tokens_never_trip_the_gate(app_state: Any) -> None:
    """token_urlsafe() tokens were blocked now and then (a run of characters read as a lab value)."""
    from bot.portal.access import new_link_token

    gate = app_state.processor.gate
    for _ in range(500):
        link = f"https://portal.consultorio-jacarandas.example/portal/l/{new_link_token()}"
        text = f"Puede entrar a su portal seguro aquí: {link}"
        _, blocked = gate.filter(
            text,
            channel="whatsapp",
            provenance=("template", "utter_portal"),
            patient_specific=True,
            recent=[],
        )
        assert not blocked, link
