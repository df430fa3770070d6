"""What an outbound text may not carry, whatever it says: the gate's checks besides clinical content.

* ``bidi``: a bidirectional control (U+202A-202E embeddings and overrides, U+2066-2069 isolates,
  U+200E/200F marks, U+061C) in any outbound text, from anyone. A right-to-left override shows
  ``setebaid`` as "diabetes", and a clinic's Spanish never needs one: refused, never interpreted.
* ``invisible``: text hidden from the reader — Unicode tag characters outside an emoji flag sequence,
  variation selectors of the supplement, or a run of four or more invisible format characters
  (zero-width steganography). Single zero-width characters inside words are only dropped by the
  normaliser (the words they hide are still read).
* ``script`` (staff only): a person in the inbox writes to a Mexican clinic's patients in the Latin
  script. Letters of any other script (Cyrillic, Greek, Armenian, Cherokee, CJK, Arabic ...) are
  refused, and the category says so. Latin letters with any accent, digits, punctuation, symbols, emoji
  and the combining marks of the Latin script pass; so do Latin letters in styled forms that fold to
  ASCII (fullwidth, mathematical bold), which the normaliser reads anyway.
* ``link``: see :mod:`bot.guard.links` — a file-sharing site or a link shortener from anyone, any link
  but the clinic's own from staff.

Each check returns spans of the original text, like the detector.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.guard.detector import Span
from bot.guard.links import LinkPolicy, find_links
from bot.guard.normalise import Views

__all__ = ["BIDI", "INVISIBLE", "LINK", "SCREEN_CATEGORIES", "SCRIPT", "screen"]

BIDI = "bidi"
INVISIBLE = "invisible"
SCRIPT = "script"
LINK = "link"
SCREEN_CATEGORIES = (BIDI, INVISIBLE, SCRIPT, LINK)

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_TAGS = re.compile("[\U000e0000-\U000e007f]")
_FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")
_HIDDEN = re.compile(
    "[\U000e0100-\U000e01ef]+"
    "|[\u200b-\u200d\u2060-\u2064\ufeff\u00ad\u180e\u034f\ufe00-\ufe0f\u115f\u1160\u3164\uffa0]{4,}"
)
_BEYOND_LATIN = re.compile("[^\x00-\u024f]")
_LATIN_MARKS = ((0x300, 0x36F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE00, 0xFE0F),
                (0xFE20, 0xFE2F), (0xE0100, 0xE01EF))


@lru_cache(maxsize=4096)
def latin_ok(ch: str) -> bool:
    """May a member of staff write ``ch`` to a patient (Latin script, or no script at all)?"""
    cp = ord(ch)
    if cp <= 0x24F:  # ASCII, Latin-1, Latin Extended-A/B
        return True
    category = unicodedata.category(ch)
    group = category[0]
    if group in "PSZ" or category in ("Cf", "Cc"):
        return True  # punctuation, symbols, emoji, spaces; format characters are screened apart
    if group == "M":
        return any(lo <= cp <= hi for lo, hi in _LATIN_MARKS)
    decomposed = unicodedata.normalize("NFKD", ch)
    if group == "N":
        return decomposed.isascii()
    if group == "L":
        name = unicodedata.name(ch, "")
        return ("LATIN" in name.split() or 0x2B0 <= cp <= 0x2FF or 0x1D00 <= cp <= 0x1DBF
                or (decomposed.isascii() and decomposed.isalpha()))
    return False


def _runs(text: str, positions: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for p in positions:
        if runs and runs[-1][1] == p:
            runs[-1] = (runs[-1][0], p + 1)
        else:
            runs.append((p, p + 1))
    return runs


def screen(text: str, v: Views, *, staff: bool, links: LinkPolicy) -> list[Span]:
    """Spans of ``text`` (views ``v``) that the gate refuses besides clinical content."""
    spans: list[Span] = []
    if not text.isascii():
        spans.extend(Span(m.start(), m.end(), BIDI, "bidi control") for m in _BIDI.finditer(text))
        if _TAGS.search(text):
            flags = [m.span() for m in _FLAG.finditer(text)]
            spans.extend(
                Span(m.start(), m.end(), INVISIBLE, "tag character")
                for m in _TAGS.finditer(text)
                if not any(a <= m.start() < b for a, b in flags)
            )
        spans.extend(Span(m.start(), m.end(), INVISIBLE, "hidden characters") for m in _HIDDEN.finditer(text))
        if staff:
            foreign = [m.start() for m in _BEYOND_LATIN.finditer(text) if not latin_ok(m.group())]
            spans.extend(Span(a, b, SCRIPT, "not the Latin script") for a, b in _runs(text, foreign))
    for link in find_links(v.plain):
        if links.refused(link, staff=staff):
            start, end = v.plain_span(link.start, link.end)
            spans.append(Span(start, end, LINK, link.host))
    return spans
