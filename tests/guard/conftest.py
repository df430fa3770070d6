"""Fixtures for the disclosure gate tests: the project's gate, built once, and the corpora."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.guard.gate import DisclosureGate, Provenance, load_gate

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
AGENT = Provenance("agent", "agent-7")


@cache
def corpus(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))
    return list(data["items"])


@cache
def project_gate() -> DisclosureGate:
    return load_gate(ROOT, registered_responses=("utter_booked", "utter_portal", "utter_clinical_redirect"))


@pytest.fixture
def gate() -> DisclosureGate:
    return project_gate()
