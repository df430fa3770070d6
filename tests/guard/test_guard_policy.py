"""policies/disclosure.yml: the shipped file loads; anything that weakens the promise is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import ConfigError
from bot.guard.policy import ALWAYS_BLOCKED, load_clinic_services, load_policy, parse_policy

from .conftest import ROOT

SHIPPED = ROOT / "policies" / "disclosure.yml"


def shipped() -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_shipped_policy_loads() -> None:
    policy = load_policy(SHIPPED)
    assert policy.blocked_categories == ALWAYS_BLOCKED
    assert policy.exempt_channels == frozenset({"portal"})
    assert "tratamiento de sus datos personales" in policy.allowed_exceptions
    assert policy.recent_window >= 1


def test_clinic_services() -> None:
    services = load_clinic_services(ROOT / "clinic.yml")
    assert "Control prenatal" in services.sensitive
    assert "Ultrasonido" in services.names and "Ultrasonido" not in services.sensitive


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"blocked_categories": ["diagnosis"]}, "cannot drop"),
        ({"blocked_categories": [*sorted(ALWAYS_BLOCKED), "gossip"]}, "unknown blocked_categories"),
        ({"exempt_channels": ["portal", "whatsapp"]}, "only the authenticated portal"),
        ({"allowed_topics": ["appointments", "diagnoses"]}, "unknown allowed_topics"),
        ({"extra_terms": {"lab_result": ["x"]}}, "extra_terms"),
        ({"extra_terms": ["x"]}, "extra_terms"),
        ({"extra_terms": {"diagnosis": "x"}}, "list of non-empty strings"),
        ({"allowed_exceptions": [""]}, "allowed_exceptions"),
        ({"recent_window": -1}, "recent_window"),
        ({"recent_window": True}, "recent_window"),
        ({"max_message_chars": 0}, "max_message_chars"),
        ({"version": 2}, "version"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_invalid_policies_are_refused(change: dict[str, Any], message: str) -> None:
    data = {**shipped(), **change}
    with pytest.raises(ConfigError, match=message):
        parse_policy(data, "disclosure.yml")


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse_policy(["x"])


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("a: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_policy(bad)
    clinic = tmp_path / "clinic.yml"
    clinic.write_text("services:\n  - {name: X, sensitive: maybe}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sensitive"):
        load_clinic_services(clinic)


def test_lexicon_files_load() -> None:
    from bot.guard.lexicon import builtin_terms

    terms = builtin_terms()
    assert len(terms["diagnosis"]) >= 300
    assert len(terms["medication"]) >= 200
    header = (ROOT / "bot" / "guard" / "lexicon" / "diagnoses.yml").read_text(encoding="utf-8")[:800]
    assert "ORIGINAL WORK" in header
