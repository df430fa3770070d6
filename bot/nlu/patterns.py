"""Regexes and lookup tables from the training data, compiled for matching on accent-folded text.

Matching runs on :func:`bot.nlu.text.fold_accents` of the original text, which keeps every offset,
so ``cardiologia`` and ``cardiología`` both match and spans index the text the user sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.nlu.text import fold_accents
from bot.nlu.training_data import NamedPatterns, TrainingData


@dataclass(frozen=True)
class CompiledPattern:
    name: str
    source: str
    regex: re.Pattern[str]


def lookup_regex(elements: Iterable[str], *, word_boundaries: bool) -> str:
    """One alternation over the (accent-folded, escaped) elements, longest first."""
    folded = sorted({fold_accents(e.strip()) for e in elements if e.strip()}, key=lambda e: (-len(e), e))
    body = "|".join(re.escape(e) for e in folded)
    if not body:
        return r"(?!x)x"
    return rf"(?<!\w)(?:{body})(?!\w)" if word_boundaries else f"(?:{body})"


def pattern_sources(
    data: TrainingData,
    *,
    use_regexes: bool,
    use_lookup_tables: bool,
    use_word_boundaries: bool,
    names: set[str] | None = None,
) -> list[tuple[str, str]]:
    """(name, regex source) pairs, one per ``regex:`` and ``lookup:`` block, optionally only ``names``."""
    sources: list[tuple[str, str]] = []
    blocks: list[tuple[NamedPatterns, bool]] = []
    if use_regexes:
        blocks.extend((block, False) for block in data.regexes)
    if use_lookup_tables:
        blocks.extend((block, True) for block in data.lookups)
    for block, is_lookup in blocks:
        if names is not None and block.name not in names:
            continue
        if is_lookup:
            sources.append((block.name, lookup_regex(block.patterns, word_boundaries=use_word_boundaries)))
        else:
            sources.append((block.name, "|".join(f"(?:{fold_accents(p)})" for p in block.patterns)))
    return sources


def compile_patterns(sources: Iterable[tuple[str, str]], *, case_sensitive: bool) -> list[CompiledPattern]:
    flags = 0 if case_sensitive else re.IGNORECASE
    return [CompiledPattern(name, source, re.compile(source, flags)) for name, source in sources]
