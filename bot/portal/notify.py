"""The WhatsApp notice that something new waits in the patient's portal — never what it is.

``utter_portal_notice`` ("Tiene un documento nuevo en su portal de …") names only the clinic. It is recorded
in the patient's conversation through the processor (the disclosure gate, the flow's phase check, the
encrypted store), audited ``portal.notice_sent`` with the document id, then sent: as the approved content
template (endpoints.yml ``twilio.content_templates.utter_portal_notice``) when one is configured — allowed
inside and outside the 24-hour window — otherwise as free text, only inside the window.

Not sent, and the reason returned, when: the patient's data are blocked (ARCO), the assistant never spoke
with them (no WhatsApp address), they opted out (BAJA), they have not consented to the necessary purpose
(``appointments``), it is quiet hours (clinic.yml ``follow_up.quiet_hours``: the notice is skipped, not
queued — the document is in the portal either way), or the window is closed and no template is
configured. The notice never carries the portal link: a one-time link lasts 15 minutes, a notice may be
read hours later; writing «portal» gets a fresh link (and opens the 24-hour window).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from typing import Any

log = logging.getLogger("bot.portal.notify")

RESPONSE = "utter_portal_notice"
PURPOSE = "appointments"
QUIET = (time(21, 0), time(8, 0))


def _quiet(clinic: Any, now: datetime) -> bool:
    from bot import settings
    from bot.config_files import CLINIC_FILE, load_mapping

    start, end = QUIET
    try:
        section = load_mapping(settings.project_dir() / "clinic.yml", CLINIC_FILE).get("follow_up") or {}
        hours = section.get("quiet_hours") if isinstance(section, dict) else None
        if isinstance(hours, list | tuple) and len(hours) == 2:
            start, end = time.fromisoformat(str(hours[0])), time.fromisoformat(str(hours[1]))
    except Exception:
        pass  # the defaults
    local = now.astimezone(clinic.timezone).time()
    return (start <= local < end) if start <= end else (local >= start or local < end)


def notify(app_state: Any, outlet: Any, patient_ref: str, document_id: int,
           now: datetime | None = None) -> str:
    """Send the notice for ``document_id``: ``"sent"`` or why not (see the module doc)."""
    from bot.core.dialogue import Utter
    from bot.errors import FlowError

    services = app_state.services
    now = now or datetime.now(UTC)
    if services.arco.is_blocked(patient_ref):
        return "arco_blocked"
    directory = app_state.directory
    conversation = directory.get(patient_ref) if directory is not None else None
    if conversation is None or not conversation.address:
        return "no_address"
    if app_state.processor.opted_out(conversation.sender_id):
        return "opted_out"
    if not services.consent.has(patient_ref, PURPOSE):
        return "no_consent"
    if _quiet(services.clinic, now):
        return "quiet_hours"
    if outlet is None:
        return "no_channel"
    template = outlet.templates.get(RESPONSE)
    if template is None:
        try:
            outlet.check_window(conversation.address)
        except Exception:
            return "outside_window"
    try:
        [message] = app_state.processor.apply_external(
            conversation.sender_id, [], utters=[Utter(RESPONSE, {})],
            channel=conversation.channel or "twilio_whatsapp")
    except FlowError:
        return "opted_out"
    if message.blocked:
        return "blocked"
    services.audit.append("bot", "portal.notice_sent", f"patient:{patient_ref}",
                          {"document_id": int(document_id), "response": RESPONSE})
    try:
        if template is not None:
            outlet.deliver_template(conversation.address, template, message.text,
                                    named={"clinic_name": str(services.clinic.name)})
        else:
            outlet.deliver(conversation.address, [message])
    except Exception as e:  # the channel's edge: the document is released either way
        log.error("portal.notice_failed", extra={"document_id": document_id, "error": type(e).__name__})
        return "failed"
    return "sent"
