"""Templates from the agents' inbox: reaching a WhatsApp patient with an approved content template.

``POST /agent/conversations/{id}/templates`` ``{"response": name, "variables"?: {placeholder: value}}``.

* Only responses with a content template (``twilio.content_templates`` in endpoints.yml, with a
  ``content_sid``) can be sent: anything else is a 400 that lists the ones that can. A response listed
  there whose ``content_sid`` is empty (its environment variable unset) is a 503.
* The response's text from domain.yml is rendered as the assistant would (the conversation's slots, the
  clinic's data); ``variables`` fill its other placeholders (e.g. ``appointment_text``) — never the
  clinic's own data (name, address, portal URL…), which come from clinic.yml only.
* Every variable value, and the rendered text, pass the disclosure gate (provenance ``agent/<id>``,
  patient-specific, with the recent outbound texts). Anything blocked: 422 with the categories, nothing
  sent or recorded (the gate audits the block itself).
* When: while the conversation is in handoff (a person is handling it), or — in any phase — once the
  24-hour window has closed, to re-open contact. Not while the assistant is handling a conversation whose
  window is open (409: the assistant, or a free-text message after a handoff, is the way then). Never to a
  patient who opted out or whose data are blocked (ARCO), nor on REST conversations (409).
* Templates are allowed at any time, so no window check: the rendered text is recorded in the
  conversation as the agent's message (``AgentUttered``), audited (``agent.template``), then sent through
  the channel's outbox (``TwilioSender.send_template``) to the address the patient last wrote from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.events import AgentUttered, BotUttered, UserUttered
from bot.errors import BotError, ConfigError, DomainError

MAX_VARIABLES = 10
MAX_VALUE = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLACEHOLDER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class TemplateProblem(BotError):
    """A template request that cannot be honoured; ``status`` and ``extra`` make the JSON answer."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


@dataclass(frozen=True)
class SentTemplate:
    response: str
    text: str
    delivery: dict[str, Any]


def check_variables(raw: Any) -> dict[str, str]:
    """The request's ``variables`` (absent: none) as a clean mapping; TemplateProblem(400) otherwise."""
    if raw is None:
        return {}
    rule = (f"`variables` must be an object of at most {MAX_VARIABLES} placeholder names to non-empty "
            f"single-line strings of at most {MAX_VALUE} characters")
    if not isinstance(raw, dict) or len(raw) > MAX_VARIABLES:
        raise TemplateProblem(400, rule)
    for name, value in raw.items():
        if not _PLACEHOLDER_NAME.match(name) or not isinstance(value, str) or not value.strip():
            raise TemplateProblem(400, rule)
        if len(value) > MAX_VALUE or _CONTROL.search(value):
            raise TemplateProblem(400, rule)
    return {str(k): str(v) for k, v in raw.items()}


def configured_responses() -> set[str]:
    """The responses endpoints.yml lists under ``twilio.content_templates`` (with or without a SID)."""
    from bot.stores.endpoints import load_endpoints

    section = load_endpoints().get("twilio") or {}
    entries = section.get("content_templates") if isinstance(section, Mapping) else None
    return {str(name) for name in entries} if isinstance(entries, Mapping) else set()


def _template(outlet: Any, response: str) -> Any:
    template = outlet.templates.get(response)
    if template is not None:
        return template
    if response in configured_responses():
        raise TemplateProblem(503, f"the content template of {response} is not configured: its "
                                   "content_sid in endpoints.yml (twilio.content_templates) is empty — set "
                                   "the environment variable it reads to the template's HX… SID")
    available = sorted(outlet.templates)
    raise TemplateProblem(400, f"{response} has no content template; only responses with a content_sid in "
                               "endpoints.yml (twilio.content_templates) can be sent", available=available)


def _channel_of(tracker: Any) -> str:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return str(event.channel)
    return "whatsapp"  # unknown: the strictest channel


