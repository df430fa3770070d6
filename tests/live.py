"""A real server and a real browser for the page tests: the app under uvicorn in a thread on 127.0.0.1,
and Debian's Chromium driven by Playwright (no browser download). Without Chromium or Playwright the
browser fixture skips, saying why."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.channels.twilio.processes import free_port

CHROMIUM = Path("/usr/bin/chromium")

__all__ = ["CHROMIUM", "chromium", "free_port", "serving"]


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """``app`` served on 127.0.0.1:``port`` (lifespan on) until the block ends; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium(what: str) -> Iterator[Any]:
    """Headless Chromium for ``what`` (e.g. "the inbox's browser tests"), or a skip that says why."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium; .ci/run "
                    f"does it): {what} need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()
