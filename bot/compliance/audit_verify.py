"""Checking the audit chain: entry formulas, the walk, checkpoints (stored and exported).

Entry ``n`` stores ``hash = HMAC-SHA256(K, prev_hash ‖ canonical JSON)`` (hex) where ``K`` is the chain
key (:func:`bot.compliance.signing.chain_key`, kept outside the database), ``prev_hash`` is entry
``n-1``'s hash (64 zeros for the first), ``‖`` is plain concatenation of the hex text and the JSON, and
the canonical JSON is ``{"action","actor","details","seq","subject","ts"}`` with sorted keys, no spaces,
UTF-8. Entries written before keyed hashing used ``SHA-256(prev_hash ‖ canonical JSON)`` ("v1", unkeyed):
they are accepted only as a prefix of the chain, and the HMAC of the first keyed entry, which covers
their last hash, vouches for them. Without ``K`` nobody can append, edit, delete, reorder or re-link an
entry and recompute what follows; the signed checkpoints (Ed25519 over ``(seq, hash, ts)``), which a
clinic keeps off the machine as well (``bot audit checkpoint --export``), make a cut tail detectable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import settings
from bot.compliance import signing

GENESIS = "0" * 64
FILE_ENV = settings.AUDIT_CHECKPOINT_FILE_ENV
log = logging.getLogger("bot.compliance.audit")
_json_str = json.JSONEncoder(ensure_ascii=False).encode


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str
    checkpoints: int = 0
    #: what could not be checked, in words (printed by ``bot audit verify``)
    notes: tuple[str, ...] = ()
    unkeyed: int = 0  # entries 1..unkeyed use the unkeyed v1 formula
    unchecked: int = 0  # keyed entries whose HMAC could not be checked (no key here)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    ts: str
    key_id: str
    signature: str
    public_key: str | None = field(default=None, compare=False)  # base64, in exports

    def as_json(self) -> str:
        data = {"seq": self.seq, "hash": self.hash, "ts": self.ts, "key_id": self.key_id,
                "signature": self.signature}  # fmt: skip
        if self.public_key:
            data["public_key"] = self.public_key
        return json.dumps(data, sort_keys=True)


def canonical_details(details: Any) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_entry(seq: int, ts: str, actor: str, action: str, subject: str, details_json: str) -> str:
    """Equal to ``canonical_details`` of the whole entry when ``details_json`` is canonical (tested)."""
    return (
        f'{{"action":{_json_str(action)},"actor":{_json_str(actor)},"details":{details_json},'
        f'"seq":{seq},"subject":{_json_str(subject)},"ts":{_json_str(ts)}}}'
    )


def entry_hash(prev_hash: str, canonical: str) -> str:
    """The unkeyed v1 formula: only to recognise (and refuse to extend) entries made before keying."""
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def entry_mac(key: bytes, prev_hash: str, canonical: str) -> str:
    """The keyed formula every new entry uses."""
    return hmac.digest(key, (prev_hash + canonical).encode(), "sha256").hex()


def _bad(count: int, seq: int, reason: str, unkeyed: int = 0) -> VerifyResult:
    return VerifyResult(False, count, seq, reason, unkeyed=unkeyed)


def walk_chain(
    rows: Iterable[Any], wanted: set[int] | None = None, keys: Sequence[bytes] = ()
) -> tuple[VerifyResult, dict[int, str]]:
    """Check ``(seq, ts, actor, action, subject, details, prev_hash, hash)`` rows in seq order.

    ``keys``: the chain keys an entry may have been made with; without any, keyed entries are counted
    as unchecked (their links are still checked). Returns the result and the hashes of the entries whose
    seq is in ``wanted`` (checkpointed seqs).
    """
    wanted = wanted or set()
    order = list(keys)
    seen: dict[int, str] = {}
    expected_seq, prev, count, unkeyed, unchecked, keyed = 1, GENESIS, 0, 0, 0, False
    digest_of = hmac.digest
    for seq, ts, actor, action, subject, details, prev_hash, digest in rows:
        if seq != expected_seq:
            why = "missing entry" if seq > expected_seq else "out-of-order entry"
            return _bad(count, expected_seq, f"{why}: expected seq {expected_seq}", unkeyed), seen
        if prev_hash != prev:
            return _bad(count, seq, "prev_hash does not match the previous entry", unkeyed), seen
        message = (prev + canonical_entry(seq, ts, actor, action, subject, details)).encode()
        matched = False
        for i, key in enumerate(order):
            if digest_of(key, message, "sha256").hex() == digest:
                matched = True
                if i:  # the key that matched is tried first from now on
                    order.insert(0, order.pop(i))
                break
        if not matched:
            if hashlib.sha256(message).hexdigest() == digest:
                if keyed:
                    return _bad(count, seq, "unkeyed hash after keyed entries: the chain was recomputed "
                                "by someone without the key", unkeyed), seen  # fmt: skip
                unkeyed += 1
            elif order:
                return _bad(count, seq, "content does not match its hash (HMAC-SHA256 under every key "
                            "configured here)", unkeyed), seen  # fmt: skip
            else:
                unchecked += 1
                keyed = True
        else:
            keyed = True
        if seq in wanted:
            seen[seq] = digest
        prev, expected_seq, count = digest, seq + 1, count + 1
    return VerifyResult(True, count, None, "chain intact", unkeyed=unkeyed, unchecked=unchecked), seen


def check_checkpoints(
    cps: Sequence[Checkpoint], seen: dict[int, str], count: int, keys: signing.AuditKeys | None, origin: str
) -> tuple[str | None, int | None, list[str]]:
    """(problem, its seq, notes) for checkpoints from ``origin`` ("stored" or a file name)."""
    notes: list[str] = []
    unsigned = 0
    for cp in cps:
        if cp.seq > count:
            problem = f"truncated: a {origin} checkpoint covers seq {cp.seq}, the chain ends at {count}"
            return problem, count + 1, []
        if cp.seq > 0 and seen.get(cp.seq) != cp.hash:
            return f"entry {cp.seq} differs from its {origin} signed checkpoint", cp.seq, []
        public = keys.public(cp.key_id) if keys is not None else None
        if public is None and cp.public_key:
            try:
                candidate = signing.public_from_b64(cp.public_key)
            except Exception:
                return f"{origin} checkpoint at seq {cp.seq} carries an invalid public key", cp.seq, []
            if signing.key_id(candidate) == cp.key_id:
                public = candidate
                notes.append(f"{origin} checkpoint at seq {cp.seq} is signed by key {cp.key_id}, which is "
                             "not configured here (its own public key was used)")
        if public is None:
            if keys is not None and keys.publics:
                return (f"{origin} checkpoint at seq {cp.seq} is signed by an unknown key {cp.key_id} "
                        f"(forged, or a rotated key missing from {signing.RETIRED_ENV})"), cp.seq, []
            unsigned += 1
            continue
        message = signing.checkpoint_message(cp.seq, cp.hash, cp.ts)
        if not signing.signature_ok(public, message, cp.signature):
            return f"{origin} checkpoint at seq {cp.seq}: signature invalid", cp.seq, []
    if unsigned:
        notes.append(f"signatures of {unsigned} {origin} checkpoint(s) not checked: no public key here "
                     f"({signing.VERIFY_ENV})")
    return None, None, notes


def coverage_notes(result: VerifyResult, last_stored: int | None, exported: int | None,
                   files: Sequence[str], keys: signing.AuditKeys | None) -> list[str]:
    """What the walk and the checkpoints could not vouch for, in words."""
    notes: list[str] = []
    n, unkeyed = result.entries, result.unkeyed
    if unkeyed and unkeyed < n:
        notes.append(f"entries 1–{unkeyed} predate keyed hashing (unkeyed SHA-256, v1); the HMAC of entry "
                     f"{unkeyed + 1} covers them")
    if result.unchecked:
        notes.append(f"HMACs of {result.unchecked} keyed entries not checked: no audit key here "
                     f"({signing.SIGNING_ENV}, or the keyring on the embedded default) — only their links "
                     "were checked, which anyone can recompute")
    if n:
        if last_stored is None:
            notes.append(f"no checkpoint in the database: entries could be cut from the end (up to {n}) "
                         "without detection")
        elif last_stored < n:
            notes.append(f"no checkpoint after entry {last_stored}: entries {last_stored + 1}–{n} could be "
                         "cut from the end without detection")
    if not files:
        notes.append("no exported checkpoints given (--checkpoints FILE, or BOT_AUDIT_CHECKPOINT_FILE): a "
                     "cut tail deleted together with its checkpoint rows would go unnoticed")
    elif exported is not None and exported < n:
        notes.append(f"the latest exported checkpoint is at entry {exported}; entries {exported + 1}–{n} "
                     "rest on the database's own checkpoints")
    if keys is None or not keys.chains:
        notes.append("no chain key configured: keyed entries could not be told from rewritten ones")
    return notes


def read_exported(paths: Iterable[str | Path]) -> list[Checkpoint]:
    """Checkpoints from JSON-lines files written by ``bot audit checkpoint --export`` (or the automatic
    ``BOT_AUDIT_CHECKPOINT_FILE``); a malformed line is an error, not skipped."""
    found: list[Checkpoint] = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                found.append(Checkpoint(int(data["seq"]), str(data["hash"]), str(data["ts"]),
                                        str(data["key_id"]), str(data["signature"]), data.get("public_key")))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{number}: not a checkpoint line ({type(e).__name__})") from e
    return found


def publish(cp: Checkpoint) -> None:
    """Copies of a new checkpoint outside the database: the log (shipped off the machine) and, when set,
    ``BOT_AUDIT_CHECKPOINT_FILE`` (one JSON line appended; best on storage the database's administrators
    cannot rewrite)."""
    line = cp.as_json()
    log.info("audit.checkpoint %s", line, extra={"seq": cp.seq})
    path = settings.audit_checkpoint_file()
    if path:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as e:
            log.error("audit.checkpoint_file_failed", extra={"error": type(e).__name__})

