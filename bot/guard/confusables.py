"""Confusable folding: the plain-view spelling of one character, from Unicode's UTS #39 data.

``data/confusables.txt`` is Unicode's own file (Unicode Security Mechanisms, UTS #39; see
``data/README.md`` for its version and licence), shipped verbatim. Its prototypes (the *skeleton*
mapping: ``Ꭰ`` -> ``D``, ``ɑ`` -> ``a``, ``օ`` -> ``o``, ``𝐝`` -> ``d``) are read once, lazily, and cached.
:func:`fold_char` spells one character of an outbound message the way the detector reads it:

1. compatibility decomposition and case folding (NFKD: fullwidth, mathematical alphanumerics, circled and
   parenthesised letters, ligatures, superscripts), combining marks and format characters dropped —
   so ``á é í ó ú ñ ü`` read as the Spanish letters ``a e i o u n u``;
2. a lookalike from another script or from the Latin extensions is replaced by its UTS #39 prototype
   (Cyrillic, Greek, Armenian, Cherokee, Lisu, Coptic, IPA, ...), folded again;
3. what UTS #39 leaves as a Latin lookalike of its own (small capitals ``ᴅ ɪ ᴀ ʙ ᴇ ᴛ``, turned and
   reversed letters, letters with a stroke or a hook, regional indicators) reads as its base letter,
   taken from the character's Unicode name;
4. a few lowercase Greek and Cyrillic letters whose UTS #39 prototype is not a plain Latin letter (``в``
   -> ``ʙ``, ``κ`` -> ``ĸ``, ``β`` -> ``ß``) keep the Latin reading of the project's earlier table.

ASCII is never remapped (UTS #39 maps ``m`` to ``rn`` and ``1`` to ``l``: leetspeak is undone per token
elsewhere), and neither is Latin-1 (``¡ ¿ º ª ° ·`` keep their Spanish meaning). A symbol or punctuation
mark is replaced only when its prototype is an ASCII letter or digit (``ǀ`` -> ``l``), never by a letter
reached through the name (``€`` stays ``€``, for leetspeak).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

__all__ = ["DATA_FILE", "fold_char", "i_or_l", "prototypes"]

DATA_FILE = Path(__file__).resolve().parent / "data" / "confusables.txt"
DROP_CATEGORIES = frozenset({"Mn", "Me", "Mc", "Cf"})

# Lowercase letters whose UTS #39 prototype is not a plain Latin letter (or that the project always read
# this way): checked before the Unicode data.
_OVERRIDES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ӏ": "l", "ɡ": "g", "ь": "b", "п": "n", "г": "r", "и": "u", "ћ": "h", "ђ": "h",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k", "λ": "l",
    "μ": "u", "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "ς": "s", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    "π": "n",
    # Latin oddities
    "ı": "i", "ȷ": "j", "ℓ": "l", "ſ": "f", "ƒ": "f", "ĸ": "k", "ð": "d",
}
_NAMED_LETTER = re.compile(
    r"(?:\bLATIN|^REGIONAL INDICATOR SYMBOL)(?: SMALL| CAPITAL)? LETTER "
    r"(?:(?:SMALL CAPITAL|DOTLESS|TURNED|REVERSED|INVERTED|SCRIPT|CLOSED|OPEN|BARRED|LONG|SIDEWAYS|STRETCHED"
    r"|BELTED|HALF|FINAL|LENIS|BROKEN|INSULAR|VISIGOTHIC|MIDDLE-WELSH|BOTTOM HALF|TOP HALF) )*"
    r"([A-Z])(?: WITH .*)?$"
)
_SMALL_CAPITAL = re.compile(r"^LATIN LETTER SMALL CAPITAL ([A-Z])$")
_CAPITAL_I = re.compile(r"(?: I|IOTA|CAPITAL LETTER [A-Z-]*\bI)$")
_MAX_DEPTH = 4


@cache
def prototypes() -> dict[str, str]:
    """UTS #39 prototypes: one source character -> its skeleton (read once from the shipped file)."""
    table: dict[str, str] = {}
    for line in DATA_FILE.read_text(encoding="utf-8-sig").splitlines():
        body = line.partition("#")[0].strip()
        if not body:
            continue
        source, target, _kind = (part.strip() for part in body.split(";", 2))
        table[chr(int(source, 16))] = "".join(chr(int(cp, 16)) for cp in target.split())
    return table


