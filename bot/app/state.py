"""What the HTTP server and the jobs act on: the running assistant (:class:`AppState`, built by
:func:`bot.app.wiring.build_app_state`) and the actions staff take on a conversation through it."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.core.events import HandoffEnded
from bot.core.processor import AgentReply, AgentTextRefused, OutgoingMessage, Processor


@dataclass
class ClinicServices:
    """The ports actions use (see bot.core.dialogue.Services)."""

    clinic: Any
    appointments: Any
    consent: Any
    audit: Any
    arco: Any
    keyring: Any
    _refs: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def patient_ref(self, sender_id: str) -> str:
        """A keyed hash of the canonical phone number for a phone channel's sender id (see
        :mod:`bot.core.identity`); of the sender id itself for every other id, so a REST or console
        sender never shares a patient with a phone number, however much it looks like one."""
        with self._lock:
            ref = self._refs.get(sender_id)
        if ref is None:
            from bot.compliance.crypto import canonical_phone
            from bot.core.identity import is_phone_id

            # not a phone: the sender id itself, bracketed so surrounding spaces stay distinct
            key = f"sender:[{sender_id}]"
            if is_phone_id(sender_id):
                with contextlib.suppress(Exception):
                    key = canonical_phone(sender_id)
            ref = str(self.keyring.patient_ref(key))
            with self._lock:
                if len(self._refs) > 100_000:
                    self._refs.clear()
                self._refs[sender_id] = ref
        return ref


@dataclass
class AppState:
    processor: Processor
    interpreter: Any
    services: ClinicServices
    closers: list[Any] = field(default_factory=list)
    directory: Any = None  # bot.inbox.directory.Directory: the agents' view of conversations

    def conversation(self, conversation_id: str) -> Any:
        """The conversation behind an opaque id (bot.inbox.directory.Conversation); LookupError if none."""
        found = self.directory.get(conversation_id) if self.directory is not None else None
        if found is None:
            raise LookupError("no such conversation (use the id from GET /agent/conversations)")
        return found

    def hand_back(
        self, sender_id: str, agent: str, *, channel: str = "rest", notify: bool = True
    ) -> list[OutgoingMessage]:
        """The conversation returns to the assistant, which resumes the phase it left.

        ``notify``: tell the patient (``utter_handoff_back``, rendered and gated for ``channel``); without
        it nothing is sent (e.g. the WhatsApp window is closed).
        """
        tracker = self.processor.tracker(sender_id)
        if not tracker.in_handoff:
            raise LookupError("this conversation is not waiting for a person")
        self.services.audit.append(
            f"staff:{agent}", "handoff.ended", f"patient:{self.services.patient_ref(sender_id)}", {}
        )
        from bot.core.dialogue import Utter

        return self.processor.apply_external(
            sender_id,
            [HandoffEnded(agent=agent)],
            flow_event="agent_resolved",
            utters=[Utter("utter_handoff_back")] if notify else [],
            channel=channel,
        )

    def agent_say(self, sender_id: str, agent: str, text: str) -> AgentReply:
        """A person in the shared inbox writes to the patient: through the gate, recorded encrypted.

        LookupError (NotInHandoffError) when the conversation is not in handoff.
        """
        ref = self.services.patient_ref(sender_id)
        try:
            reply = self.processor.agent_message(sender_id, agent, text)
        except AgentTextRefused as e:
            self.services.audit.append(f"staff:{agent}", "agent.message_refused", f"patient:{ref}",
                                       {"categories": list(e.categories)})
            raise
        self.services.audit.append(
            f"staff:{agent}", "agent.message", f"patient:{ref}",
            {"blocked": reply.blocked, "categories": list(reply.categories)},
        )  # fmt: skip
        return reply

    def transcript(self, conversation_id: str, agent: str) -> dict[str, Any]:
        """The decrypted conversation for a member of staff; the access is audited first."""
        from bot.inbox.directory import transcript

        conversation = self.conversation(conversation_id)
        tracker = self.processor.tracker(conversation.sender_id)
        items = transcript(tracker.events)
        self.services.audit.append(
            f"staff:{agent}", "transcript.viewed", f"patient:{conversation.id}", {"items": len(items)}
        )
        return {
            "id": conversation.id,
            "channel": conversation.channel,
            "phase": tracker.phase,
            "in_handoff": tracker.in_handoff,
            "messages": items,
        }

    def close(self) -> None:
        for closer in self.closers:
            closer()
