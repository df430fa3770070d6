"""Rendering the portal's pages: Jinja2 templates (autoescaped) and the security headers every answer
carries — a CSP without inline script or style, no framing, no referrer (the link's token is in the URL),
no caching (clinical pages), HSTS when served over https."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


@cache
def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def security_headers(https: bool) -> dict[str, str]:
    headers = {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "pragma": "no-cache",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if https:
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return headers


def render(name: str, *, status: int = 200, https: bool = False, **context: Any) -> HTMLResponse:
    html = _env().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=security_headers(https))


def message(
    title: str, text: str, *, status: int, https: bool = False, clinic: str = "", action: str | None = None
) -> HTMLResponse:
    """A short page with one message (errors, logout, lockout)."""
    return render(
        "message.html", status=status, https=https, title=title, text=text, clinic=clinic, action=action
    )
