"""The physician's release page in the staff inbox (TestClient, SQLite): who may use it, the upload's
limits, the sealed file opened in the patient's portal, the audit, and the content-free notice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.portal.conftest import SENDER, ask_link, ref_of, sign_in

PASSWORD = "correcto-caballo-42"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def staff_client(portal_app: Any, app_state: Any) -> Iterator[tuple[TestClient, Any]]:
    from bot.inbox.staff import StaffAccounts

    accounts = StaffAccounts(app_state.directory.engine, audit=app_state.services.audit)
    accounts.add("luis.m", "Dr. Luis Mora", "physician", PASSWORD)
    accounts.add("ana.r", "Ana Ruiz", "agent", PASSWORD)
    yield portal_app


def login(client: TestClient, user: str) -> str:
    page = client.get("/inbox/entrar")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/inbox/entrar", data={"csrf": token, "usuario": user, "contrasena": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    form = client.get("/inbox/documentos")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    return found.group(1) if found else ""


def upload(client: TestClient, csrf: str, cid: str, data: bytes | None, *,
           title: str = "Radiografía de tórax", text: str = "", name: str = "rx.pdf",
           mime: str = "application/pdf") -> Any:
    files = {"archivo": (name, data, mime)} if data is not None else None
    fields = {"csrf": csrf, "c": cid, "tipo": "result", "titulo": title, "texto": text}
    return client.post("/inbox/documentos", data=fields, files=files, follow_redirects=False)


def test_only_physicians_and_admins_may_release(staff_client: Any) -> None:
    client, _ = staff_client
    assert client.get("/inbox/documentos").status_code == 401
    login(client, "ana.r")
    page = client.get("/inbox/documentos")
    assert page.status_code == 403 and "Solo un médico" in page.text
    assert client.post("/inbox/documentos", files={"x": ("a", b"b")}).status_code == 403


def test_a_physician_uploads_a_pdf_the_patient_opens_it(staff_client: Any, app_state: Any) -> None:
    client, portal = staff_client
    ask_link(client, SENDER)  # the patient has a conversation with the assistant (REST: no WhatsApp)
    ref = ref_of(app_state, SENDER)
    csrf = login(client, "luis.m")
    page = client.get(f"/inbox/documentos?c={ref}")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert upload(client, "0" * 20, ref, PDF).status_code == 403  # CSRF
    done = upload(client, csrf, ref, PDF, text="Sin hallazgos relevantes.")
    assert done.status_code == 303 and done.headers["location"].startswith("/inbox/documentos?aviso=")
    [entry] = [e for e in app_state.services.audit.entries() if e.action == "portal.document_released"]
    assert (entry.actor, entry.subject) == ("staff:luis.m", f"patient:{ref}")
    # sealed at rest: neither the title nor the file's bytes are in the table
    from sqlalchemy import select

    table = portal.records.table
    with app_state.directory.engine.connect() as conn:
        row = conn.execute(select(table)).one()
    assert "Radiograf" not in row.title and "PDF" not in row.body and row.released_by == "staff:luis.m"

    client.cookies.clear()
    sign_in(client, portal)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/portal").text).group(1)
    client.post("/portal/consentimiento",
                data={"csrf": csrf, "decision": "accept", "purpose": ["appointments"]})
    home = client.get("/portal")
    assert "Radiografía de tórax" in home.text
    doc = client.get(f"/portal/documentos/{row.id}")
    assert "Sin hallazgos relevantes." in doc.text and f"/portal/documentos/{row.id}/archivo" in doc.text
    served = client.get(f"/portal/documentos/{row.id}/archivo")
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["cache-control"] == "no-store"
    assert served.headers["content-disposition"].startswith("inline")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/portal/documentos/{row.id + 1}/archivo").status_code == 404


@pytest.mark.parametrize("data, name, mime, status, message", [
    (b"MZ\x90\x00 not a pdf", "rx.pdf", "application/pdf", 400, "Solo se aceptan archivos PDF, PNG o JPG"),
    (b"<svg onload=alert(1)>", "x.png", "image/png", 400, "Solo se aceptan"),
    (b"", "", "application/octet-stream", 400, "Escriba una nota o adjunte un archivo"),  # no file chosen
])
def test_bad_uploads_are_refused(staff_client: Any, app_state: Any, data: bytes | None, name: str,
                                 mime: str, status: int, message: str) -> None:
    client, _ = staff_client
    ref = ref_of(app_state, SENDER)
    ask_link(client, SENDER)
    csrf = login(client, "luis.m")
    r = upload(client, csrf, ref, data, name=name, mime=mime)
    assert r.status_code == status and message in r.text
    assert not [e for e in app_state.services.audit.entries() if e.action == "portal.document_released"]


def test_a_file_over_the_limit_is_refused_before_it_is_read(staff_client: Any, app_state: Any) -> None:
    from bot.portal.records import MAX_FILE

    client, _ = staff_client
    csrf = login(client, "luis.m")
    big = PDF + b"0" * (MAX_FILE + 128 * 1024)
    r = upload(client, csrf, ref_of(app_state, SENDER), big)
    assert r.status_code == 413


def test_an_image_is_shown_in_the_page_and_a_phone_number_finds_the_patient(staff_client: Any,
                                                                           app_state: Any) -> None:
    client, portal = staff_client
    csrf = login(client, "luis.m")
    fields = {"csrf": csrf, "telefono": "+52 55 5555 0199", "tipo": "document", "titulo": "Receta",
              "texto": ""}
    r = client.post("/inbox/documentos", data=fields, files={"archivo": ("r.png", PNG, "image/png")},
                    follow_redirects=False)
    assert r.status_code == 303
    from bot.core.identity import canonical_phone

    ref = str(app_state.services.patient_ref(canonical_phone("+525555550199")))
    [doc] = portal.records.for_patient(ref)
    assert (doc.mime, doc.data, doc.title) == ("image/png", PNG, "Receta")
    bad = dict(fields, telefono="hola")
    refused = client.post("/inbox/documentos", data=bad, files={"archivo": ("r.png", PNG, "image/png")})
    assert refused.status_code == 400
