"""Leetspeak undone inside tokens of the plain view: digits and symbols that stand for letters.

A *token* is a run of letters, digits and the symbols below. A token that mixes letters with digits or
symbols is read as leetspeak, after the punctuation around it is set aside (``¡Listo!``, ``(diabetes)``;
an unclosed bracket before leetspeak is a c: ``(0n``), unless it is a quantity (``850mg``, ``10am``,
``3er``), a code (``t3``, ``b6``), letters spaced out by a symbol (``d|i|a|g``: the spaced-letters pass
joins those) or reads as fewer than two letters. A token without letters is read only with a symbol that
no price, phone number or date has (``€ £ ¢ ! ¡ | @``: ``5€`` -> "se"), so times (``10:30``), prices
(``$500``, ``$1,500.00``), phone numbers (``+52 55 1234 5678``) and dates (``24/12``) are never touched.

Symbols: ``0``->o ``3 €``->e ``4 @``->a ``5 $``->s ``7 +``->t ``8``->b ``9``->g ``¢ (``->c ``£``->l,
and several-character units ``|3``->b ``()`` ``[]``->o ``|)``->d ``/\\``->a ``\\/``->v ``|\\/|``->m
``|<``->k ``|2``->r ``><``->x ``|-|``->h. ``1 ! ¡ |`` stand for *i* or *l* (or separate letters,
``diab|etes``):
they become :data:`EITHER` here, for the caller to read both ways and without them.

:func:`undo_leet` keeps every index: a unit's first character becomes its letter and the rest
:data:`FILL`, which the caller deletes with its other deletions.
"""

from __future__ import annotations

import re

__all__ = ["EITHER", "FILL", "undo_leet"]

FILL = "\x00"
EITHER = "ı"  # an i or an l (the lexicon's tolerant patterns read both)
_AMBIGUOUS = EITHER
_SYMBOLS = r"0-9@$€£¢!¡|+()\[\]{}<>/\\"
_TOKEN_CHARS = "a-z\\-" + _SYMBOLS  # a hyphen joins a token ("|-|" is h) but is no symbol
# A letter next to a digit or a symbol — not the punctuation that opens or closes a word ("¡Listo!",
# "(opcional)") unless a digit or a symbol is on its other side.
HINT = re.compile(rf"[a-z][0-9@$€£¢¡|+(\[{{</\\]|[a-z][!)\]}}>][{_TOKEN_CHARS}]|[0-9@$€£¢!|+)\]}}>/\\][a-z]"
                  rf"|[{_TOKEN_CHARS}][¡(\[{{<][a-z]")
_TOKEN_SET = frozenset("abcdefghijklmnopqrstuvwxyz-0123456789@$€£¢!¡|+()[]{}<>/\\")
_UNITS = {
    "|\\/|": "m", "/\\/\\": "m", "\\/\\/": "w", "|\\|": "n", "/\\/": "n",
    "|-|": "h", "]-[": "h", "|3": "b", "!3": "b", "|)": "d", "()": "o", "[]": "o", "{}": "o", "<>": "o",
    "/\\": "a", "\\/": "v",
    "|<": "k", "|2": "r", "><": "x",
}
_UNITS_BY_LENGTH = sorted(_UNITS, key=len, reverse=True)
_UNIT_FIRST = frozenset(u[0] for u in _UNITS)
_UNIT_LAST = frozenset(u[-1] for u in _UNITS)
_SINGLE = {
    "0": "o", "1": _AMBIGUOUS, "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a",
    "$": "s", "€": "e", "£": "l", "¢": "c", "!": _AMBIGUOUS, "¡": _AMBIGUOUS, "|": _AMBIGUOUS, "+": "t",
    "2": "z",
    "(": "c", "[": "c", "{": "c", "<": "c",
}
_LEADING = frozenset("¡([{</\\")
_TRAILING = frozenset("!)]}>/\\")
# "850mg", "10am", "30min", "2x", "1er": a quantity with a unit or an ordinal, not leetspeak ("5ida").
_QUANTITY = re.compile(
    r"\$?\d+(?:[.,]\d+)?(?:mg|mgs|mcg|ug|ml|cc|g|gr|grs|kg|kgs|lb|lbs|ui|iu|u|l|lt|h|hr|hrs|hs|am|pm|min"
    r"|mins|seg|mmhg|lpm|bpm|x|cm|mm|m|km|k|mil|ro|do|er|ra|da|to|vo|mo|no|o|a|st|nd|rd|th|s|sdg|sem|mxn"
    r"|usd|pesos|p|gb|mb|kb)"
)
_SPACED = re.compile(r"[a-z](?:[|/\\+]+[a-z]){2,}")
_HAS_SYMBOL = re.compile(f"[{_SYMBOLS}]")
# Symbols that are no part of a price, a phone number or a date: with one, a token without letters is
# read too ("5€" -> "se", "|)3" -> "de").
_STRONG_SYMBOLS = "€£¢!¡|@"
_STRONG = re.compile(f"[{_STRONG_SYMBOLS}]")
_CANDIDATE = re.compile(rf"[a-z][{_SYMBOLS}]|[{_SYMBOLS}][a-z]"
                        rf"|[{_STRONG_SYMBOLS}][0-9{_STRONG_SYMBOLS}()\[\]]"
                        rf"|[0-9()\[\]][{_STRONG_SYMBOLS}]")
