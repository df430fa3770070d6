"""A note can never pass for a file, and a damaged stored file is a clean, audited "not found" page —
never a 500 — on the document page and its file."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.portal.conftest import SENDER, ask_link, ref_of, sign_in
from tests.portal.test_release_page import PDF, login, staff_client  # noqa: F401 (fixture)


def upload(client: Any, csrf: str, cid: str, data: bytes | None, *, title: str = "Aviso",
           text: str = "") -> Any:
    files = {"archivo": ("rx.pdf" if data else "", data or b"", "application/octet-stream")}
    fields = {"csrf": csrf, "c": cid, "tipo": "note", "titulo": title, "texto": text}
    return client.post("/inbox/documentos", data=fields, files=files, follow_redirects=False)


def test_a_note_with_control_characters_or_the_file_mark_is_refused(staff_client: Any,  # noqa: F811
                                                                     app_state: Any) -> None:
    client, portal = staff_client
    ask_link(client, SENDER)
    ref = ref_of(app_state, SENDER)
    csrf = login(client, "luis.m")
    envelope = json.dumps({"mime": "text/html", "note": "", "data": "PHNjcmlwdD4="})
    for text in (" \x00file:" + envelope, "\x00file:x", " \x00file:{broken", "hola\x07"):
        r = upload(client, csrf, ref, None, text=text)
        assert r.status_code == 400 and "caracteres no válidos" in r.text, text
    assert upload(client, csrf, ref, None, title="Aviso\x00", text="hola").status_code == 400
    assert upload(client, csrf, ref, PDF, text="nota\x1b[31m").status_code == 400
    assert portal.records.listing(ref) == []
    assert upload(client, csrf, ref, None, text="Línea uno\r\n\tLínea dos").status_code == 303
    with pytest.raises(ValueError):
        portal.records.release(ref, "note", "Aviso", " \x00file:" + envelope, "staff:luis.m")
    with pytest.raises(ValueError):
        portal.records.release_file(ref, "note", "Aviso\x00", "", PDF, "staff:luis.m")


@pytest.mark.parametrize("body", [
    "{broken",
    json.dumps({"note": "", "data": "JVBERi0="}),  # no type
    json.dumps({"mime": "text/html", "note": "", "data": "PGh0bWw+"}),  # a type not allowed
    json.dumps({"mime": "application/pdf", "note": "", "data": "PGh0bWw+"}),  # bytes of another type
    json.dumps({"mime": "application/pdf", "note": "", "data": "!!!"}),
    json.dumps(["not", "an", "object"]),
])
def test_a_damaged_file_is_an_audited_not_found(portal_app: Any, app_state: Any, body: str) -> None:
    from bot.portal.records import _FILE_MARK

    client, portal = portal_app
    ask_link(client, SENDER)
    ref = ref_of(app_state, SENDER)
    doc_id = portal.records.release(ref, "result", "Estudio", _FILE_MARK + body, "staff:luis.m", limit=None)
    sign_in(client, portal)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/portal").text)
    if csrf:  # the consent modal first
        client.post("/portal/consentimiento", data={"csrf": csrf.group(1), "decision": "accept",
                                                   "purpose": ["appointments"]})
    for path in (f"/portal/documentos/{doc_id}", f"/portal/documentos/{doc_id}/archivo"):
        r = client.get(path)
        assert r.status_code == 404 and "No encontrado" in r.text, (path, r.status_code)
    damaged = [e for e in app_state.services.audit.entries() if e.action == "portal.document_damaged"]
    assert len(damaged) == 2


def test_an_unexpected_failure_on_the_release_page_is_not_a_bare_500(
        staff_client: Any, app_state: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from bot.portal import release_page

    client, _ = staff_client
    ask_link(client, SENDER)
    csrf = login(client, "luis.m")

    def broken(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(release_page, "_patient", broken)
    r = upload(client, csrf, ref_of(app_state, SENDER), None, text="hola")
    assert r.status_code == 503 and "Algo falló" in r.text
