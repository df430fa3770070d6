"""Whose conversation a message belongs to: the rule that keeps channels from speaking for each other.

Only a channel that has verified the number it received from (the Twilio WhatsApp channel: signed
webhooks) may use a phone number as a conversation's sender id, and only there is the sender id read as a
phone number (a patient). Every other channel (REST, console, tests) namespaces its ids as
``<channel>:<id>``, so "55 8765 4321" typed into the REST webhook is a REST conversation of its own, never
the WhatsApp patient with that number.
"""

from __future__ import annotations

import functools
import re

from bot.errors import BotError, NotAPhoneNumberError

#: Channels that authenticate the phone number their messages come from.
PHONE_CHANNELS = frozenset({"twilio_whatsapp"})
# A phone number as the verified channel passes it: E.164, optionally WhatsApp's ``whatsapp:`` prefix.
_PHONE_ID = re.compile(r"^(?:whatsapp:)?\+[1-9][0-9]{7,14}$")


class ChannelIdentityError(BotError, ValueError):
    """A channel tried to speak for a phone number it has not verified."""


def is_phone_id(sender_id: str) -> bool:
    """True when ``sender_id`` is a phone number (only phone channels may use such ids)."""
    return bool(_PHONE_ID.match(sender_id))


def canonical_phone(raw: str, region: str = "MX") -> str:
    """The one canonical form of a phone number: E.164 without WhatsApp's legacy Mexican mobile "1"
    (``whatsapp:+5215512345678`` → ``+525512345678``). :class:`NotAPhoneNumberError` (a ValueError) when
    ``raw`` is not a possible number. Replies still go to the exact address the patient wrote from.
    Results are kept in a small per-process LRU (a message parses its sender two or three times)."""
    return _canonical_phone(raw, region)


@functools.lru_cache(maxsize=2048)
def _canonical_phone(raw: str, region: str) -> str:
    import phonenumbers  # ~40 ms of metadata on first use: only processes that meet phone numbers pay it

    value = raw.strip().removeprefix("whatsapp:").strip()
    if not value or len(value) > 32:
        raise NotAPhoneNumberError("not a phone number")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as e:
        raise NotAPhoneNumberError("not a phone number") from e
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164.startswith("+521") and len(e164) == 14:  # WhatsApp's legacy Mexican mobile prefix
        e164 = "+52" + e164[4:]
    if not phonenumbers.is_possible_number(phonenumbers.parse(e164)):
        raise NotAPhoneNumberError("not a phone number")
    return e164


def namespaced(channel: str, sender: str) -> str:
    """The conversation id for ``sender`` on a channel that does not verify phone numbers."""
    return f"{channel}:{sender}"


def check_sender(channel: str, sender_id: str) -> None:
    """Refuse a phone-number sender id from a channel that cannot vouch for it."""
    if channel not in PHONE_CHANNELS and is_phone_id(sender_id):
        raise ChannelIdentityError(
            f"the {channel!r} channel cannot speak for a phone number; namespace its ids "
            f"(bot.core.identity.namespaced)"
        )