_NUMBER = re.compile(r"[0-9]{4}")
_CODE = re.compile(r"[a-z]+0*[1-9][0-9]*")  # "t3", "b6", "c4", "b12": a code
_OPENING = frozenset("([{<")
_CLOSER = re.compile(r"[)\]}>.?\n]")


def _unit_at(token: str, i: int) -> str | None:
    if token[i] not in _UNIT_FIRST:
        return None
    for unit in _UNITS_BY_LENGTH:
        if token.startswith(unit, i):
            return unit
    return None


def _unit_ends(token: str, end: int) -> bool:
    return token[end - 1] in _UNIT_LAST and any(token.endswith(unit, 0, end) for unit in _UNITS_BY_LENGTH)


def _closed(plain: str, at: int) -> bool:
    """Is the bracket at ``at`` closed later in its sentence (a closer that is no leetspeak unit)?"""
    for m in _CLOSER.finditer(plain, at + 1, at + 80):
        if m.group() in ".?\n":
            return False
        if plain[m.start() - 1] not in "([{<|":
            return True
    return False


def _decode(token: str, units: bool, closed: bool = True) -> str:
    start, end = 0, len(token)
    while start < end and token[start] in _LEADING and (not units or _unit_at(token, start) is None):
        # an opening bracket is punctuation when it is closed or a plain word follows ("(diabetes");
        # before leetspeak with no closer it is a c ("(0n" -> "con")
        rest = token[start + 1:end]
        if start == 0 and not closed and token[0] in _OPENING and _HAS_SYMBOL.search(rest.rstrip("!)]}>")):
            break
        start += 1
    while end > start and token[end - 1] in _TRAILING and not (units and _unit_ends(token, end)):
        end -= 1
    core = token[start:end]
    if not _HAS_SYMBOL.search(core) or _QUANTITY.fullmatch(core) or _SPACED.fullmatch(core):
        return token
    if _NUMBER.search(core):  # "bienvenidos2026", "cita1234": a word and a number, not leetspeak
        return token
    raw = sum("a" <= c <= "z" for c in core)
    if not raw and not _STRONG.search(core) and not any(u in core for u in _UNITS):
        return token  # digits with "$", "+", "/" only: a price, a phone number, a date
    out: list[str] = []
    i = 0
    while i < len(core):
        unit = _unit_at(core, i) if units else None
        if unit is not None:
            out.append(_UNITS[unit] + FILL * (len(unit) - 1))
            i += len(unit)
        else:
            out.append(_SINGLE.get(core[i], core[i]))
            i += 1
    decoded = "".join(out)
    letters = sum(c.isalpha() for c in decoded)  # EITHER is a letter too
    if letters < 2 or (letters == 2 and _CODE.fullmatch(core)):  # "4", "t3", "b6", "c4": codes, not "n0"
        return token
    return token[:start] + decoded + token[end:]


def undo_leet(plain: str, units: bool = True) -> str:
    """``plain`` with leetspeak undone (same length; :data:`FILL` where a unit's tail was, :data:`EITHER`
    for the ambiguous ``1 ! ¡ |``). ``units=False``: several-character units read character by character
    (``|3`` as "le" rather than "b")."""
    pieces: list[str] = []
    done = seen = 0  # copied up to `done`; tokens read up to `seen`
    candidates = _CANDIDATE if any(c in plain for c in "€£¢|@") else HINT
    for m in candidates.finditer(plain):  # widen each candidate to its token
        if m.start() < seen:
            continue
        start, end = m.start(), m.end()
        while start > seen and plain[start - 1] in _TOKEN_SET:
            start -= 1
        while end < len(plain) and plain[end] in _TOKEN_SET:
            end += 1
        seen = end
        token = plain[start:end]
        decoded = _decode(token, units, token[0] not in _OPENING or _closed(plain, start))
        if decoded is not token:
            pieces.append(plain[done:start])
            pieces.append(decoded)
            done = end
    if not pieces:
        return plain
    pieces.append(plain[done:])
    return "".join(pieces)
