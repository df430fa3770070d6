"""Run a test as if the server's time zone were another one (``TZ`` + ``time.tzset``), then restore it.

Dates a patient names are clinic-local whatever the server's zone: tests of that run under ``UTC`` and
``Pacific/Auckland`` (UTC+13 in November: a Mexico City evening is already the next day there).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

SERVER_ZONES = ("UTC", "Pacific/Auckland")


@contextmanager
def server_timezone(name: str) -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
