"""The outbox's hot statements on PostgreSQL (:mod:`bot.channels.twilio.outbox`), each one round trip through
:class:`bot.channels.twilio._pg.DirectStatements`, every one synchronously committed: they are what recovery
reads (exactly-once turns, issue 18)."""

from __future__ import annotations

from typing import LiteralString

# Synchronously committed: the accepted attempt's SID is what recovery checks before sending again.
_RECORD_SENT_PG: LiteralString = """
WITH outbound AS (
    INSERT INTO twilio_outbound (sender_hash, kind, state, attempts, message_sid, created_at, updated_at,
                                 payload)
    VALUES (%(sender)s, %(kind)s, 'accepted', 1, %(sid)s, %(at)s, %(at)s, %(payload)s)
    RETURNING id
), attempt AS (
    INSERT INTO twilio_attempt (message_sid, outbound_id, attempt, sent_at)
    SELECT %(sid)s, outbound.id, 1, %(at)s FROM outbound
)
SELECT outbound.id FROM outbound
"""


# the channel's hot outbox statements on PostgreSQL (see bot.channels.twilio._pg), synchronously committed
_COMMIT_TURN_PG: LiteralString = """
WITH committed AS (
    UPDATE twilio_outbound SET state = 'pending', updated_at = %(at)s
    WHERE inbound_sid = %(sid)s AND state = 'staged' RETURNING 1
)
SELECT count(*) FROM committed
"""

# positions past the new turn's replies are dropped, the others written over while still staged (a
# committed reply is left as it is: a fixed reply outside the conversation, staged again after a crash)
_STAGE_PG: LiteralString = """
WITH gone AS (
    DELETE FROM twilio_outbound WHERE inbound_sid = %(sid)s AND state = 'staged' AND position >= %(n)s
)
INSERT INTO twilio_outbound (sender_hash, kind, state, attempts, created_at, updated_at, payload, inbound_sid,
                             position)
SELECT %(sender)s, item.kind, 'staged', 0, %(at)s, %(at)s, item.payload, %(sid)s, item.position
FROM unnest(%(kinds)s::text[], %(payloads)s::text[], %(positions)s::int[]) AS item(kind, payload, position)
ON CONFLICT (inbound_sid, position) DO UPDATE
    SET kind = EXCLUDED.kind, payload = EXCLUDED.payload, updated_at = EXCLUDED.updated_at
    WHERE twilio_outbound.state = 'staged'
"""

_ACCEPTED_PG: LiteralString = """
WITH outbound AS (
    UPDATE twilio_outbound SET state = 'accepted', attempts = attempts + 1, message_sid = %(sid)s,
                               error_code = NULL, next_attempt_at = NULL, updated_at = %(at)s
    WHERE id = %(id)s RETURNING id, attempts
)
INSERT INTO twilio_attempt (message_sid, outbound_id, attempt, sent_at)
SELECT %(sid)s, outbound.id, outbound.attempts, %(at)s FROM outbound
"""

# the patient's oldest unfinished message, locked, then claimed only if it may go now (see Delivery.drain)
_TAKE_HEAD_PG: LiteralString = """
WITH head AS (
    SELECT id, state AS was, updated_at AS since, next_attempt_at AS due FROM twilio_outbound
    WHERE sender_hash = %(sender)s AND state IN ('pending', 'sending', 'retry')
    ORDER BY id LIMIT 1 FOR UPDATE
)
UPDATE twilio_outbound AS o SET state = 'sending', next_attempt_at = NULL, updated_at = %(now)s
FROM head
WHERE o.id = head.id AND (head.was = 'pending'
                          OR (head.was = 'retry' AND (head.due IS NULL OR head.due <= %(now)s))
                          OR (head.was = 'sending' AND head.since < %(doubt)s))
RETURNING o.id, head.was, head.since, o.kind, o.attempts, o.payload
"""
