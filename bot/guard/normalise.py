"""Canonical views of an outbound message, each with a map back to the original text.

Obfuscation is undone here so the detector can stay a plain lexicon/regex matcher:

* ``plain``: compatibility-folded (NFKD: fullwidth, ligatures, math letters), accents and other combining
  marks stripped, zero-width / format characters removed, case-folded, common Cyrillic and Greek homoglyphs
  mapped to Latin letters. Digits and punctuation are kept, so values and doses (``180 mg/dl``) survive.
* ``words``: ``plain`` plus leetspeak undone inside tokens that mix letters and digits (``d1agn0stico``),
  obfuscating characters inside words removed (``diab*tes``), spaced-out letters joined
  (``d i a g n o s t i c o``, ``v.i.h``) and runs of a repeated letter reduced to one (``diaaabetes``).
  Lexicon terms are normalised through the same function, so both sides always agree.
* ``squashed`` (computed on demand): ``words`` without anything but letters, for long terms split by
  spaces or punctuation (``diab etes``).

Every view keeps an :class:`OffsetMap` so a match in a view is reported as a span of the original text.
The common case (ASCII or Latin-1 text with nothing to undo) runs on ``str.translate`` and a few
C-level regex scans; the per-character path only runs when characters must be dropped or expanded.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

__all__ = ["OffsetMap", "Views", "canonical_term", "fold_plain", "views"]

# Lookalike letters from other scripts that survive NFKD and case folding.
_HOMOGLYPHS = {
    # Cyrillic (lower case; upper case is folded first)
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ӏ": "l", "ɡ": "g", "ь": "b", "п": "n", "г": "r", "и": "u",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k", "λ": "l",
    "μ": "u", "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "ς": "s", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    # Latin oddities
    "ı": "i", "ȷ": "j", "ℓ": "l", "ſ": "s", "ƒ": "f",
}
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Mc", "Cf"})

# Leetspeak digits/symbols, undone only inside tokens that also hold letters.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_HINT = re.compile(r"[a-z][013457@$]|[013457@$][a-z]")
_TOKEN = re.compile(r"[a-z0-9@$]+")
# "850mg", "10am", "30min", "2x", "1er": a quantity with a unit or an ordinal, not leetspeak ("5ida").
_QUANTITY = re.compile(
    r"\$?\d+(?:[.,]\d+)?(?:mg|mgs|mcg|ug|ml|cc|g|gr|grs|kg|kgs|lb|lbs|ui|iu|u|l|lt|h|hr|hrs|hs|am|pm|min"
    r"|mins|seg|mmhg|lpm|bpm|x|cm|mm|m|km|k|mil|ro|do|er|ra|da|to|vo|mo|no|o|a|st|nd|rd|th|s|sdg|sem)"
)

# One scan finds every deletion the words view makes.
_DELETIONS = re.compile(
    r"(?P<obf>(?<=[a-z])[*_·'’`´|~^\"]+(?=[a-z]))"
    r"|(?P<spaced>(?<![a-z0-9])[a-z](?:[\s.\-_*·/|,'~]{1,3}[a-z](?![a-z0-9])){2,})"
    r"|(?P<dup>(?P<dl>[a-z])(?P=dl)+)"
)
_SPACED_SEP = re.compile(r"[^a-z]+")
_NON_ALPHA = re.compile(r"[^a-z]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SEPARATORS = re.compile(r"[^a-z0-9*]+")


class OffsetMap:
    """A piecewise-linear map from indices of a derived string to indices of its source string.

    Segment ``k`` starts at derived index ``derived[k]`` and maps onto ``source[k]``; within a segment the
    offset is constant. ``parent`` chains maps, so one call reaches the original text.
    """

    __slots__ = ("_derived", "_parent", "_source")

    def __init__(self, derived: list[int], source: list[int], parent: OffsetMap | None = None) -> None:
        self._derived = derived
        self._source = source
        self._parent = parent

    def to_original(self, index: int) -> int:
        k = bisect_right(self._derived, index) - 1
        k = max(k, 0)
        j = self._source[k] + (index - self._derived[k])
        return self._parent.to_original(j) if self._parent is not None else j


def _map(offsets: OffsetMap | None, index: int) -> int:
    return offsets.to_original(index) if offsets is not None else index


@dataclass
class Views:
    """The canonical views of one text. Build with :func:`views`."""

    original: str
    plain: str
    plain_map: OffsetMap | None
    words: str
    words_map: OffsetMap | None
    spaced_runs: tuple[tuple[int, int], ...]
    _squashed: tuple[str, list[int]] | None = field(default=None, repr=False)

    def plain_span(self, start: int, end: int) -> tuple[int, int]:
        return self._span(self.plain_map, start, end)

    def words_span(self, start: int, end: int) -> tuple[int, int]:
        return self._span(self.words_map, start, end)

    def squashed(self) -> str:
        if self._squashed is None:
            text = _NON_ALPHA.sub("", self.words)
            self._squashed = (text, [])
        return self._squashed[0]

    def squashed_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a squashed-view span to the original (builds the index lazily: only on a match)."""
        text, index = self._squashed or (self.squashed(), [])
        if not index:
            index = [i for i, ch in enumerate(self.words) if "a" <= ch <= "z"]
            self._squashed = (text, index)
        return self.words_span(index[start], index[end - 1] + 1)

    def _span(self, offsets: OffsetMap | None, start: int, end: int) -> tuple[int, int]:
        if end <= start:
            o = _map(offsets, start)
            return o, o
        o_start = _map(offsets, start)
        o_end = _map(offsets, end - 1) + 1
        # Take in trailing characters the views dropped (combining accents, zero-width joiners).
        text = self.original
        while o_end < len(text) and unicodedata.category(text[o_end]) in _DROP_CATEGORIES:
            o_end += 1
        return o_start, o_end


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """The plain-view spelling of one character (possibly empty or several characters)."""
    s = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).casefold())
    out = []
    for c in s:
        if unicodedata.category(c) in _DROP_CATEGORIES:
            continue
        out.append(_HOMOGLYPHS.get(c, c))
    return "".join(out)


