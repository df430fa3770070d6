"""Talking to the assistant in flow tests: each message on the WhatsApp channel, with a fresh message id."""

from __future__ import annotations

from typing import Any

from bot.core.events import BotUttered
from bot.core.processor import UserMessage


def chat(state: Any, sender: str, *texts: str) -> list[list[str]]:
    """Each turn's WhatsApp messages, by response name (a turn's replies are joined: bot/core/coalesce.py)."""
    replies = []
    for text in texts:
        n = len(state.processor.tracker(sender).events)
        out = state.processor.handle(UserMessage(sender_id=sender, text=text, channel="twilio_whatsapp",
                                                 message_id=f"SM{sender[-4:]}t{n}"))  # fmt: skip
        replies.append([m.response for m in out])
    return replies


def said(state: Any, sender: str, *texts: str) -> list[list[str]]:
    """Each turn's responses, one per response (before they are joined into WhatsApp messages)."""
    replies = []
    for text in texts:
        n = len(state.processor.tracker(sender).events)
        chat(state, sender, text)
        events = state.processor.tracker(sender).events[n:]
        replies.append([e.response for e in events if isinstance(e, BotUttered) and e.response])
    return replies
