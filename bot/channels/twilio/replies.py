"""Replies with quick-reply buttons over WhatsApp: a Twilio content template where one is configured,
numbered text options otherwise, and the way back from a tap (or a typed number) to the button's payload.

Buttons are declared on a response's variations in domain.yml (``buttons: [{title, payload}]``); the
payload is what the dialogue receives when the patient picks the button (text the dialogue understands,
e.g. ``ACEPTO`` or ``2``; a Rasa-style ``/intent`` payload is passed through unchanged).

Content templates are configured per response in endpoints.yml (the SIDs differ per Twilio account)::

    twilio:
      content_templates:
        utter_consent_request:
          content_sid: ${TWILIO_CONTENT_CONSENT:-}   # empty: not configured → numbered text
          content_variables: {"1": text}            # text: the reply as it left the disclosure gate
          buttons: 2                                # optional: used only when the reply has 2 buttons

The only values a template receives are the gate-checked reply text (``text``) and button titles
(``button:N``, 1-based) from domain.yml — nothing the gate did not see or the clinic did not write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import ConfigError

_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
MAX_PAYLOAD = 256
MAX_SESSION_BUTTONS = 3  # quick replies sent in-session without WhatsApp approval
MAX_TEMPLATE_BODY = 1024  # characters of a quick-reply body
#: Sent when a patient sends media (never downloaded nor shown to the dialogue). Fixed clinic text: it does
#: not pass the gate at run time, so bot.app.wiring checks it with the gate at start-up.
MEDIA_ACK = ("Recibimos su archivo. Por su privacidad no lo revisamos por este medio; una persona del equipo "
             "le dará seguimiento.")


@dataclass(frozen=True)
class ContentTemplate:
    content_sid: str
    variables: Mapping[str, str]  # variable number → "text" | "button:N" | "value:NAME"
    buttons: int | None = None  # the template's fixed number of quick replies, if it has one

    def values(self, text: str, buttons: Sequence[Mapping[str, str]],
               named: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """The ``content_variables``; None if a source is missing (the caller falls back to text).

        ``value:NAME`` takes ``named[NAME]`` (a value the response was rendered with), only when it
        appears verbatim in ``text`` — the text that passed the disclosure gate — so a template's
        fixed wording with variables never carries anything the gate did not see.
        """
        if len(buttons) > MAX_SESSION_BUTTONS or len(text) > MAX_TEMPLATE_BODY:
            return None
        if self.buttons is not None and len(buttons) != self.buttons:  # e.g. 2 slots found, 3 in the template
            return None
        out: dict[str, str] = {}
        for name, source in self.variables.items():
            if source == "text":
                out[name] = text
                continue
            if source.startswith("value:"):
                value = (named or {}).get(source[6:])
                if not value or value not in text:
                    return None
                out[name] = value
                continue
            index = int(source.split(":", 1)[1]) - 1
            if index >= len(buttons):
                return None
            out[name] = str(buttons[index].get("title", ""))
        return out


def load_templates(config: Any) -> dict[str, ContentTemplate]:
    """``twilio.content_templates`` of endpoints.yml; entries with an empty ``content_sid`` are skipped."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ConfigError("endpoints twilio section must be a mapping")
    raw = config.get("content_templates") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("twilio.content_templates must map response names to "
                          "{content_sid, content_variables}")
    templates: dict[str, ContentTemplate] = {}
    for response, entry in raw.items():
        where = f"twilio.content_templates.{response}"
        if not isinstance(entry, Mapping) or set(entry) - {"content_sid", "content_variables", "buttons"}:
            raise ConfigError(f"{where} must hold only content_sid, content_variables and buttons")
        count = entry.get("buttons")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or not 1 <= count <= MAX_SESSION_BUTTONS):
            raise ConfigError(f"{where}.buttons: the template's number of quick replies, "
                              f"1-{MAX_SESSION_BUTTONS}")
        sid = str(entry.get("content_sid") or "").strip()
        if not sid:
            continue
        if not _CONTENT_SID.match(sid):
            raise ConfigError(f"{where}.content_sid must look like HX followed by 32 hex digits")
        variables = entry.get("content_variables") or {}
        if not isinstance(variables, Mapping):
            raise ConfigError(f"{where}.content_variables must be a mapping")
        clean: dict[str, str] = {}
        for name, source in variables.items():
            source = str(source)
            if source != "text" and not re.fullmatch(r"button:[1-9]\d?|value:[a-z_][a-z0-9_]{0,63}", source):
                raise ConfigError(f"{where}.content_variables.{name}: use text, button:N or value:NAME "
                                  "(a value the response is rendered with)")
            clean[str(name)] = source
        templates[str(response)] = ContentTemplate(sid, clean, count)
    return templates


def templates_from_endpoints() -> dict[str, ContentTemplate]:
    from bot.stores.endpoints import load_endpoints

    return load_templates(load_endpoints().get("twilio"))


def numbered(text: str, buttons: Sequence[Mapping[str, str]]) -> tuple[str, list[str]]:
    """Buttons as numbered text options and their payloads in order.

    Buttons whose title is just their number (e.g. the offered slots, already listed in the text) add
    nothing to the text; a typed number still maps to their payload.
    """
    payloads = [str(b.get("payload") or b.get("title") or "") for b in buttons]
    lines = [f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, 1) if str(b.get("title")) != str(i)]
    if lines:
        text = f"{text}\n\n" + "\n".join(lines)
    return text, payloads


def choice(body: str, offered: Sequence[str]) -> str | None:
    """The payload of option ``body`` ("2", "2.", " 2) ") among the ``offered`` ones, else None."""
    match = _NUMBER.match(body)
    if not match or not offered:
        return None
    index = int(match.group(1)) - 1
    return offered[index] if 0 <= index < len(offered) else None


def button_payload(params: Mapping[str, Any]) -> str | None:
    """What a tapped quick-reply button means: its ``ButtonPayload`` (``Body``/``ButtonText`` hold the
    title the patient saw), else None."""
    value = params.get("ButtonPayload")
    if isinstance(value, str) and value.strip() and len(value) <= MAX_PAYLOAD:
        return value.strip()
    return None
