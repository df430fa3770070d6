"""Session-wide fixtures: a trained model, an isolated var/ directory, an app state on SQLite."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_VAR = tempfile.TemporaryDirectory(prefix="bot-test-var-")


def pytest_configure(config: pytest.Config) -> None:
    # never write keys or databases into the checkout; never pick up a developer's secrets by accident
    os.environ.setdefault("BOT_VAR_DIR", _VAR.name)
    os.environ.setdefault("BOT_DATA_KEY", base64.b64encode(b"k" * 32).decode())
    # the tests set Twilio credentials and DATABASE_URL, which would make this a deployed configuration;
    # tests of the deployed rules set BOT_ENV=production themselves (see bot.settings.deployment_mode)
    os.environ.setdefault("BOT_ENV", "development")


def pytest_unconfigure(config: pytest.Config) -> None:
    _VAR.cleanup()


@pytest.fixture(scope="session")
def interpreter(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The project's NLU model, trained once per session into a temporary models directory."""
    from bot.nlu.model import load_latest

    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        return load_latest(tmp_path_factory.mktemp("models"), train_if_missing=True)
    finally:
        os.chdir(cwd)


@pytest.fixture
def app_state(tmp_path: Path, interpreter: Any) -> Iterator[Any]:
    """A full assistant on a fresh SQLite database with in-memory tracker and lock stores."""
    from datetime import datetime

    from bot.app.wiring import build_app_state
    from bot.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    when = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
    state = build_app_state(
        ROOT,
        tracker_store={"type": "memory"},
        lock_store={"type": "memory"},
        interpreter=interpreter,
        engine=engine,
        clock=lambda: when,
    )
    yield state
    state.close()
    engine.dispose()