def _ascii_alnum(text: str) -> bool:
    return bool(text) and text.isascii() and text.isalnum()


def _fold(c: str, depth: int) -> str:
    """The plain spelling of one code point that NFKD leaves alone (``c`` is not decomposable)."""
    if c.isascii():
        return c.lower()
    category = unicodedata.category(c)
    if category in DROP_CATEGORIES:
        # a spacing mark drawn as a letter (Malayalam, Sinhala anusvara: "o") reads as that letter
        proto = prototypes().get(c) if category == "Mc" else None
        return proto if proto is not None and _ascii_alnum(proto) else ""
    found = _OVERRIDES.get(c)
    if found is not None:
        return found
    if category[0] == "L":
        small_capital = _SMALL_CAPITAL.search(unicodedata.name(c, ""))
        if small_capital is not None:  # UTS #39 reads some as another letter (ᴍ -> ʍ)
            return small_capital.group(1).lower()
    if depth < _MAX_DEPTH and (ord(c) > 0xFF or category[0] == "L"):  # not Latin-1 punctuation (¡ ¿ ·)
        proto = prototypes().get(c)
        if proto is not None:
            if category[0] in "LN":
                mapped = _fold_text(proto, depth + 1)
                if mapped == "l" and _CAPITAL_I.search(unicodedata.name(c, "")):
                    return "i"  # UTS #39 maps I to l: an I-lookalike (Greek Iota, Cyrillic I) reads as i
                lower = c.casefold()
                if _ascii_alnum(mapped) or lower == c:
                    return mapped
                alt = _fold_text(lower, depth + 1)  # Cherokee small letters fold to the capitals
                return alt if _ascii_alnum(alt) else mapped
            direct = unicodedata.normalize("NFKD", proto).lower()
            direct = "".join(x for x in direct if unicodedata.category(x) not in DROP_CATEGORIES)
            if _ascii_alnum(direct):
                return direct
    lower = c.casefold()
    if lower != c and depth < _MAX_DEPTH:
        return _fold_text(lower, depth + 1)
    if category[0] == "L" or category == "So":
        named = _NAMED_LETTER.search(unicodedata.name(c, ""))
        if named is not None:
            return named.group(1).lower()
    return c


def _fold_text(text: str, depth: int) -> str:
    return "".join(_fold(c, depth) for c in unicodedata.normalize("NFKD", text))


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """The plain-view spelling of one character (possibly empty, or several characters)."""
    if ch.isascii():
        return ch.lower()
    if ch in _OVERRIDES:
        return _OVERRIDES[ch]
    if ord(ch) > 0xFF and ch in prototypes():
        decomposed = unicodedata.normalize("NFKD", ch)
        if not (decomposed[:1].isascii() and decomposed[:1].isalnum()):
            return _fold(ch, 0)  # e.g. U+037A decomposes to a space and a mark, UTS #39 reads it as i
    return _fold_text(ch, 0)


@lru_cache(maxsize=4096)
def i_or_l(ch: str) -> bool:
    """Is ``ch`` (not ASCII) drawn like both ``I`` and ``l`` (UTS #39 skeleton ``l``: Greek Iota, Cyrillic
    I and palochka, fullwidth or mathematical I, the dental click ``ǀ``)? The detector reads it both ways."""
    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed in ("I", "l"):
        return True
    table = prototypes()
    return table.get(ch) == "l" or (len(decomposed) == 1 and table.get(decomposed) == "l")
