"""A hypothesis pass over the portal's routes: arbitrary paths, tokens, form bodies and content types get
an answer below 500 — never a server error — and reveal no patient."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.portal.conftest import sign_in

PATHS = [
    "/portal",
    "/portal/codigo",
    "/portal/consentimiento",
    "/portal/salir",
    "/portal/l/{x}",
    "/portal/documentos/{x}",
]
FIELDS = st.sampled_from(["csrf", "code", "birth_date", "decision", "purpose", "go", "x"])
VALUES = st.text(max_size=40) | st.sampled_from(
    ["accept", "decline", "revoke", "appointments", "reminders", "000000", "1980-02-29", "9" * 40]
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    x=st.text(min_size=1, max_size=60),
    method=st.sampled_from(["GET", "POST"]),
    form=st.lists(st.tuples(FIELDS, VALUES), max_size=6),
    ctype=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded; charset=latin-1",
        ]
    ),
)
def test_anonymous_requests_never_500(
    portal_app: Any, path: str, x: str, method: str, form: list[tuple[str, str]], ctype: str
) -> None:
    client, _ = portal_app
    url = path.replace("{x}", quote(x, safe=""))
    if method == "GET":
        r = client.get(url, follow_redirects=False)
    else:
        body = "&".join(f"{quote(k)}={quote(v)}" for k, v in form).encode()
        r = client.post(url, content=body, headers={"content-type": ctype}, follow_redirects=False)
    assert r.status_code < 500, (url, r.status_code, r.text[:200])


def test_signed_in_forms_never_500(portal_app: Any) -> None:
    client, portal = portal_app
    csrf = sign_in(client, portal)

    @FUZZ
    @given(
        path=st.sampled_from(["/portal/consentimiento", "/portal/codigo"]),
        form=st.lists(st.tuples(FIELDS, VALUES), max_size=6),
        keep_csrf=st.booleans(),
    )
    def run(path: str, form: list[tuple[str, str]], keep_csrf: bool) -> None:
        pairs = ([("csrf", csrf)] if keep_csrf else []) + [p for p in form if p[0] != "csrf" or not keep_csrf]
        pairs = [p for p in pairs if not (p[0] == "decision" and p[1] == "decline")]  # keep the session
        body = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()
        r = client.post(
            path,
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert r.status_code < 500, (path, pairs, r.status_code)
        assert r.status_code != 401, "the session must survive hostile forms"

    run()
