"""Fixtures for the agents' inbox with per-agent credentials: the WhatsApp harness of tests/channels (the
real assistant, signed webhooks, the real twilio SDK against a local fake Twilio) plus issued tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.channels.twilio.replies import ContentTemplate
from bot.inbox.auth import AgentCredentials
from tests.channels.conftest import AGENT_TOKEN, Harness, agent_harness, engine
from tests.channels.twilio.test_twilio_agent import PATIENT, Patient  # the same fictional patient

__all__ = ["PATIENT", "agent_harness", "engine"]  # the fixtures, shared with tests/channels

CANONICAL = "+525512345678"
SHARED = {"authorization": f"Bearer {AGENT_TOKEN}"}
CONSENT_SID = "HX" + "c" * 32
CONFIRM_SID = "HX" + "d" * 32


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass
class Inbox:
    h: Harness
    credentials: AgentCredentials
    tokens: dict[str, str]  # agent id -> token (ana.r, luis.m live; old.agent revoked)
    patient: Patient

    @property
    def state(self) -> Any:
        return self.h.extra["state"]

    @property
    def cid(self) -> str:
        return str(self.state.services.patient_ref(CANONICAL))

    def staff_actions(self) -> list[tuple[str, str]]:
        entries = self.state.services.audit.entries()
        return [(e.actor, e.action) for e in entries if e.actor.startswith("staff:")]


@pytest.fixture
def inbox(agent_harness: Harness) -> Inbox:
    """Three agents (one revoked), the quick-reply templates configured, a patient waiting in handoff."""
    state = agent_harness.extra["state"]
    credentials = AgentCredentials(state.directory.engine)
    tokens = {agent: credentials.add(agent) for agent in ("ana.r", "luis.m", "old.agent")}
    assert credentials.revoke("old.agent")
    agent_harness.channel.templates = {
        "utter_consent_reminder": ContentTemplate(CONSENT_SID, {"1": "text"}),
        "utter_confirm_booking": ContentTemplate(CONFIRM_SID, {"1": "text", "2": "button:1"}),
    }
    patient = Patient(agent_harness)
    patient.says("quiero hablar con una persona")
    assert agent_harness.processor.tracker(CANONICAL).in_handoff
    return Inbox(agent_harness, credentials, tokens, patient)
