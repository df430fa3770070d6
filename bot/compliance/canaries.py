"""Canary strings planted in synthetic clinical fixtures.

Any test can assert that none of these ever reaches WhatsApp, an LLM prompt, a log line or the audit
log: they exist only in the clinical schema (PostgreSQL, portal role) and in test fixtures.
"""

from __future__ import annotations

CANARY_DIAGNOSIS = "CANARY-DX-7f3a"
CANARY_LAB = "CANARY-LAB-91c2"
CANARY_IMAGING = "CANARY-IMG-4be8"
CANARY_MEDICATION = "CANARY-RX-d05e"
CANARY_NOTE = "CANARY-NOTE-a6f1"
CANARY_HISTORY = "CANARY-HX-38d9"

CANARIES: tuple[str, ...] = (
    CANARY_DIAGNOSIS,
    CANARY_LAB,
    CANARY_IMAGING,
    CANARY_MEDICATION,
    CANARY_NOTE,
    CANARY_HISTORY,
)


def contains_canary(value: str) -> str | None:
    """The first canary found in ``value`` (for assertions and for a belt-and-braces outbound check)."""
    return next((c for c in CANARIES if c in value), None)
