"""The patient portal's one-time link, sent when the patient asks for the portal (or a clinical answer).

The link is random, single use, valid 15 minutes and bound to the patient reference; it carries nothing
about the patient (see bot/portal/access.py). Its text is the registered ``utter_portal`` response with
``portal_url`` set to the link, so it passes the disclosure gate like every other reply.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from actions.common import patient_ref
from bot import settings
from bot.core.dialogue import Output, Turn, Utter


def portal_base(clinic_portal_url: str | None) -> str:
    """Where the portal is served: ``BOT_PUBLIC_URL``, else the origin of clinic.yml's ``portal_url``."""
    public = (settings.public_url() or "").rstrip("/")
    if public:
        return public
    parts = urlsplit(clinic_portal_url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "http://127.0.0.1:5005"


#: Phases whose replies exclude ``utter_portal`` (flows/clinic.py): an opted-out patient gets the clinical
#: redirect only; during a handoff a person answers.
QUIET_PHASES = ("opted_out", "handoff")


class PortalLink:
    name = "action_portal_link"

    def run(self, turn: Turn) -> list[Output]:
        from bot.portal.access import Contact, PortalAccess

        if turn.phase in QUIET_PHASES:
            return []  # the phase may not send utter_portal (flows/clinic.py): the redirect alone

        services = turn.services
        consent = services.consent
        try:
            access = PortalAccess(consent.engine, services.keyring, consent.cipher, services.audit)  # type: ignore[attr-defined]
            token = access.issue_link(patient_ref(turn), Contact(turn.channel, turn.tracker.sender_id))
        except Exception:
            return [Utter("utter_portal")]  # no link today: the general portal address, never an error
        base = portal_base(getattr(services.clinic, "portal_url", None))
        return [Utter("utter_portal", values={"portal_url": f"{base}/portal/l/{token}"})]
