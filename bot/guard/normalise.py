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
import threading
import unicodedata
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

__all__ = ["OffsetMap", "Views", "cached_views", "canonical_term", "fold_plain", "join_views", "views"]

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
_LETTERS = re.compile(r"[a-z]+")
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


def _unsquash(index: list[list[int]], i: int) -> int:
    """The words-view index of squashed-view index ``i``."""
    squashed_starts, word_starts = index
    k = bisect_right(squashed_starts, i) - 1
    return word_starts[k] + (i - squashed_starts[k])


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
    _squashed: tuple[str, list[list[int]]] | None = field(default=None, repr=False)

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
            # One entry per run of letters: (its start in the squashed view, its start in words).
            runs = [(m.start(), m.end()) for m in _LETTERS.finditer(self.words)]
            squashed_starts: list[int] = []
            at = 0
            for a, b in runs:
                squashed_starts.append(at)
                at += b - a
            index = [squashed_starts, [a for a, _ in runs]]
            self._squashed = (text, index)
        return self.words_span(_unsquash(index, start), _unsquash(index, end - 1) + 1)

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


class ViewsCache:
    """views() of texts the gate sees again and again: each outbound message (read again as part of the
    recent messages), repeated templates. Bounded LRU, thread-safe; holds outbound texts only (already in
    the tracker), never inbound patient text."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._data: OrderedDict[str, Views] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> Views:
        with self._lock:
            found = self._data.get(text)
            if found is not None:
                self._data.move_to_end(text)
                return found
        made = views(text)
        with self._lock:
            self._data[text] = made
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return made

    def peek(self, text: str) -> Views | None:
        """The cached views of ``text``, or ``None`` (never computes)."""
        with self._lock:
            return self._data.get(text)

    def cache_clear(self) -> None:
        with self._lock:
            self._data.clear()


cached_views = ViewsCache()

# A spaced-out run ("d i a g") could cross the space that joins two texts when the first ends with a
# one-letter word and the second starts with one; then the joined text gets its own views.
_SPACED_END = re.compile(r"(?<![a-z0-9])[a-z][\s.\-_*·/|,'~]{0,2}\Z")
_SPACED_START = re.compile(r"[\s.\-_*·/|,'~]{0,2}[a-z](?![a-z0-9])")


def _segments(offsets: OffsetMap | None) -> tuple[list[int], list[int]]:
    return ([0], [0]) if offsets is None else (offsets._derived, offsets._source)


def _concat(
    a: OffsetMap | None, a_len: int, a_source_len: int, b: OffsetMap | None, parent: OffsetMap | None
) -> OffsetMap | None:
    """The map of ``a_view + " " + b_view`` onto ``a_source + " " + b_source``."""
    if a is None and b is None and parent is None:
        return None
    da, sa = _segments(a)
    db, sb = _segments(b)
    derived = [*da, a_len, *(d + a_len + 1 for d in db)]
    source = [*sa, a_source_len, *(s + a_source_len + 1 for s in sb)]
    return OffsetMap(derived, source, parent)


def _local_words_map(v: Views) -> OffsetMap | None:
    """The words -> plain part of ``v.words_map`` (``None`` when words and plain have equal indices)."""
    return None if v.words_map is v.plain_map else v.words_map


def join_views(a: Views, b: Views) -> Views | None:
    """The views of ``a.original + " " + b.original`` assembled from the views of the two parts.

    Folding is per character, leetspeak per token and the deletions never cross a space, except a
    spaced-out run of one-letter words: when one could cross the join this returns ``None`` and the
    caller builds ``views()`` of the joined text instead. Otherwise the result is what the detector would
    see in each part alone, side by side, so the second part's matches are the same as its own.
    """
    if _SPACED_END.search(a.plain[-6:]) and _SPACED_START.match(b.plain):
        return None
    if a.plain_map is None and b.plain_map is None:
        plain_map = None
    else:
        plain_map = _concat(a.plain_map, len(a.plain), len(a.original), b.plain_map, None)
    local_a, local_b = _local_words_map(a), _local_words_map(b)
    if local_a is None and local_b is None:
        words_map = plain_map
    else:
        words_map = _concat(local_a, len(a.words), len(a.plain), local_b, plain_map)
    shift = len(a.words) + 1
    return Views(
        f"{a.original} {b.original}",
        f"{a.plain} {b.plain}",
        plain_map,
        f"{a.words} {b.words}",
        words_map,
        (*a.spaced_runs, *((s + shift, e + shift) for s, e in b.spaced_runs)),
        (a.squashed() + b.squashed(), []),  # letters only: the join's space disappears
    )


def _from_source(offsets: OffsetMap | None, index: int) -> int | None:
    """The derived index that one level of ``offsets`` maps onto source ``index`` (None if deleted)."""
    if offsets is None:
        return index
    derived, source = offsets._derived, offsets._source
    k = bisect_right(source, index) - 1
    if k < 0:
        return None
    at = derived[k] + (index - source[k])
    if k + 1 < len(derived) and at >= derived[k + 1]:
        return None
    return at


def _slice_map(
    offsets: OffsetMap | None, at: int, source_at: int, parent: OffsetMap | None
) -> OffsetMap | None:
    """The map of ``view[at:]`` onto ``source[source_at:]``."""
    if offsets is None and parent is None:
        return None
    derived, source = _segments(offsets)
    k = max(bisect_right(derived, at) - 1, 0)
    return OffsetMap(
        [0, *(d - at for d in derived[k + 1:])],
        [source[k] + (at - derived[k]) - source_at, *(s - source_at for s in source[k + 1:])],
        parent,
    )


def tail_views(v: Views, start: int) -> Views | None:
    """The views of ``v.original[start:]`` cut out of ``v`` (``start`` right after a space), or ``None``
    when the normalisation of ``v`` crosses the cut (a spaced-out run through that space, or leetspeak
    undone because of a token before it); the caller then builds ``views()`` of the tail instead."""
    if start == 0:
        return v
    if not 0 < start <= len(v.original) or v.original[start - 1] != " ":
        return None
    space = _from_source(v.plain_map, start - 1)
    if space is None or v.plain[space:space + 1] != " ":
        return None
    local = _local_words_map(v)
    word_space = _from_source(local, space)
    if word_space is None or v.words[word_space:word_space + 1] != " ":
        return None
    plain = v.plain[space + 1:]
    if not _LEET_HINT.search(plain) and _LEET_HINT.search(v.plain, 0, space + 1):
        return None
    plain_map = None if v.plain_map is None else _slice_map(v.plain_map, space + 1, start, None)
    cut = word_space + 1
    words_map = plain_map if local is None else _slice_map(local, cut, space + 1, plain_map)
    return Views(
        v.original[start:],
        plain,
        plain_map,
        v.words[cut:],
        words_map,
        tuple((a - cut, b - cut) for a, b in v.spaced_runs if a >= cut),
    )


def canonical_term(term: str) -> str:
    """A lexicon term in the words view, separators collapsed to one space (``*`` marks a stem)."""
    stem = term.rstrip().endswith("*")
    body = term.rstrip().rstrip("*")
    words = views(body).words
    key = _SEPARATORS.sub(" ", words).strip()
    return key + "*" if stem else key
