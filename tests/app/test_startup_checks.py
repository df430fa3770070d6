"""Fixed clinic texts that skip the gate at run time (button titles, the media acknowledgement) are
checked with the gate at start-up: a clinical word stops start-up with a clear error."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.app.wiring import build_app_state, check_fixed_texts
from bot.core.domain import ResponseSpec, Variation, load_domain
from bot.db import make_engine, migrate
from bot.errors import ConfigError
from bot.guard.gate import load_gate

ROOT = Path(__file__).resolve().parents[2]


def test_the_project_fixed_texts_pass_the_gate() -> None:
    from bot.channels.twilio.replies import MEDIA_ACK

    domain = load_domain(ROOT / "domain.yml")
    check_fixed_texts(load_gate(ROOT), domain, {"media acknowledgement": MEDIA_ACK})


def test_a_clinical_button_title_is_refused() -> None:
    domain = load_domain(ROOT / "domain.yml")
    button = {"title": "Ver su diagnóstico", "payload": "x"}
    spec = ResponseSpec("utter_bad", (Variation("¿Qué desea hacer?", None, (button,)),))
    bad = replace(domain, responses={**domain.responses, "utter_bad": spec})
    with pytest.raises(ConfigError, match=r"utter_bad.*Ver su diagnóstico"):
        check_fixed_texts(load_gate(ROOT), bad)
    with pytest.raises(ConfigError, match="media"):
        check_fixed_texts(load_gate(ROOT), domain, {"media": "Su resultado de VIH salió positivo"})


def _project(tmp_path: Path, title: str) -> Path:
    for name in ("config.yml", "clinic.yml", "domain.yml", "compliance.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "policies").mkdir()
    for name in ("disclosure.yml", "sensitivity.yml"):
        shutil.copy(ROOT / "policies" / name, tmp_path / "policies" / name)
    text = (tmp_path / "domain.yml").read_text(encoding="utf-8")
    assert '{title: "Acepto"' in text
    (tmp_path / "domain.yml").write_text(text.replace('"Acepto"', f'"{title}"', 1), encoding="utf-8")
    return tmp_path


def test_start_up_stops_on_a_clinical_button_title(tmp_path: Path, interpreter: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    try:
        (tmp_path / "project").mkdir()
        project = _project(tmp_path / "project", "Su biopsia")
        with pytest.raises(ConfigError, match="button title 'Su biopsia'"):
            build_app_state(project, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            interpreter=interpreter, engine=engine)
    finally:
        engine.dispose()


def test_start_up_stops_on_a_clinical_media_acknowledgement(
    app_state: Any, interpreter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.twilio import replies as twilio_replies

    monkeypatch.setattr(twilio_replies, "MEDIA_ACK", "Recibimos su archivo de la biopsia; salió negativa.")
    with pytest.raises(ConfigError, match="media acknowledgement"):
        build_app_state(ROOT, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                        interpreter=interpreter, engine=app_state.services.appointments.engine)


@pytest.fixture
def restore_switch_interval() -> Any:
    import sys

    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_gil_switch_interval_defaults_to_one_millisecond(
    monkeypatch: pytest.MonkeyPatch, restore_switch_interval: Any
) -> None:
    import sys

    from bot.app.worker import tune_switch_interval

    monkeypatch.delenv("BOT_GIL_SWITCH_MS", raising=False)
    assert tune_switch_interval() == pytest.approx(0.001)
    assert sys.getswitchinterval() == pytest.approx(0.001)
    monkeypatch.setenv("BOT_GIL_SWITCH_MS", "2.5")
    assert tune_switch_interval() == pytest.approx(0.0025)
    assert sys.getswitchinterval() == pytest.approx(0.0025)


@pytest.mark.parametrize("raw", ["", "fast", "0", "0.01", "500", "nan", "-1"])
def test_a_bad_gil_switch_interval_stops_start_up_with_a_clear_error(
    raw: str, monkeypatch: pytest.MonkeyPatch, restore_switch_interval: Any
) -> None:
    import sys

    from bot.app.worker import tune_switch_interval

    before = sys.getswitchinterval()
    monkeypatch.setenv("BOT_GIL_SWITCH_MS", raw)
    expected = r"BOT_GIL_SWITCH_MS must be a number of milliseconds from 0\.1 to 100"
    with pytest.raises(ConfigError, match=expected):
        tune_switch_interval()
    assert sys.getswitchinterval() == before
