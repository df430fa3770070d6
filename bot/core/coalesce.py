"""Fewer, fuller messages: the replies of one turn joined into as few outbound messages as they fit in.

Every WhatsApp message costs the practice money, and a burst of three bubbles reads worse than one: "Gracias,
quedó registrada su autorización." and "¿A nombre de quién registro la cita?" go as one message, as do
"¡Listo! Quedó agendada…" and the reminder question. The conversation keeps one ``BotUttered`` per response
(stories, audit and the transcript are unchanged); only what the channel sends is joined.

Two replies are joined when they go to the same address, neither was blocked by the disclosure gate, the
first carries no buttons (quick replies belong to the end of a message), and the joined text fits
``MAX_CHARS`` (Twilio's WhatsApp body limit is 1,600 characters). The joined text is a new outbound text,
so it passes the gate again (``recheck``); if the gate would change it, the replies stay apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.processor import OutgoingMessage

MAX_CHARS = 1500
SEPARATOR = "\n\n"


def coalesce(
    messages: Sequence[OutgoingMessage], recheck: Callable[[str, Sequence[OutgoingMessage]], bool]
) -> list[OutgoingMessage]:
    """``messages`` with consecutive joinable replies joined; ``recheck(text, parts)`` says whether the
    joined text passes the disclosure gate unchanged."""
    out: list[OutgoingMessage] = []
    parts: list[list[OutgoingMessage]] = []
    for message in messages:
        if out and _joinable(out[-1], message):
            text = out[-1].text + SEPARATOR + message.text
            group = [*parts[-1], message]
            if len(text) <= MAX_CHARS and recheck(text, group):
                out[-1] = replace(message, text=text)
                parts[-1] = group
                continue
        out.append(message)
        parts.append([message])
    return out


def _joinable(first: OutgoingMessage, second: OutgoingMessage) -> bool:
    return (
        first.recipient_id == second.recipient_id
        and not first.blocked
        and not second.blocked
        and not first.buttons
        and bool(first.text.strip())
        and bool(second.text.strip())
    )
