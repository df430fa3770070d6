"""The outbound disclosure gate: every message bound for a patient passes :meth:`DisclosureGate.filter`.

``filter`` checks who wrote the message (provenance), looks for clinical content in the message and in
the message joined to the previous few outbound messages (so an answer split across messages is caught),
screens what no outbound text may carry whatever it says (:mod:`bot.guard.screen`: bidi controls, hidden
characters, links to file-sharing sites; from staff, other scripts than Latin and links that are not the
clinic's own), and fails closed: any exception inside means the fixed :data:`CLINICAL_REDIRECT` is sent
instead. A block is reported to ``on_block`` and the log with categories and a keyed digest of the text
(:func:`bot.core.pseudonym.text_digest`, an HMAC: not reversible by guessing) — never the text itself.
Only the authenticated portal is exempt; every other channel, known or not, is filtered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from bot.config_files import load_mapping
from bot.core.pseudonym import text_digest as _keyed_digest
from bot.errors import ConfigError
from bot.guard.detector import CATEGORIES, Detector, Join, Span
from bot.guard.joins import join_views, tail_views
from bot.guard.lexicon import CompiledLexicon, compile_lexicon
from bot.guard.links import LinkPolicy
from bot.guard.normalise import Views, cached_views, views
from bot.guard.policy import DisclosurePolicy, load_clinic_links, load_clinic_services, load_policy
from bot.guard.screen import BIDI, INVISIBLE, LINK, SCREEN_CATEGORIES, SCRIPT, screen

__all__ = [
    "CLINICAL_REDIRECT",
    "DisclosureGate",
    "GateResult",
    "Provenance",
    "Span",
    "Verdict",
    "explain",
    "load_gate",
    "text_digest",
]

CLINICAL_REDIRECT = (
    "Por su seguridad y privacidad médica, solo puedo compartir esa información en consulta o en su portal "
    "seguro. ¿Le ayudo a agendar una cita o a entrar a su portal?"
)
PROVENANCE_KINDS = frozenset({"template", "paraphrase", "agent", "system"})
# Gate-level categories, next to the detector's clinical ones.
PROVENANCE = "provenance"
GATE_ERROR = "gate_error"
OVERSIZE = "oversize"
_ORDER = {c: i for i, c in enumerate((*CATEGORIES, *SCREEN_CATEGORIES, PROVENANCE, OVERSIZE, GATE_ERROR))}
# Why a text was refused, for the person who wrote it (the inbox API): never the text, only the rule.
REASONS = {
    BIDI: "the text contains bidirectional control characters (they can disguise words); remove them",
    INVISIBLE: "the text contains hidden characters (tags, variation selectors or runs of zero-width "
               "characters); remove them",
    SCRIPT: "staff messages to patients must be written in the Latin alphabet (Spanish); the text "
            "contains letters of another script",
    LINK: "the text contains a link that may not be sent: only the clinic's own links (portal, privacy "
          "notice, map) are allowed, and never file-sharing sites or link shorteners",
    PROVENANCE: "the message does not come from a registered response or a member of staff",
    OVERSIZE: "the message is too long",
    GATE_ERROR: "the disclosure gate could not check the message, so it was not sent",
}
#: Refusals for a text's form rather than its content: staff text refused for these alone is not sent at
#: all (the author rewrites it) instead of being replaced by the clinical redirect.
FORM_CATEGORIES = frozenset(SCREEN_CATEGORIES)
_CLINICAL_REASON = ("the text contains clinical information ({}); clinical information is shared in "
                    "consultation or in the patient's secure portal only")
_MAX_NAME = 200
# How much of the previous messages is re-read with a new one: cross-message evidence (a cue and a result
# word, an analyte and its value, a word split in two) lies within ~60 characters of the boundary.
RECENT_TAIL_CHARS = 120
# Verdicts remembered per gate: the scan is a pure function of (text, previous texts, patient_specific)
# for a fixed lexicon and policy, and replies are mostly fixed templates, so most scans repeat exactly.
# Keys compare by equality (no digest collisions); an exception is never remembered (fail closed).
SCAN_MEMO_ENTRIES = 2048

logger = logging.getLogger("bot.guard")


@dataclass(frozen=True)
class Provenance:
    """Who produced a message: a registered response (``template``/``paraphrase``), an agent id, or the
    system (a registered response, or the clinical redirect itself)."""

    kind: Literal["template", "paraphrase", "agent", "system"]
    name: str


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    categories: tuple[str, ...]
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class GateResult:
    text: str  # what to send: the original text or CLINICAL_REDIRECT
    blocked: bool
    verdict: Verdict
    text_digest: str


def text_digest(text: object) -> str:
    """The keyed digest of a text for logs and audit entries (:func:`bot.core.pseudonym.text_digest`)."""
    return _keyed_digest(text if isinstance(text, str) else "")


def explain(categories: Sequence[str]) -> list[str]:
    """One sentence per reason a text was refused (for the member of staff who wrote it)."""
    clinical = [c for c in categories if c in CATEGORIES]
    reasons = [_CLINICAL_REASON.format(", ".join(clinical))] if clinical else []
    reasons.extend(REASONS[c] for c in categories if c in REASONS)
    return reasons


@lru_cache(maxsize=8)
def _lexicon(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> CompiledLexicon:
    return compile_lexicon(dict(extra))


class DisclosureGate:
    """Detects clinical content (``check``) and filters outbound messages (``filter``)."""

    def __init__(
        self,
        policy: DisclosurePolicy,
        *,
        registered_responses: Collection[str] = (),
        on_block: Callable[[dict[str, Any]], None] | None = None,
        sensitive_service_names: Collection[str] = (),
        allowed_links: Collection[str] = (),
    ) -> None:
        self.policy = policy
        self.links = LinkPolicy.of(allowed_links, policy.allowed_link_domains)
        self.registered_responses = frozenset(registered_responses)
        self._on_block = on_block
        extra = tuple(sorted((k, tuple(v)) for k, v in policy.extra_terms.items()))
        self._detector = Detector(
            _lexicon(extra),
            exceptions=policy.allowed_exceptions,
            sensitive_services=(*sensitive_service_names, *policy.sensitive_services),
        )
        self._scan = lru_cache(maxsize=SCAN_MEMO_ENTRIES)(self._scan_uncached)

    # -- detection ------------------------------------------------------------------------------------

    def check(self, text: str, *, channel: str = "whatsapp", patient_specific: bool = False) -> Verdict:
        """Pure detection: what in ``text`` may not travel over ``channel``."""
        if not isinstance(text, str):
            raise TypeError("the gate checks text (str) only")
        if self._exempt(channel):
            return Verdict(True, (), ())
        if len(text) > self.policy.max_message_chars:
            return Verdict(False, (OVERSIZE,), ())
        v = cached_views(text)
        found = self._detector.detect_views(v, patient_specific=patient_specific)
        return _verdict(found.spans + screen(text, v, staff=False, links=self.links))

    def filter(
        self,
        text: str,
        *,
        channel: str,
        provenance: Provenance,
        patient_specific: bool = False,
        recent: Sequence[str] = (),
    ) -> GateResult:
        """What to send instead of ``text``: ``text`` itself, or the redirect. Never raises."""
        try:
            digest = text_digest(text)
        except Exception:
            digest = text_digest("")
        try:
            verdict = self._evaluate(text, channel, provenance, patient_specific, recent)
        except Exception as e:
            logger.error("disclosure.gate_error error=%s text_digest=%s", type(e).__name__, digest)
            verdict = Verdict(False, (GATE_ERROR,), ())
        if verdict.allowed and isinstance(text, str):
            return GateResult(text, False, verdict, digest)
        if verdict.allowed:  # pragma: no cover - _evaluate rejects non-str text
            verdict = Verdict(False, (GATE_ERROR,), ())
        self._report(verdict, digest, channel, provenance)
        return GateResult(CLINICAL_REDIRECT, True, verdict, digest)

    # -- internals ------------------------------------------------------------------------------------

    def _exempt(self, channel: object) -> bool:
        if not isinstance(channel, str):
            raise TypeError("channel must be a string")
        return channel.strip().lower() in self.policy.exempt_channels

    def _provenance_ok(self, text: str, provenance: object) -> bool:
        if not isinstance(provenance, Provenance) or provenance.kind not in PROVENANCE_KINDS:
            return False
        name = provenance.name
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
            return False
        if provenance.kind == "agent":
            return True
        if provenance.kind == "system" and text == CLINICAL_REDIRECT:
            return True
        return name in self.registered_responses

    def _evaluate(
        self, text: str, channel: str, provenance: Provenance, patient_specific: bool, recent: Sequence[str]
    ) -> Verdict:
        if not isinstance(text, str):
            raise TypeError("the gate filters text (str) only")
        if not self._provenance_ok(text, provenance):
            return Verdict(False, (PROVENANCE,), ())
        if self._exempt(channel):
            return Verdict(True, (), ())
        if len(text) > self.policy.max_message_chars:
            return Verdict(False, (OVERSIZE,), ())
        window = self.policy.recent_window
        previous = tuple(recent)[-window:] if window else ()
        if any(not isinstance(p, str) for p in previous):
            raise TypeError("recent must hold the previous outbound texts (str)")
        return self._scan(text, previous, bool(patient_specific), provenance.kind == "agent")

    def _scan_uncached(
        self, text: str, previous: tuple[str, ...], patient_specific: bool, staff: bool
    ) -> Verdict:
        own = cached_views(text)
        screened = screen(text, own, staff=staff, links=self.links)
        return _verdict(self._clinical(text, own, previous, patient_specific) + screened)

    def _clinical(
        self, text: str, own: Views, previous: tuple[str, ...], patient_specific: bool
    ) -> list[Span]:
        """The clinical spans of ``text``: alone and read after the tail of the ``previous`` messages."""
        detector = self._detector
        if not previous:
            return detector.detect_views(own, patient_specific=patient_specific).spans
        # The message read together with the tail of the previous ones, so that a cue and a result word,
        # an analyte and its value or a word split in two across messages are caught. One scan of the
        # joined views serves both readings unless a match crosses the join.
        head, head_views = _head(previous)
        offset = len(head) + 1
        both = join_views(head_views, own)
        alone: list[Span] | None = None
        if both is None:  # a spaced-out run may cross the join: read the joined text afresh
            joined = detector.detect(f"{head} {text}", patient_specific=patient_specific, focus_start=offset)
        else:
            at = Join(len(head_views.words), len(head_views.plain), len(head_views.squashed()))
            found = detector.detect_views(
                both, patient_specific=patient_specific, focus_start=offset, join=at
            )
            joined = found.spans
            if found.own is not None:
                if not joined:  # nothing crossed and nothing found: the message alone has nothing either
                    return []
                alone = [Span(s.start - offset, s.end - offset, s.category, s.term) for s in found.own]
        if alone is None:
            alone = detector.detect_views(own, patient_specific=patient_specific).spans
        spans = alone
        seen = {(s.start, s.end, s.category) for s in spans}
        for s in joined:
            moved = Span(max(s.start - offset, 0), s.end - offset, s.category, s.term)
            if (moved.start, moved.end, moved.category) not in seen:
                spans.append(moved)
                seen.add((moved.start, moved.end, moved.category))
        return spans

    def _report(self, verdict: Verdict, digest: str, channel: object, provenance: object) -> None:
        kind = getattr(provenance, "kind", None)
        name = getattr(provenance, "name", None)
        payload: dict[str, Any] = {
            "event": "disclosure.blocked",
            "categories": list(verdict.categories),
            "text_digest": digest,
            "provenance": f"{_label(kind)}/{_label(name)}",
            "channel": _label(channel),
        }
        logger.warning(
            "disclosure.blocked categories=%s text_digest=%s provenance=%s channel=%s",
            ",".join(payload["categories"]), digest, payload["provenance"], payload["channel"],
        )
        if self._on_block is None:
            return
        try:
            self._on_block(payload)
        except Exception as e:
            logger.error("disclosure.on_block_failed error=%s text_digest=%s", type(e).__name__, digest)


@lru_cache(maxsize=1024)
def _head(previous: tuple[str, ...]) -> tuple[str, Views]:
    """The tail of the previous messages (``_tail`` of them joined by spaces) and its views, cut out of
    and joined from the cached views of each message (each was normalised when it went through the gate)
    instead of normalising the tail again; a fresh ``views()`` of the tail when a message is not in the
    cache or a cut or a join cannot be exact. Cached per tuple of messages."""
    joined = " ".join(previous)
    head = _tail(joined, RECENT_TAIL_CHARS)
    cut = len(joined) - len(head)
    result: Views | None = None
    start = 0
    for message in previous:
        end = start + len(message)
        if end > cut or (end == cut == start):
            known = cached_views.peek(message)
            part = None if known is None else tail_views(known, max(cut - start, 0))
            result = part if result is None or part is None else join_views(result, part)
            if part is None or result is None:  # not seen before (another worker sent it) or not exact
                return head, views(head)
        start = end + 1
    if result is None or result.original != head:  # belt and braces: never scan a different text
        return head, views(head)
    return head, result


def _tail(text: str, size: int) -> str:
    """The last ``size`` characters of ``text``, starting at a word boundary."""
    if len(text) <= size:
        return text
    cut = len(text) - size
    space = text.find(" ", cut)
    return text[space + 1:] if space != -1 else text[cut:]


def _label(value: object) -> str:
    return value[:_MAX_NAME] if isinstance(value, str) else "?"


def _verdict(spans: list[Span]) -> Verdict:
    spans.sort(key=lambda s: (s.start, s.end, s.category))
    categories = tuple(sorted({s.category for s in spans}, key=lambda c: _ORDER.get(c, len(_ORDER))))
    return Verdict(not spans, categories, tuple(spans))


def _domain_responses(path: Path) -> tuple[str, ...]:
    if not path.exists():
        return ()
    data = load_mapping(path, "the domain: responses", allow_empty=True)
    responses = data.get("responses")
    if responses is None:
        return ()
    if not isinstance(responses, Mapping):
        raise ConfigError(f"{path}: 'responses' must be a mapping")
    return tuple(str(k) for k in responses)


def load_gate(
    project_dir: Path,
    *,
    registered_responses: Collection[str] | None = None,
    on_block: Callable[[dict[str, Any]], None] | None = None,
) -> DisclosureGate:
    """The gate configured by ``policies/disclosure.yml`` and ``clinic.yml`` (responses from domain.yml
    unless given). Service names become allowed exceptions (general information); sensitive ones are
    never named in a patient-specific message. The clinic's URLs (``portal_url``, ``privacy_notice_url``,
    ``maps_url`` ...) are the links staff may send, with ``allowed_link_domains`` of the policy."""
    project_dir = Path(project_dir)
    policy = load_policy(project_dir / "policies" / "disclosure.yml")
    services = load_clinic_services(project_dir / "clinic.yml")
    policy = replace(policy, allowed_exceptions=(*policy.allowed_exceptions, *services.names))
    if registered_responses is None:
        registered_responses = _domain_responses(project_dir / "domain.yml")
    return DisclosureGate(
        policy,
        registered_responses=registered_responses,
        on_block=on_block,
        sensitive_service_names=services.sensitive,
        allowed_links=load_clinic_links(project_dir / "clinic.yml"),
    )
