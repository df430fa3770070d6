"""Deterministic clinical-content detection with spans in the original text.

Four passes over the canonical views of a message (``normalise.views``):

1. the lexicon trie over the *words* view: diagnoses, medications, treatments, progress, imaging findings,
   abbreviations, result words and their cues;
2. long terms over the *squashed* view (letters only), for words split by spaces or punctuation;
3. spaced-out letters that start a clinical term ("d i a g n") -> ``obfuscation``;
4. value, dose and posology patterns over the *plain* view (``patterns.value_patterns``).

Result words need context: ``result_strong`` words always block; ``result_a`` words block near a cue
(a test, an analyte, an imaging study, or "salio"/"dio"/"came back") in the same sentence; ``result_b``
words ("normal", "alto", "bien") block only right after a linking word and after a strong cue
("sus analisis salieron bien"). Allowed exceptions (policy + clinic service names) remove hits that lie
entirely inside them. Sensitive services are reported only for patient-specific messages or after a
possessive ("su cita de control prenatal").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.guard.lexicon import BLOCK_KINDS, CompiledLexicon, trie_pattern
from bot.guard.normalise import Views, canonical_term, views
from bot.guard.patterns import value_patterns

__all__ = ["CATEGORIES", "Detection", "Detector", "Join", "Span"]

CATEGORIES = (
    "diagnosis", "lab_result", "imaging_result", "medication", "treatment", "progress", "clinical_value",
    "result_word", "abbreviation", "obfuscation", "sensitive_service",
)
IMAGING_CUES = frozenset({
    "ultrasonido", "ultrasonidos", "ecografia", "ultrasound", "sonogram", "rayos x", "radiografia",
    "radiografias", "x ray", "xray", "tomografia", "tac", "ct scan", "scan", "resonancia",
    "resonancia magnetica", "mri", "mastografia", "mamografia", "mamogram", "densitometria",
    "ecocardiograma",
})
WINDOW_BEFORE = 60
WINDOW_AFTER = 30
WINDOW_B = 40  # result_b: everyday words need a closer cue, within the same clause
_BOUNDARY = re.compile(r"[.!?;\n]")
_CLAUSE = re.compile(r"[.!?;,\n]")
_WORD = re.compile(r"[a-z]+")
_POSSESSIVE = re.compile(
    r"(?:^|[^a-z])(?:su|sus|tu|tus|your)[^a-z]+(?:(?:proxima|siguiente|primera|nueva|cita|citas|consulta"
    r"|sesion|sesiones|visita|turno|de|del|para|la|el|next|upcoming|first|new|appointment|session|visit|for"
    r"|the)[^a-z]+){0,4}$"
)


@dataclass(frozen=True, slots=True)
class Span:
    """A detected clinical term: ``text[start:end]`` in the original message."""

    start: int
    end: int
    category: str
    term: str


@dataclass(frozen=True, slots=True)
class Join:
    """Where two texts were joined by a space: its index in the words and plain views."""

    words: int
    plain: int
    squashed: int


@dataclass(slots=True)
class Detection:
    """What :meth:`Detector.detect_views` found."""

    spans: list[Span]  # ending after focus_start, sorted
    crossed: bool  # some match crossed the join
    own: list[Span] | None  # join given, nothing crossed: the second text's spans as if alone


@dataclass(slots=True)
class _Scan:
    """The raw matches of every pass over one set of views (positions in each view's own indices)."""

    views: Views
    lexicon: list[tuple[int, int, str, tuple[str, ...]]]
    squashed: list[tuple[int, int, str, tuple[str, ...]]]
    values: list[tuple[int, int, str, str]]
    services: list[tuple[int, int, str]]
    patient_specific: bool
    _exceptions: list[tuple[int, int]] | None = None

    def exceptions(self, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
        """Allowed-exception matches over the words view (scanned on first need only)."""
        if self._exceptions is None:
            self._exceptions = [m.span() for m in pattern.finditer(self.views.words)]
        return self._exceptions

    def exceptions_cross(self, at: int) -> bool:
        return self._exceptions is not None and any(a <= at < b for a, b in self._exceptions)


@dataclass(slots=True)
class _Hit:
    start: int  # words-view offsets until mapped
    end: int
    kind: str
    key: str


class Detector:
    """Finds clinical content in one text. Immutable after construction; safe to share across threads."""

    def __init__(
        self,
        lexicon: CompiledLexicon,
        *,
        exceptions: Iterable[str] = (),
        sensitive_services: Iterable[str] = (),
    ) -> None:
        self._lexicon = lexicon
        self._patterns = value_patterns()
        self._exceptions = _phrase_pattern(exceptions)
        self._sensitive = _phrase_pattern(sensitive_services)

    def detect(self, text: str, *, patient_specific: bool = False, focus_start: int = 0) -> list[Span]:
        """Clinical spans of ``text`` (only those ending after ``focus_start``), sorted by position."""
        found = self.detect_views(views(text), patient_specific=patient_specific, focus_start=focus_start)
        return found.spans

    def detect_views(
        self, v: Views, *, patient_specific: bool = False, focus_start: int = 0, join: Join | None = None
    ) -> Detection:
        """Clinical spans of the text behind ``v`` (those ending after ``focus_start``).

        With ``join`` — the space where :func:`bot.guard.normalise.join_views` put two texts side by
        side — it also tells whether any match of any pass (clinical or not: cues, exceptions, service
        names) crosses it. When none does, the second text was scanned exactly as it would be alone, so
        its own spans are worked out from the same matches (``own``) without a second scan.
        """
        lex = self._lexicon
        words = v.words
        crossed = False
        at_words = join.words if join is not None else -1
        at_plain = join.plain if join is not None else -1
        at_squashed = join.squashed if join is not None else -1
        raw: list[tuple[int, int, str, tuple[str, ...]]] = []
        for m in lex.pattern.finditer(words):
            start, end = m.span()
            crossed = crossed or start <= at_words < end
            key, kinds = lex.lookup(m.group())
            if kinds:
                raw.append((start, end, key, kinds))
        squashed: list[tuple[int, int, str, tuple[str, ...]]] = []
        if lex.squashed_pattern is not None:
            for m in lex.squashed_pattern.finditer(v.squashed()):
                start, end = m.span()
                crossed = crossed or start < at_squashed < end
                key, kinds = lex.squashed_lookup(m.group())
                if kinds:
                    squashed.append((start, end, key, kinds))
        values: list[tuple[int, int, str, str]] = []
        patterns = self._patterns
        for m in patterns.finditer(v.plain):
            start, end = m.span()
            crossed = crossed or start <= at_plain < end
            values.append((start, end, patterns.category(m), m.group()))
        services: list[tuple[int, int, str]] = []
        if self._sensitive is not None:
            for m in self._sensitive.finditer(words):
                start, end = m.span()
                crossed = crossed or start <= at_words < end
                services.append((start, end, m.group()))
        scan = _Scan(v, raw, squashed, values, services, patient_specific)
        spans = self._resolve(scan, 0, 0, 0)
        crossed = crossed or scan.exceptions_cross(at_words)
        own = None
        if join is not None and not crossed:
            own = sorted(set(self._resolve(scan, at_words + 1, at_plain + 1, at_squashed)), key=_position)
        result = sorted({s for s in spans if s.end > focus_start}, key=_position)
        return Detection(result, crossed, own)

    # -- resolution -----------------------------------------------------------------------------------

    def _resolve(self, scan: _Scan, lo_words: int, lo_plain: int, lo_squashed: int) -> list[Span]:
        """Spans from the matches that start at or after the given indices, with context (cues, the
        words before a result or a service name) read from there on only."""
        lex = self._lexicon
        v = scan.views
        words = v.words
        hits: list[_Hit] = []
        results: list[_Hit] = []
        cues: list[_Hit] = []
        for start, end, key, kinds in scan.lexicon:
            if start < lo_words:
                continue
            for kind in kinds:
                hit = _Hit(start, end, kind, key)
                if kind in BLOCK_KINDS:
                    hits.append(hit)
                elif kind == "result_strong":
                    hits.append(_Hit(start, end, "result_word", key))
                elif kind in ("result_a", "result_b"):
                    results.append(hit)
                else:
                    cues.append(hit)
        if results and cues:
            hits.extend(self._resolve_results(words, results, cues, lo_words))
        spans = [Span(*v.words_span(h.start, h.end), h.kind, h.key) for h in hits]
        for a, b in v.spaced_runs:
            if a < lo_words:
                continue
            run = words[a:b]
            if len(run) >= 4 and run in lex.prefixes and not any(h.start <= a and b <= h.end for h in hits):
                spans.append(Span(*v.words_span(a, b), "obfuscation", run))
        for start, end, key, kinds in scan.squashed:
            if start < lo_squashed:
                continue
            o_start, o_end = v.squashed_span(start, end)
            if not any(s.start < o_end and o_start < s.end for s in spans):
                spans.extend(Span(o_start, o_end, kind, key) for kind in kinds)
        spans.extend(
            Span(*v.plain_span(start, end), category, term)
            for start, end, category, term in scan.values
            if start >= lo_plain
        )
        if spans and self._exceptions is not None:
            allowed = [v.words_span(a, b) for a, b in scan.exceptions(self._exceptions) if a >= lo_words]
            if allowed:
                spans = [s for s in spans if not any(a <= s.start and s.end <= b for a, b in allowed)]
        for start, end, term in scan.services:
            if start < lo_words:
                continue
            before = words[max(lo_words, start - 48):start]
            if scan.patient_specific or _POSSESSIVE.search(before):
                spans.append(Span(*v.words_span(start, end), "sensitive_service", term))
        return spans

    def _resolve_results(self, words: str, results: list[_Hit], cues: list[_Hit], lo: int) -> list[_Hit]:
        found: list[_Hit] = []
        link = self._lexicon.link
        for r in results:
            imaging = False
            matched = False
            for c in cues:
                if r.kind == "result_b" and (c.kind != "cue_strong" or c.end > r.start):
                    continue
                weak = r.kind == "result_b"
                if c.end <= r.start:
                    gap = r.start - c.end
                    between = words[c.end:r.start]
                    if gap > (WINDOW_B if weak else WINDOW_BEFORE):
                        continue
                elif c.start >= r.end:
                    gap = c.start - r.end
                    between = words[r.end:c.start]
                    if gap > WINDOW_AFTER:
                        continue
                else:
                    continue
                if (_CLAUSE if weak else _BOUNDARY).search(between):
                    continue
                matched = True
                imaging = imaging or c.key in IMAGING_CUES
            if matched and r.kind == "result_b" and not _linked(words, r.start, link, lo):
                matched = False
            if matched:
                found.append(_Hit(r.start, r.end, "imaging_result" if imaging else "result_word", r.key))
        return found

def _position(span: Span) -> tuple[int, int, str]:
    return span.start, span.end, span.category


def _linked(words: str, start: int, link: frozenset[str], lo: int = 0) -> bool:
    """True when one of the (up to three) words right before ``start`` (not before ``lo``) links."""
    tail = _WORD.findall(words[max(lo, start - 32):start])[-3:]
    if any(w in link for w in tail):
        return True
    return any(f"{a} {b}" in link for a, b in itertools.pairwise(tail))


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    keys = {canonical_term(p).rstrip("*") for p in phrases}
    keys.discard("")
    if not keys:
        return None
    return re.compile(r"(?<![a-z0-9])" + trie_pattern(sorted(keys)) + r"(?![a-z0-9])")
