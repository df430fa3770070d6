"""What may go into an audit entry's details: references, counts, hashes, codes — never free text.

The check is deliberately blunt: keys that name content ("text", "body", "message" ...) are refused,
values are scalars or short lists of scalars, strings are short, and a string that looks like a phone
number is refused. Clinical text can still be smuggled in under an innocent key, but not by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.errors import ComplianceError

FORBIDDEN_KEYS = frozenset(
    {
        "text", "body", "message", "messages", "msg", "content", "transcript", "utterance",
        "diagnosis", "diagnostico", "note", "notes", "nota", "clinical", "prescription", "result",
        "results", "phone", "telefono", "number", "from", "to", "name", "nombre", "email", "address",
        "curp", "secret", "password", "token", "key", "evidence", "ip", "user_agent",
    }
)  # fmt: skip
MAX_STRING = 128
MAX_LIST = 32
_PHONE = re.compile(r"^(whatsapp:)?\+?[\d\s\-().]{10,}$")


def looks_like_phone(value: str) -> bool:
    value = value.strip()
    return bool(_PHONE.match(value)) and 10 <= sum(ch.isdigit() for ch in value) <= 15


def _normalise(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def _check_value(path: str, value: Any, depth: int) -> None:
    if value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ComplianceError(f"audit detail {path!r} is longer than {MAX_STRING} characters")
        if looks_like_phone(value):
            raise ComplianceError(f"audit detail {path!r} looks like a phone number")
        return
    if isinstance(value, list | tuple):
        if len(value) > MAX_LIST:
            raise ComplianceError(f"audit detail {path!r} has more than {MAX_LIST} items")
        for i, item in enumerate(value):
            if isinstance(item, Mapping | list | tuple):
                raise ComplianceError(f"audit detail {path}[{i}] must be a scalar")
            _check_value(f"{path}[{i}]", item, depth)
        return
    if isinstance(value, Mapping):
        if depth >= 1:
            raise ComplianceError(f"audit detail {path!r} nests too deeply")
        check_details(value, _prefix=f"{path}.", _depth=depth + 1)
        return
    raise ComplianceError(f"audit detail {path!r} has unsupported type {type(value).__name__}")


def check_details(details: Mapping[str, Any], *, _prefix: str = "", _depth: int = 0) -> None:
    """Raise :class:`ComplianceError` unless ``details`` holds only short, content-free values."""
    for key, value in details.items():
        if not isinstance(key, str):
            raise ComplianceError("audit detail keys must be strings")
        if _normalise(key) in FORBIDDEN_KEYS:
            raise ComplianceError(f"audit detail key {_prefix}{key!r} may carry content; use a reference")
        _check_value(f"{_prefix}{key}", value, _depth)


def check_reference(kind: str, value: str) -> None:
    """Actor and subject are references (``patient:<ref>``, ``staff:<id>``), never a number or name."""
    if len(value) > MAX_STRING or looks_like_phone(value) or "\n" in value:
        raise ComplianceError(f"audit {kind} must be a short reference, not personal data")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_ts(moment: datetime) -> str:
    """The one timestamp spelling that enters hashes: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        raise ComplianceError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
