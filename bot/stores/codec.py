"""Event (de)serialisation and sender-id checks shared by every tracker/lock backend.

Every backend stores events as compact JSON text, so all of them accept and return exactly the same
values (tuples come back as lists, non-JSON values are refused up front instead of half-written).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.errors import StoreError

MAX_SENDER_ID_LENGTH = 255

# What ``json.dumps(..., ensure_ascii=False, allow_nan=False, separators=(",", ":"))`` builds on every
# call, built once (the encoder keeps no state between calls): every appended event goes through it.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def check_sender_id(sender_id: str) -> str:
    """Return ``sender_id`` if it is a usable conversation key, else raise :class:`StoreError`."""
    if not isinstance(sender_id, str) or not sender_id or len(sender_id) > MAX_SENDER_ID_LENGTH:
        raise StoreError(f"sender_id must be a non-empty string of at most {MAX_SENDER_ID_LENGTH} characters")
    return sender_id


def encode_events(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Serialise every event before anything is written, so a bad event aborts the whole append."""
    if isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise StoreError("events must be a sequence of mappings")
    encoded: list[str] = []
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise StoreError(f"event #{index} is a {type(event).__name__}, not a mapping")
        try:
            encoded.append(_ENCODER.encode(dict(event)))
        except (TypeError, ValueError) as e:
            # The message names the type problem only, never the event's content.
            raise StoreError(f"event #{index} is not JSON-serialisable: {type(e).__name__}") from e
    return encoded


def decode_event(text: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise StoreError("a stored event is not valid JSON (corrupted store?)") from e
    if not isinstance(value, dict):
        raise StoreError("a stored event is not a JSON object (corrupted store?)")
    return value



def event_older(event: Mapping[str, Any], before: float) -> bool:
    """True if the event's ``timestamp`` (Unix seconds) is older than ``before``; events without one
    never expire by age (they go with their conversation)."""
    ts = event.get("timestamp")
    return isinstance(ts, int | float) and not isinstance(ts, bool) and ts < before
