"""Backend details outside the shared contracts: JSON round-trips, schema, imports, fake-clock expiry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect

from bot.errors import LockTimeoutError
from bot.stores.memory import InMemoryLockStore, InMemoryTrackerStore
from bot.stores.sql import SQLTrackerStore

from .conftest import FakeClock

PROJECT = Path(__file__).resolve().parents[2]

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1), json_values, max_size=4), max_size=5))
def test_any_json_event_round_trips(events: list[dict[str, Any]]) -> None:
    store = InMemoryTrackerStore()
    store.append("s", events)
    assert store.load("s") == events


def test_sql_table_shape(tmp_path: Path) -> None:
    store = SQLTrackerStore(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        inspector = inspect(store.engine)
        columns = {c["name"] for c in inspector.get_columns("tracker_events")}
        assert columns == {"sender_id", "seq", "event", "created_at"}
        assert inspector.get_pk_constraint("tracker_events")["constrained_columns"] == ["sender_id", "seq"]
        assert "alembic_version" not in inspector.get_table_names()
    finally:
        store.close()


def test_memory_lock_expires_on_the_fake_clock_without_sleeping() -> None:
    clock = FakeClock()
    store = InMemoryLockStore(5, clock=clock)
    held = store.lock("s")
    held.__enter__()
    clock.advance(4.9)
    with pytest.raises(LockTimeoutError), store.lock("s", wait=0):
        pass
    clock.advance(0.2)
    with store.lock("s", wait=0):
        pass
    assert store.queue_length("s") == 0


def test_importing_the_factory_imports_no_sdk() -> None:
    code = (
        "import sys, bot.stores.factory, bot.stores.endpoints, bot.stores.memory; "
        "loaded = [m for m in ('redis', 'sqlalchemy', 'psycopg') if m in sys.modules]; "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=PROJECT
    )
    assert result.returncode == 0, result.stdout + result.stderr