def _render(processor: Any, tracker: Any, channel: str, response: str,
            variables: Mapping[str, str]) -> tuple[str, tuple[Mapping[str, str], ...]]:
    spec = processor.domain.responses[response]
    placeholders: set[str] = set()
    for variation in spec.for_channel(channel):
        placeholders |= set(variation.placeholders)
    fillable = sorted(placeholders - set(processor.renderer.globals))
    unknown = sorted(set(variables) - set(fillable))
    if unknown:
        raise TemplateProblem(400, f"`variables`: {', '.join(unknown)} cannot be set for {response}; it "
                                   f"takes {', '.join(fillable) or 'none'} (the clinic's own data come "
                                   "from clinic.yml)", placeholders=fillable)
    rotation = sum(1 for e in tracker.events if isinstance(e, BotUttered) and e.response == response)
    try:
        rendered = processor.renderer.render(response, channel=channel, slots=tracker.slots,
                                             values=variables, rotation=rotation)
    except DomainError as e:
        raise TemplateProblem(400, f"{e}; give it in `variables`", placeholders=fillable) from e
    return rendered.text, tuple(rendered.buttons)


def _gate(processor: Any, agent: str, channel: str, text: str, variables: Mapping[str, str],
          recent: tuple[str, ...]) -> None:
    """Every variable value alone and the whole text in context: TemplateProblem(422) if any is blocked."""
    detailed = getattr(processor.gate, "filter_detailed", None)
    args: dict[str, Any] = {"channel": channel, "provenance": ("agent", agent), "patient_specific": True}
    checks: list[tuple[str, str, tuple[str, ...]]] = [
        (f"variables.{name}", value, ()) for name, value in sorted(variables.items())
    ]
    checks.append(("text", text, recent))
    blocked: list[str] = []
    categories: set[str] = set()
    for where, value, context in checks:
        if detailed is not None:
            _, stopped, found = detailed(value, recent=context, **args)
        else:
            _, stopped = processor.gate.filter(value, recent=context, **args)
            found = ()
        if stopped:
            blocked.append(where)
            categories |= set(found) or {"blocked"}
    if blocked:
        raise TemplateProblem(422, "the disclosure gate blocked this template; nothing was sent or recorded",
                              blocked=blocked, categories=sorted(categories))


def send(app_state: Any, outlet: Any, conversation: Any, agent: str, response: str,
         variables: Mapping[str, str]) -> SentTemplate:
    """Check, render, gate, record, audit, then deliver one template (runs in a worker thread)."""
    template = _template(outlet, response)
    processor = app_state.processor
    if response not in processor.domain.responses:
        raise ConfigError(f"endpoints.yml has a content template for {response}, which domain.yml does not "
                          "define")
    address = conversation.address
    if not address:
        raise TemplateProblem(409, "no WhatsApp address on record for this conversation yet; it is kept from "
                                   "the patient's next message")
    outlet.sender.ready()  # configuration errors (503) before anything is recorded
    sender_id = conversation.sender_id
    ref = app_state.services.patient_ref(sender_id)
    arco = getattr(app_state.services, "arco", None)
    if arco is not None and hasattr(arco, "is_blocked") and arco.is_blocked(ref):
        raise TemplateProblem(409, "the patient's data are blocked by an ARCO cancellation: no messages")
    with processor.lock_store.lock(sender_id):
        tracker = processor.tracker(sender_id)
        if tracker.opted_out:
            raise TemplateProblem(409, "the patient opted out of messages; only they can opt in again (ALTA)")
        window_open = outlet.sender.in_window(address)
        if not tracker.in_handoff and window_open:
            raise TemplateProblem(409, "the assistant is handling this conversation and the 24-hour window "
                                       "is open: templates from the inbox are for conversations in handoff "
                                       "or patients whose window has closed")
        channel = _channel_of(tracker)
        text, buttons = _render(processor, tracker, channel, response, variables)
        _gate(processor, agent, channel, text, variables, tuple(tracker.recent_bot_texts))
        # value:NAME variables: the agent's values and the clinic's (each must appear in the gated text)
        named = {**{k: str(v) for k, v in processor.renderer.globals.items()}, **variables}
        if template.values(text, buttons, named) is None:
            raise TemplateProblem(422, f"the rendered {response} does not fit its content template (at most "
                                       "1,024 characters and the template's number of buttons)")
        event = AgentUttered(text=text, agent=agent, blocked=False)
        tracker.apply(event)
        processor.tracker_store.append(sender_id, [event.as_dict()])
    app_state.services.audit.append(
        f"staff:{agent}", "agent.template", f"patient:{ref}",
        {"response": response, "in_handoff": tracker.in_handoff, "window_open": window_open},
    )  # fmt: skip
    delivery = outlet.deliver_template(address, template, text, buttons, named)
    return SentTemplate(response, text, delivery)
