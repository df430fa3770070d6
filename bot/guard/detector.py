"""Deterministic clinical-content detection with spans in the original text.

Passes over the canonical views of a message (``normalise.views``): the lexicon trie over the *words*
view (diagnoses, medications, treatments, progress, imaging findings, abbreviations, result words and
cues); long terms over the *squashed* view (letters only: "diab etes"); spaced-out letters that start a
clinical term ("d i a g n") -> ``obfuscation``; value, dose and posology patterns over the *plain* view
(``patterns.value_patterns``), and over the words view when leetspeak was undone. The other readings of
ambiguous leetspeak (``Views.alternates``) are read too when the first finds nothing.

Result words need context: ``result_strong`` words always block; ``result_a`` words block near a cue
(a test, an analyte, an imaging study, an organ, or "salio"/"dio"/"came back") in the same sentence;
``result_b`` words ("normal", "alto", "bien") block only right after a linking word and next to a strong
cue ("sus analisis salieron bien", "todo bien en sus analisis"). In a message about one patient (every
staff message), findings in plain words block without a cue ("se ven limpios", "ya no hay nada",
"Negativo, no se preocupe") unless their clause is about logistics ("su pago salio bien"). Allowed
exceptions (policy + clinic service names) remove hits that lie entirely inside them. Sensitive services
are reported only for patient-specific messages or after a possessive ("su cita de control prenatal").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.guard.leet import EITHER
from bot.guard.lexicon import BLOCK_KINDS, CompiledLexicon, trie_pattern
from bot.guard.normalise import Views, canonical_term, views
from bot.guard.patterns import VOCABULARY, value_patterns

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
_EITHER_WORD = re.compile(r"[a-zı]*ı[a-zı]*")
_PREPOSITION = re.compile(r"[^a-z]*(?:en|de|del|con|in|on|of|for)[^a-z]")
_THAT = re.compile(r"[^a-z.!?;,\n]*que(?![a-z])")
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
    plain_findings: list[tuple[int, int, str, tuple[str, ...]]]
    word_values: list[tuple[int, int, str, str]]
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
        self._known = VOCABULARY | {w for key in (*lexicon.exact, *lexicon.stems) for w in key.split()}
        # the patterns for texts with a character read as i or l, compiled now (once per lexicon) rather
        # than during the first such message
        lexicon.pattern_for(EITHER)
        if lexicon.plain_findings is not None:
            lexicon.plain_findings.pattern_for(EITHER)
        self._exceptions = _phrase_pattern(exceptions)
        self._sensitive = _phrase_pattern(sensitive_services)

    def detect(self, text: str, *, patient_specific: bool = False, focus_start: int = 0) -> list[Span]:
        """Clinical spans of ``text`` (only those ending after ``focus_start``), sorted by position."""
        found = self.detect_views(views(text), patient_specific=patient_specific, focus_start=focus_start)
        return found.spans

    def detect_views(
        self,
        v: Views,
        *,
        patient_specific: bool = False,
        focus_start: int = 0,
        join: Join | None = None,
        words_only: bool = False,
    ) -> Detection:
        """Clinical spans of the text behind ``v`` (those ending after ``focus_start``).

        With ``join`` — the space where :func:`bot.guard.joins.join_views` put two texts side by
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
        for m in lex.pattern_for(words).finditer(words):
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
        word_values: list[tuple[int, int, str, str]] = []
        patterns = self._patterns
        for m in () if words_only else patterns.finditer(v.plain):
            start, end = m.span()
            crossed = crossed or start <= at_plain < end
            values.append((start, end, patterns.category(m), m.group()))
        services: list[tuple[int, int, str]] = []
        if self._sensitive is not None:
            for m in self._sensitive.finditer(words):
                start, end = m.span()
                crossed = crossed or start <= at_words < end
                services.append((start, end, m.group()))
        findings: list[tuple[int, int, str, tuple[str, ...]]] = []
        if patient_specific and lex.plain_findings is not None:
            for m in lex.plain_findings.pattern_for(words).finditer(words):
                start, end = m.span()
                # context can also veto these (a logistics word, a word before): never reuse the joined
                # reading for the message alone when one is found
                crossed = crossed or join is not None
                key, kinds = lex.plain_findings.lookup(m.group())
                if kinds:
                    findings.append((start, end, key, kinds))
        # leetspeak undone: values written with it ("gluc0sa 180 mg/|)l") are read in the words view too
        if v.decoded and not words_only:
            for m in patterns.finditer(self._resolve_either(words) if EITHER in words else words):
                start, end = m.span()
                crossed = crossed or start <= at_words < end
                word_values.append((start, end, patterns.category(m), m.group()))
        scan = _Scan(v, raw, squashed, values, services, patient_specific, findings, word_values)
        spans = self._resolve(scan, 0, 0, 0)
        crossed = crossed or scan.exceptions_cross(at_words)
        own = None
        if join is not None and not crossed:
            own = sorted(set(self._resolve(scan, at_words + 1, at_plain + 1, at_squashed)), key=_position)
        found = {s for s in spans if s.end > focus_start}
        # other readings of ambiguous leetspeak, read in full — when this one found nothing to block
        for words_alt, map_alt in () if found else v.alternates:
            other = Views(v.original, v.plain, v.plain_map, words_alt, map_alt, ())
            again = self.detect_views(  # the plain view's values were read already
                other, patient_specific=patient_specific, focus_start=focus_start, words_only=True
            )
            found.update(again.spans)
        return Detection(sorted(found, key=_position), crossed, own)

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
        plain_findings: list[_Hit] = []
        strong: list[_Hit] = []
        for start, end, key, kinds in scan.lexicon:
            if start < lo_words:
                continue
            for kind in kinds:
                hit = _Hit(start, end, kind, key)
                if kind in BLOCK_KINDS:
                    hits.append(hit)
                elif kind == "result_strong":
                    strong.append(_Hit(start, end, "result_word", key))
                elif kind in ("result_a", "result_b"):
                    results.append(hit)
                else:
                    cues.append(hit)
        for h in strong:  # an imaging study next to it makes it an imaging result
            if any(c.key in IMAGING_CUES and _near(words, c, h) for c in cues):
                hits.append(_Hit(h.start, h.end, "imaging_result", h.key))
            hits.append(h)
        if results and cues:
            hits.extend(self._resolve_results(words, results, cues, lo_words))
        for start, end, key, kinds in scan.plain_findings:
            if start >= lo_words:
                plain_findings.extend(_Hit(start, end, kind, key) for kind in kinds)
        if plain_findings and scan.patient_specific:
            hits.extend(self._resolve_plain_findings(words, plain_findings, lo_words))
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
        spans.extend(
            Span(*v.words_span(start, end), category, term)
            for start, end, category, term in scan.word_values
            if start >= lo_words
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
                if r.kind == "result_b" and c.kind != "cue_strong":
                    continue
                if (r.kind == "result_b" and c.start >= r.end
                        and not _PREPOSITION.match(words, r.end)):  # "bien en sus analisis"
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

    def _resolve_either(self, words: str) -> str:
        """``words`` with each "ı" read as i or l: in each word, the reading the lexicon or the value
        patterns know ("gıucosııada" -> "glucosilada"), else i."""
        known = self._known

        def pick(m: re.Match[str]) -> str:
            token = m.group()
            count = token.count(EITHER)
            if count <= 6:
                for bits in range(1 << count):
                    chars = iter("l" if bits >> k & 1 else "i" for k in range(count))
                    reading = "".join(next(chars) if c == EITHER else c for c in token)
                    if reading in known:
                        return reading
            return token.replace(EITHER, "i")

        return _EITHER_WORD.sub(pick, words)

    def _resolve_plain_findings(self, words: str, found: list[_Hit], lo: int) -> list[_Hit]:
        """Findings in plain words in a message about one patient, unless their clause is logistics."""
        lex = self._lexicon
        out: list[_Hit] = []
        for h in found:
            start = lo
            for m in _CLAUSE.finditer(words, lo, h.start):
                start = m.end()
            stop = _CLAUSE.search(words, h.end)
            end = stop.start() if stop is not None else len(words)
            if any(w in lex.logistics for w in _WORD.findall(words, start, end)):
                continue
            if _THAT.match(words, h.end):  # "es normal que ..."
                continue
            if h.kind == "finding_ps":
                if h.key.rstrip("*").endswith("nada") and words[h.end:end].strip():
                    continue  # "ya no hay nada disponible"
            elif words[start:h.start].strip(" \t'\"(¡¿-") and not _linked(words, h.start, lex.link, start):
                continue  # result_ps: only at the start of a clause or after a linking word
            out.append(_Hit(h.start, h.end, "result_word", h.key))
        return out


def _near(words: str, cue: _Hit, hit: _Hit) -> bool:
    """``cue`` within the result windows of ``hit``, in the same sentence."""
    if cue.end <= hit.start:
        return hit.start - cue.end <= WINDOW_BEFORE and not _BOUNDARY.search(words, cue.end, hit.start)
    if cue.start >= hit.end:
        return cue.start - hit.end <= WINDOW_AFTER and not _BOUNDARY.search(words, hit.end, cue.start)
    return False


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
