"""Canonical views of an outbound message, each with a map back to the original text.

Obfuscation is undone here so the detector can stay a plain lexicon/regex matcher:

* ``plain``: compatibility-folded (NFKD: fullwidth, ligatures, math letters), accents and other combining
  marks stripped, zero-width / format characters removed, case-folded, lookalikes from other scripts and
  from the Latin extensions mapped to Latin letters with Unicode's UTS #39 confusable data
  (:mod:`bot.guard.confusables`: Cyrillic, Greek, Armenian, Cherokee, IPA ``ɑ``, small capitals ``ᴅɪᴀ``).
  Digits and punctuation are kept, so values and doses (``180 mg/dl``) survive.
* ``words``: ``plain`` plus leetspeak undone inside tokens that mix letters with digits or symbols
  (``d1agn0stico``, ``d!abet€s``, ``|3ipolar``; :mod:`bot.guard.leet`), obfuscating characters inside
  words removed (``diab*tes``), spaced-out letters joined (``d i a g n o s t i c o``, ``v.i.h``) and runs
  of a repeated letter reduced to one (``diaaabetes``). ``1 ! ¡ |`` and lookalikes of both I and l are ``ı``
  there (the lexicon's tolerant patterns read it as either letter); ``alternates`` hold the reading
  without them (``diab|etes``). Lexicon terms are normalised
  through the same function, so both sides always agree.
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

from bot.guard.confusables import DROP_CATEGORIES as _DROP_CATEGORIES
from bot.guard.confusables import fold_char as _fold_char
from bot.guard.confusables import i_or_l
from bot.guard.leet import EITHER, undo_leet

__all__ = ["OffsetMap", "Views", "cached_views", "canonical_term", "fold_plain", "views"]

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
# An ASCII I next to a lower-case letter ("cIinica", "Ie") or an l in a word in capitals ("DlABETES").
_CONSONANTS = frozenset("bcdfghjkmnpqrstvwxz")
_L_NEXT_TO_CAPITAL = re.compile(r"[A-Z]l|l[A-Z]")
_BEYOND_LATIN1 = re.compile(r"[^\x00-\xff]")
_FILL = re.compile("\x00+")
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
    # Other readings of the words view (ambiguous leetspeak: "1 ! ¡ |" as "l", or as separators), each
    # with its map to the original; the detector looks them up in the lexicon too.
    alternates: tuple[tuple[str, OffsetMap | None], ...] = ()
    decoded: bool = False  # leetspeak was undone somewhere (values are then read in the words view too)

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


class _FoldTable(dict[int, int | str]):
    """A ``str.translate`` table filled on first sight of each code point: its one-character folding,
    or itself when the folding is not one character (the per-character path handles it). Bounded."""

    def __missing__(self, cp: int) -> int | str:
        folded = _fold_char(chr(cp))
        value: int | str = folded if len(folded) == 1 else cp
        if len(self) < 65536:
            self[cp] = value
        return value


_TABLE = _FoldTable()


def fold_plain(text: str) -> tuple[str, OffsetMap | None]:
    """The plain view and its map (``None`` when indices are unchanged)."""
    if text.isascii():
        return text.lower(), None
    folded = text.translate(_TABLE)
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
    lookalikes = _i_or_l_positions(text, plain, plain_map)
    decoded = undo_leet(plain)
    leet = _mark(decoded, lookalikes)
    words, words_map, runs = _words(leet, plain_map)
    made = Views(text, plain, plain_map, words, words_map, runs, decoded=leet is not plain)
    alternates: list[tuple[str, OffsetMap | None]] = []
    if EITHER in words:  # without the characters drawn as both i and l, for when they separate letters
        positions = [i for i, c in enumerate(words) if c == EITHER]
        alternates.append(_delete(words, [(p, p + 1) for p in positions], words_map))
    if "\x00" in leet:  # several-character leetspeak read character by character ("|3" as "le")
        other, other_map, _ = _words(_mark(undo_leet(plain, units=False), lookalikes), plain_map)
        alternates.append((other, other_map))
    made.alternates = tuple(alternates)
    return made


def _mark(leet: str, positions: Sequence[int]) -> str:
    if not positions:
        return leet
    chars = list(leet)
    for p in positions:
        chars[p] = EITHER
    return "".join(chars)


def _words(
    leet: str, plain_map: OffsetMap | None
) -> tuple[str, OffsetMap | None, tuple[tuple[int, int], ...]]:
    """The words view made from the plain view with leetspeak undone: obfuscating characters, spaced-out
    letters' separators and repeated letters removed; its map and its spaced-out runs."""
    ranges: list[tuple[int, int]] = []
    spaced: list[tuple[int, int, int, int]] = []
    matches = list(_DELETIONS.finditer(leet))
    if "\x00" in leet:  # the tails of leetspeak units ("|3" -> "b"): deleted with the rest, in order
        matches = sorted([*matches, *_FILL.finditer(leet)], key=lambda m: m.start())
    for m in matches:
        kind = m.lastgroup
        if kind in ("obf", None):
            ranges.append(m.span())
        elif kind == "spaced":
            base = m.start()
            before = len(ranges)
            ranges.extend((base + s.start(), base + s.end()) for s in _SPACED_SEP.finditer(m.group()))
            spaced.append((m.start(), m.end(), before, len(ranges)))
        else:
            ranges.append((m.start() + 1, m.end()))
    if not ranges:
        return leet, plain_map, ()
    words, words_map = _delete(leet, ranges, plain_map)
    runs: list[tuple[int, int]] = []
    for start, end, first, last in spaced:
        removed_before = sum(b - a for a, b in ranges[:first])
        removed_inside = sum(b - a for a, b in ranges[first:last])
        runs.append((start - removed_before, end - removed_before - removed_inside))
    return words, words_map, tuple(runs)


