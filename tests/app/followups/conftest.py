"""The reminders' end-to-end harness (real assistant, signed Twilio webhooks, the real twilio SDK against
the local fake Twilio, a fake clock) with the follow-up templates configured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.channels.twilio.replies import ContentTemplate
from bot.compliance.transcripts import raw_store
from tests.app.reminders.conftest import Reminders, _harness, pg_engine, sqlite_engine  # noqa: F401
from tests.report.conftest import StampedStore

FOLLOW_UP_SID = "HX" + "f" * 32
NO_SHOW_SID = "HX" + "a" * 32


def _configured(engine: Any, interpreter: Any) -> Iterator[Reminders]:
    run = _harness(engine, interpreter)
    h = next(run)
    # the memory store under the conversations stamps turns with the fake clock (bot report reads them)
    store = raw_store(h.processor.tracker_store)
    store.__class__ = StampedStore
    store.clock = h.clock
    h.channel.templates.update({"utter_follow_up": ContentTemplate(FOLLOW_UP_SID, {"1": "text"}),
                                "utter_no_show_rebook": ContentTemplate(NO_SHOW_SID, {"1": "text"})})
    try:
        yield h
    finally:
        run.close()


@pytest.fixture
def followups(sqlite_engine: Any, interpreter: Any) -> Iterator[Reminders]:  # noqa: F811
    yield from _configured(sqlite_engine, interpreter)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, interpreter: Any) -> Iterator[Reminders]:
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
    yield from _configured(engine, interpreter)


def local(h: Reminders, day: int, hour: int, minute: int = 0) -> datetime:
    """A clinic-local time in March 2026 (the harness's clock starts on Monday 2 March, 9:00)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=h.services.clinic.timezone)


def after(moment: datetime, **delta: float) -> datetime:
    return moment + timedelta(**delta)