@cache
def _table() -> dict[int, str]:
    """A one-to-one translate table for the characters whose folding is a single character."""
    table: dict[int, str] = {}
    ranges = [(0x41, 0x5A), (0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0xFF01, 0xFF5E)]
    for lo, hi in ranges:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            folded = _fold_char(ch)
            if len(folded) == 1 and folded != ch:
                table[cp] = folded
    return table


def fold_plain(text: str) -> tuple[str, OffsetMap | None]:
    """The plain view and its map (``None`` when indices are unchanged)."""
    if text.isascii():
        return text.lower(), None
    folded = text.translate(_table())
    if all(_fold_char(m.group()) == m.group() for m in _NON_ASCII.finditer(folded)):
        return folded, None
    pieces: list[str] = []
    derived: list[int] = []
    source: list[int] = []
    pos = 0
    for i, ch in enumerate(text):
        out = ch.lower() if ch.isascii() else _fold_char(ch)
        for c in out:
            pieces.append(c)
            derived.append(pos)
            source.append(i)
            pos += 1
    if not derived:
        derived, source = [0], [len(text)]
    return "".join(pieces), OffsetMap(derived, source)


def _leet_token(match: re.Match[str]) -> str:
    token = match.group()
    if token.isdigit() or not any("a" <= c <= "z" for c in token) or _QUANTITY.fullmatch(token):
        return token
    return token.translate(_LEET)


def _delete(text: str, ranges: Sequence[tuple[int, int]], parent: OffsetMap | None) -> tuple[str, OffsetMap]:
    pieces: list[str] = []
    derived = [0]
    source = [0]
    pos = 0
    length = 0
    for a, b in ranges:
        pieces.append(text[pos:a])
        length += a - pos
        pos = b
        derived.append(length)
        source.append(b)
    pieces.append(text[pos:])
    return "".join(pieces), OffsetMap(derived, source, parent)


def views(text: str) -> Views:
    """Build the plain and words views of ``text`` (the squashed view is computed when asked for)."""
    plain, plain_map = fold_plain(text)
    leet = _TOKEN.sub(_leet_token, plain) if _LEET_HINT.search(plain) else plain
    ranges: list[tuple[int, int]] = []
    spaced: list[tuple[int, int, int, int]] = []
    for m in _DELETIONS.finditer(leet):
        kind = m.lastgroup
        if kind == "obf":
            ranges.append(m.span())
        elif kind == "spaced":
            base = m.start()
            before = len(ranges)
            ranges.extend((base + s.start(), base + s.end()) for s in _SPACED_SEP.finditer(m.group()))
            spaced.append((m.start(), m.end(), before, len(ranges)))
        else:
            ranges.append((m.start() + 1, m.end()))
    if not ranges:
        return Views(text, plain, plain_map, leet, plain_map, ())
    words, words_map = _delete(leet, ranges, plain_map)
    runs: list[tuple[int, int]] = []
    for start, end, first, last in spaced:
        removed_before = sum(b - a for a, b in ranges[:first])
        removed_inside = sum(b - a for a, b in ranges[first:last])
        runs.append((start - removed_before, end - removed_before - removed_inside))
    return Views(text, plain, plain_map, words, words_map, tuple(runs))


def canonical_term(term: str) -> str:
    """A lexicon term in the words view, separators collapsed to one space (``*`` marks a stem)."""
    stem = term.rstrip().endswith("*")
    body = term.rstrip().rstrip("*")
    words = views(body).words
    key = _SEPARATORS.sub(" ", words).strip()
    return key + "*" if stem else key
