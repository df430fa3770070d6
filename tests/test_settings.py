"""Environment variables are read in one place: bot.settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import settings
from bot.errors import ConfigError

BOT = Path(__file__).resolve().parents[1] / "bot"
_READS = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(")

#: Modules still reading the environment themselves, until they are switched to bot.settings.
#: Shrink this list; never grow it.
PENDING: frozenset[str] = frozenset()


def test_only_settings_reads_the_environment() -> None:
    readers = {
        path.relative_to(BOT).as_posix()
        for path in BOT.rglob("*.py")
        if _READS.search(path.read_text(encoding="utf-8"))
    }
    assert readers - PENDING == {"settings.py"}


def test_values_are_read_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_TRACKER_CACHE", raising=False)
    assert settings.tracker_cache_size() == settings.DEFAULT_TRACKER_CACHE
    monkeypatch.setenv("BOT_TRACKER_CACHE", "7")
    assert settings.tracker_cache_size() == 7
    assert settings.tracker_cache_size({"BOT_TRACKER_CACHE": "0"}) == 0  # an injected mapping wins


@pytest.mark.parametrize(
    ("read", "variable", "value", "message"),
    [
        (settings.tracker_cache_size, "BOT_TRACKER_CACHE", "many", "BOT_TRACKER_CACHE must be a whole"),
        (settings.gil_switch_ms, "BOT_GIL_SWITCH_MS", "500", "BOT_GIL_SWITCH_MS must be a number"),
        (settings.reuse_port, "BOT_REUSE_PORT", "yes", "BOT_REUSE_PORT must be 1"),
        (settings.reminders_interval, "BOT_REMINDERS_INTERVAL", "0", "BOT_REMINDERS_INTERVAL: seconds"),
    ],
)
def test_bad_values_say_which_variable(read: object, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read({variable: value})  # type: ignore[operator]


def test_defaults() -> None:
    empty: dict[str, str] = {}
    assert settings.audit_checkpoint_every(empty) == 1000
    assert settings.audit_checkpoint_every({"BOT_AUDIT_CHECKPOINT_EVERY": ""}) == 0
    assert settings.audit_retired_keys({"BOT_AUDIT_RETIRED_KEYS": "a, ,b"}) == ["a", "b"]
    assert settings.gil_switch_ms(empty) == 1.0
    assert settings.reuse_port(empty) and not settings.reuse_port({"BOT_REUSE_PORT": "0"})
    assert settings.reminders_interval(empty) == 60.0
    assert settings.reminders_off({"BOT_REMINDERS": " Off "}) and not settings.reminders_off(empty)
    assert settings.twilio_order_timeout(empty) == 30.0 and settings.twilio_worker_threads(empty) == 2
    assert settings.ca_bundle({"CURL_CA_BUNDLE": "/c"}) == "/c"
    assert settings.ca_bundle({"REQUESTS_CA_BUNDLE": "/r", "CURL_CA_BUNDLE": "/c"}) == "/r"
    assert settings.agent_shared_token(empty) == "" and settings.endpoints_file(empty) is None