def _i_or_l_positions(text: str, plain: str, plain_map: OffsetMap | None) -> list[int]:
    """Plain-view positions of characters drawn like both I and l (read both ways by the detector)."""
    found: list[int] = []
    at = text.find("I")
    while at != -1:
        before, after = text[at - 1:at], text[at + 1:at + 2]
        if before.islower() or (after.islower() and not (not before.isalpha() and after in _CONSONANTS)):
            found.append(at)  # in a lower-case word ("cIinica"), or "Ie", "Iexapro"; not "Insurgentes"
        at = text.find("I", at + 1)
    at = text.find("l") if _L_NEXT_TO_CAPITAL.search(text) else -1
    while at != -1:  # an l in a word in capitals: "DlABETES", "lNSULINA", "ALCOHOl"
        before, after = text[max(0, at - 2):at], text[at + 1:at + 3]
        if ((before[-1:].isupper() and after[:1].isupper())
                or (after.isalpha() and after.isupper() and len(after) == 2 and not before[-1:].isalpha())
                or (before.isalpha() and before.isupper() and len(before) == 2 and not after[:1].isalpha())):
            found.append(at)
        at = text.find("l", at + 1)
    if not text.isascii() and max(text) > "\xff":
        found += [m.start() for m in _BEYOND_LATIN1.finditer(text) if i_or_l(m.group())]
    positions = []
    for i in found:
        mapped = _from_source(plain_map, i)
        if mapped is not None and plain[mapped:mapped + 1] in ("i", "l"):
            positions.append(mapped)
    return positions


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


def canonical_term(term: str) -> str:
    """A lexicon term in the words view, separators collapsed to one space (``*`` marks a stem)."""
    stem = term.rstrip().endswith("*")
    body = term.rstrip().rstrip("*")
    words = views(body).words.replace(EITHER, "i")
    key = _SEPARATORS.sub(" ", words).strip()
    return key + "*" if stem else key
