"""The portal's use cases over the assistant's services: send the code, the home view, consent from the
modal, viewing a document. Built once per app from ``app.state.app_state`` (:func:`portal_for`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from bot.portal.access import Contact, PortalAccess, Session
from bot.portal.records import Released, ReleasedRecords

PURPOSE_LABELS = {
    "appointments": "Agendar, confirmar y gestionar sus citas (necesaria para atenderle)",
    "reminders": "Enviarle recordatorios de sus citas por WhatsApp",
    "follow_up": "Preguntarle cómo sigue después de su consulta",
    "surveys": "Invitarle a encuestas de satisfacción",
}
CODE_TEXT = (
    "Su código para entrar a su portal de {clinic} es {code}. Vence en 10 minutos; no lo comparta con nadie."
)


def notice_blocks(text: str) -> list[dict[str, Any]]:
    """The notice's Markdown as headings, paragraphs and lists of plain text (autoescaped when rendered;
    emphasis markers dropped): no HTML from the file reaches the page."""
    blocks: list[dict[str, Any]] = []
    for chunk in text.split("\n\n"):
        lines = [ln.strip() for ln in chunk.strip().splitlines()]
        if not lines or not lines[0]:
            continue
        plain = [ln.replace("**", "").replace("__", "") for ln in lines]
        if plain[0].startswith("#"):
            level = min(len(plain[0]) - len(plain[0].lstrip("#")), 3)
            blocks.append({"kind": "h", "level": level, "text": plain[0].lstrip("#").strip()})
            plain = plain[1:]
            if not plain:
                continue
        if plain[0].startswith(("- ", "* ")):
            items: list[str] = []
            for ln in plain:
                if ln.startswith(("- ", "* ")):
                    items.append(ln[2:].strip())
                elif items:
                    items[-1] += " " + ln
            blocks.append({"kind": "ul", "items": items})
        else:
            blocks.append({"kind": "p", "text": " ".join(plain)})
    return blocks


@dataclass
class Recorded:
    """Codes for conversations without an outlet (REST, console, tests): kept in memory, never logged."""

    sent: list[tuple[str, str]] = field(default_factory=list)  # (patient_ref, text)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ref: str, text: str) -> None:
        with self.lock:
            self.sent.append((ref, text))
            del self.sent[:-100]

    def last_code(self, ref: str | None = None) -> str | None:
        with self.lock:
            for who, text in reversed(self.sent):
                if ref is None or who == ref:
                    return "".join(c for c in text.split(" es ", 1)[1][:6] if c.isdigit())
        return None


class Portal:
    def __init__(self, app_state: Any, clock: Any = None) -> None:
        from bot.compliance.config import ComplianceConfig
        from bot.compliance.config import load as load_compliance
        from bot.errors import ConfigError

        services = app_state.services
        self.app_state = app_state
        self.services = services
        self.consent = services.consent
        engine = services.consent.engine
        cipher = services.consent.cipher
        kwargs = {"clock": clock} if clock is not None else {}
        self.access = PortalAccess(engine, services.keyring, cipher, services.audit, **kwargs)
        try:
            role = load_compliance().portal_role
        except ConfigError:
            role = ComplianceConfig().portal_role
        self.records = ReleasedRecords(
            engine, cipher, services.audit, role, **kwargs, reader=portal_reader(engine)
        )
        self.clinic_name = str(getattr(services.clinic, "name", "") or "Su clínica")
        self.recorded = Recorded()

    # -- the second factor's delivery ------------------------------------------------------------------

    def send_code(self, request: Request | None, session: Session) -> bool:
        """A new code, through the conversation's channel (gated like every outbound text) or recorded
        when the conversation has no outlet (REST, console, tests). False when it could not go out (the
        gate, a closed 24-hour window, the channel refusing it): audited ``portal.code_undelivered``."""
        from bot.core.processor import OutgoingMessage
        from bot.inbox.outlet import outlet_for

        code = self.access.new_code(session)
        text = CODE_TEXT.format(clinic=self.clinic_name, code=code)
        if not self._gate_allows(text):
            self.services.audit.append("portal", "portal.code_blocked", f"patient:{session.patient_ref}", {})
            return False
        contact: Contact | None = session.contact
        conversation = None
        try:
            conversation = self.app_state.conversation(session.patient_ref)
        except (LookupError, AttributeError):
            conversation = None
        channel = getattr(conversation, "channel", None) or (contact.channel if contact else None)
        outlet = outlet_for(request, channel) if request is not None else None
        address = getattr(conversation, "address", None)
        if outlet is None or not address:
            self.recorded.add(session.patient_ref, text)
            return True
        try:
            outlet.check_window(address)
            outlet.deliver(address, [OutgoingMessage(getattr(conversation, "sender_id", ""), text)])
        except Exception as e:  # the channel's edge: the patient gets a page, the audit the reason
            self.services.audit.append(
                "portal",
                "portal.code_undelivered",
                f"patient:{session.patient_ref}",
                {"error": type(e).__name__},
            )
            return False
        return True

    def _gate_allows(self, text: str) -> bool:
        """The code's fixed text through the disclosure gate's content check (like the fixed texts checked
        at start-up: it is no registered response); fails closed."""
        adapter = getattr(getattr(self.app_state, "processor", None), "gate", None)
        gate = getattr(adapter, "gate", None)
        if gate is None:
            return True  # no gate wired (unit tests of the portal alone)
        try:
            return not gate.check(text, channel="whatsapp").categories
        except Exception:
            return False

    # -- views -----------------------------------------------------------------------------------------

    def needs_consent(self, ref: str) -> bool:
        notice = self.consent.current_notice()
        return not any(
            r.channel == "web" and r.action == "grant" and r.notice_version == notice.version
            for r in self.consent.records(ref)
        )

    def home_view(self, ref: str) -> dict[str, Any]:
        notice = self.consent.current_notice()
        modal = self.needs_consent(ref)
        purposes = [
            {"id": p.id, "label": p.text, "short": PURPOSE_LABELS.get(p.id, p.id), "necessary": p.necessary}
            for p in notice.purposes.values()
        ]
        view: dict[str, Any] = {
            "modal": modal,
            "documents": [] if modal else self.records.listing(ref),
            "consents": [],
        }
        if modal:
            view.update(
                notice_version=notice.version,
                notice_blocks=notice_blocks(notice.text),
                necessary=[p for p in purposes if p["necessary"]],
                voluntary=[p for p in purposes if not p["necessary"]],
            )
        else:
            from bot.portal import account

            status = self.consent.status(ref)
            history = account.consent_history(self, ref)
            view["consents"] = [
                {
                    "id": p["id"],
                    "label": p["short"],
                    "granted": status.get(p["id"], False),
                    "necessary": p["necessary"],
                    "since": history.get(p["id"], {}).get("at", ""),
                    "version": history.get(p["id"], {}).get("version", ""),
                }
                for p in purposes
            ]
            view["appointments"] = account.appointments_view(self, ref)
            view["arco"] = account.arco_view(self, ref)
        return view

    def accept(self, session: Session, purposes: Sequence[str], evidence: dict[str, str]) -> str | None:
        """Record consent from the modal; a message for the patient when the answer is incomplete."""
        notice = self.consent.current_notice()
        chosen = [p for p in dict.fromkeys(purposes) if p in notice.purposes]
        if len(chosen) != len(set(purposes)):
            return "Elija solo entre las opciones del aviso."
        necessary = [p.id for p in notice.purposes.values() if p.necessary]
        if not all(p in chosen for p in necessary):
            return (
                "Para usar el portal necesitamos su consentimiento para la finalidad necesaria. "
                "Marque esa casilla o elija «No acepto»."
            )
        self.consent.grant(session.patient_ref, chosen, "web", evidence)
        declined = [
            p for p in notice.purposes if p not in chosen and self.consent.has(session.patient_ref, p)
        ]
        for purpose in declined:  # unticked now: a voluntary purpose granted before is revoked
            self.consent.revoke(session.patient_ref, purpose, "web", evidence)
        return None

    def revoke(self, session: Session, purpose: str | None, evidence: dict[str, str]) -> str | None:
        """Withdraw one voluntary purpose granted before; a message for the patient otherwise."""
        notice = self.consent.current_notice()
        spec = notice.purposes.get(purpose or "")
        if spec is None or spec.necessary or not self.consent.has(session.patient_ref, spec.id):
            return "Esa finalidad no se puede retirar aquí."
        self.consent.revoke(session.patient_ref, spec.id, "web", evidence)
        return None

    def decline(self, session: Session, evidence: dict[str, str]) -> None:
        self.services.audit.append(
            f"patient:{session.patient_ref}",
            "portal.consent_declined",
            f"patient:{session.patient_ref}",
            {"channel": "web"},
        )
        self.access.end_session(session, "session_ended")

    def view_document(self, ref: str, document_id: int | None) -> Released | None:
        from bot.portal.records import DamagedDocument

        try:
            doc = self.records.one(ref, document_id) if document_id is not None else None
        except DamagedDocument:  # never served, never a 500: audited, then "not found"
            self.services.audit.append(
                f"patient:{ref}", "portal.document_damaged", f"patient:{ref}", {"document_id": document_id}
            )
            return None
        if doc is None:
            self.services.audit.append(
                f"patient:{ref}", "portal.document_denied", f"patient:{ref}", {"document_id": document_id}
            )
            return None
        self.services.audit.append(
            f"patient:{ref}", "portal.document_viewed", f"patient:{ref}", {"document_id": doc.id}
        )
        return doc


def portal_reader(engine: Any) -> Any:
    """PostgreSQL: an engine logging in as the portal role (``BOT_PORTAL_DATABASE_URL``), so the
    assistant's own user need not be able to become it; None otherwise (``SET LOCAL ROLE`` is used)."""
    from bot import settings

    url = settings.environ().get("BOT_PORTAL_DATABASE_URL")
    if not url or engine.dialect.name != "postgresql":
        return None
    from sqlalchemy import create_engine

    return create_engine(
        settings.normalise_database_url(url), pool_size=2, max_overflow=2, pool_pre_ping=True
    )


_build_lock = threading.Lock()


def portal_for(request: Request) -> Portal:
    state = request.app.state
    portal = getattr(state, "portal", None)
    if portal is None:
        with _build_lock:
            portal = getattr(state, "portal", None)
            if portal is None:
                portal = Portal(state.app_state)
                state.portal = portal
    return portal
