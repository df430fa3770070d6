"""A file the patient sent (voice note, photo, PDF — often a lab result): a person follows up.

The file itself is never downloaded, stored, parsed or shown to the dialogue (a caption neither): the
channel only knows that one arrived. What the conversation records is a hand-off to a person, reason
``media``, so the conversation appears in the agents' inbox (``GET /agent/conversations``) — the channel's
acknowledgement promises the patient exactly that. Rules:

* a conversation already waiting for a person stays as it is (``waiting``);
* a patient who opted out of messages is left alone: no hand-off, and the channel sends nothing
  (``opted_out``); so is one whose data are blocked by an ARCO cancellation (``blocked``: nothing of
  theirs is processed or stored);
* otherwise the conversation is handed off (``handoff``): a new one is started first, a closed one is
  reopened first, any other phase is left for the hand-off as a patient's "quiero hablar con una persona"
  would leave it (the agent's hand-back resumes it). The hand-off is audited without content.
"""

from __future__ import annotations

from typing import Any

from bot.core.events import Event, FlowTransitioned, HandoffStarted, SessionStarted
from bot.errors import FlowError

REASON = "media"


def attachment_received(processor: Any, sender_id: str, *, channel: str) -> str:
    """Record that ``sender_id`` sent a file; returns ``handoff``, ``waiting``, ``opted_out`` or
    ``blocked``."""
    if processor.data_blocked(sender_id):
        return "blocked"
    tracker = processor.tracker(sender_id)
    if tracker.in_handoff:
        return "waiting"
    if tracker.opted_out:
        return "opted_out"
    events: list[Event] = []
    if not tracker.flow_state:
        events += [SessionStarted(), FlowTransitioned(flow_event="start", state=processor.flow.initial)]
    steps = ["reopened"] if tracker.phase == "closed" else []
    steps.append("human_requested")
    try:
        processor.apply_external(sender_id, [*events, HandoffStarted(reason=REASON)], flow_event=steps,
                                 channel=channel)
    except FlowError:  # the conversation moved meanwhile (another file handed it off, a BAJA): as it is now
        now = processor.tracker(sender_id)
        if now.in_handoff:
            return "waiting"
        if now.opted_out:
            return "opted_out"
        raise
    ref = processor.services.patient_ref(sender_id)
    processor.services.audit.append(
        "bot", "handoff.started", f"patient:{ref}", {"reason": REASON, "phase": tracker.phase}
    )
    return "handoff"
