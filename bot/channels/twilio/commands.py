"""``bot twilio …``: what staff can see and do about WhatsApp deliveries from a terminal.

Nothing printed carries a message body or a phone number (conversations are shown by a keyed hash).
"""

from __future__ import annotations

import argparse
import json

from bot.core.identity import canonical_phone


def deliveries_command(args: argparse.Namespace) -> int:
    """One JSON object per outbound message of a patient: state, attempts, error code, status history."""
    from bot import db
    from bot.channels.twilio.ledger import patient_ref
    from bot.channels.twilio.outbox import Outbox

    try:
        key = patient_ref(canonical_phone(args.patient))
    except ValueError:
        print("error: not a phone number")
        return 2
    outbox = Outbox(db.get_engine())
    rows = outbox.deliveries(key, limit=args.limit)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    if not rows:
        print(json.dumps({"conversation": key[:12], "deliveries": 0}))
    return 0


def retry_command(args: argparse.Namespace) -> int:
    """Send the retries that are due now (the server's retrier does this every few seconds)."""
    from bot import db
    from bot.channels.twilio.ledger import TwilioLedger
    from bot.channels.twilio.sender import TwilioSender

    sender = TwilioSender(TwilioLedger(db.get_engine()))
    sent = sender.retry_due()
    print(json.dumps({"retried": sent}))
    return 0
