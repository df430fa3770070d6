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

__all__ = ["CATEGORIES", "Detector", "Span"]

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
        v = views(text)
        spans = self._lexicon_spans(v)
        spans.extend(self._pattern_spans(v))
        if spans:
            spans = self._drop_exceptions(v, spans)
        if self._sensitive is not None:
            spans.extend(_sensitive_spans(v, self._sensitive, patient_specific))
        result = sorted({s for s in spans if s.end > focus_start}, key=lambda s: (s.start, s.end, s.category))
        return result

    # -- passes ---------------------------------------------------------------------------------------

    def _lexicon_spans(self, v: Views) -> list[Span]:
        lex = self._lexicon
        words = v.words
        hits: list[_Hit] = []
        results: list[_Hit] = []
        cues: list[_Hit] = []
        for m in lex.pattern.finditer(words):
            key, kinds = lex.lookup(m.group())
            for kind in kinds:
                hit = _Hit(m.start(), m.end(), kind, key)
                if kind in BLOCK_KINDS:
                    hits.append(hit)
                elif kind == "result_strong":
                    hits.append(_Hit(hit.start, hit.end, "result_word", key))
                elif kind in ("result_a", "result_b"):
                    results.append(hit)
                else:
                    cues.append(hit)
        if results and cues:
            hits.extend(self._resolve_results(words, results, cues))
        spans = [Span(*v.words_span(h.start, h.end), h.kind, h.key) for h in hits]
        for a, b in v.spaced_runs:
            run = words[a:b]
            if len(run) >= 4 and run in lex.prefixes and not any(h.start <= a and b <= h.end for h in hits):
                spans.append(Span(*v.words_span(a, b), "obfuscation", run))
        if lex.squashed_pattern is not None:
            for m in lex.squashed_pattern.finditer(v.squashed()):
                key, kinds = lex.squashed_lookup(m.group())
                if not kinds:
                    continue
                start, end = v.squashed_span(m.start(), m.end())
                if not any(s.start < end and start < s.end for s in spans):
                    spans.extend(Span(start, end, kind, key) for kind in kinds)
        return spans

    def _resolve_results(self, words: str, results: list[_Hit], cues: list[_Hit]) -> list[_Hit]:
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
            if matched and r.kind == "result_b" and not _linked(words, r.start, link):
                matched = False
            if matched:
                found.append(_Hit(r.start, r.end, "imaging_result" if imaging else "result_word", r.key))
        return found

    def _pattern_spans(self, v: Views) -> list[Span]:
        patterns = self._patterns
        return [
            Span(*v.plain_span(m.start(), m.end()), patterns.category(m), m.group())
            for m in patterns.pattern.finditer(v.plain)
        ]

    def _drop_exceptions(self, v: Views, spans: list[Span]) -> list[Span]:
        if self._exceptions is None:
            return spans
        allowed = [v.words_span(m.start(), m.end()) for m in self._exceptions.finditer(v.words)]
        if not allowed:
            return spans
        return [s for s in spans if not any(a <= s.start and s.end <= b for a, b in allowed)]



def _sensitive_spans(v: Views, pattern: re.Pattern[str], patient_specific: bool) -> list[Span]:
    spans: list[Span] = []
    for m in pattern.finditer(v.words):
        before = v.words[max(0, m.start() - 48):m.start()]
        if patient_specific or _POSSESSIVE.search(before):
            spans.append(Span(*v.words_span(m.start(), m.end()), "sensitive_service", m.group()))
    return spans

def _linked(words: str, start: int, link: frozenset[str]) -> bool:
    """True when one of the (up to three) words right before ``start`` is a linking word."""
    tail = _WORD.findall(words[max(0, start - 32):start])[-3:]
    if any(w in link for w in tail):
        return True
    return any(f"{a} {b}" in link for a, b in itertools.pairwise(tail))


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    keys = {canonical_term(p).rstrip("*") for p in phrases}
    keys.discard("")
    if not keys:
        return None
    return re.compile(r"(?<![a-z0-9])" + trie_pattern(sorted(keys)) + r"(?![a-z0-9])")
