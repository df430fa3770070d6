"""Text normalisation used for featurisation only.

Entity offsets always refer to the original text: functions that change lengths (:func:`normalise`)
feed the featurizers, while :func:`fold_accents` keeps a one-to-one character mapping so regex and
lookup matches found on the folded text are valid offsets into the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Featurisation looks at most at this many characters (long messages are truncated, offsets stay valid).
FEATURE_CHAR_LIMIT = 1000
#: Entity extraction looks at most at this many characters.
ENTITY_CHAR_LIMIT = 4000

_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_WHITESPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char)
    if len(decomposed) > 1 and not unicodedata.combining(decomposed[0]):
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if len(base) == 1:
            return base
    return char


def fold_accents(text: str) -> str:
    """Strip diacritics character by character; the result has exactly the length of ``text``."""
    if text.isascii():
        return text
    return "".join(_fold_char(c) for c in text)


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") and char not in "\t\n\r"


def strip_controls(text: str) -> str:
    """Drop control, format, surrogate and unassigned characters (keeps tab/newline as whitespace)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(" " if c in "\t\n\r" else c for c in text if not _is_control(c))


def squeeze_repeats(text: str) -> str:
    """Collapse a letter repeated three or more times: ``holaaa`` → ``hola`` (``llegar``/``leer`` kept)."""
    return _REPEATS.sub(r"\1", text)


def normalise(text: str, *, lowercase: bool = True) -> str:
    """Featurisation form: NFKC, no control characters, accents stripped, repeats and spaces squeezed."""
    text = unicodedata.normalize("NFKC", text[:FEATURE_CHAR_LIMIT])
    text = strip_controls(text)
    if lowercase:
        text = text.lower()
    text = fold_accents(text)
    text = squeeze_repeats(text)
    return _WHITESPACE.sub(" ", text).strip()
