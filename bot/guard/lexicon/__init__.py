"""The clinical lexicon: YAML term lists next to this file, compiled into one trie-shaped regex.

Each YAML file holds either ``category`` + ``terms`` or ``groups: {kind: [terms]}``. A *kind* is a
blocked category (``diagnosis``, ``medication`` ...) or an internal one the detector combines
(``result_strong``, ``result_a``, ``result_b``, ``cue_strong``, ``cue_verb``, ``link``). Terms are
normalised with :func:`bot.guard.normalise.canonical_term`, exactly as messages are, so obfuscated
spellings in a message meet the plain spelling in the list. A trailing ``*`` matches any word ending.

All term lists are original work written for this project (see each file's header).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError
from bot.guard.normalise import canonical_term

__all__ = [
    "BLOCK_KINDS",
    "INTERNAL_KINDS",
    "CompiledLexicon",
    "builtin_terms",
    "compile_lexicon",
    "trie_pattern",
]

LEXICON_DIR = Path(__file__).resolve().parent
FILES = (
    "diagnoses.yml", "medications.yml", "treatment.yml", "imaging.yml", "abbreviations.yml", "results.yml",
)
BLOCK_KINDS = frozenset(
    {"diagnosis", "medication", "treatment", "progress", "imaging_result", "abbreviation", "lab_result",
     "clinical_value"}
)
INTERNAL_KINDS = frozenset({"result_strong", "result_a", "result_b", "cue_strong", "cue_verb", "link"})
# Kinds whose long terms are also searched with every non-letter removed ("diab etes").
SQUASH_KINDS = frozenset({"diagnosis", "medication", "treatment", "progress", "imaging_result"})
SQUASH_MIN = 8
PREFIX_MIN = 4

_SEP = "[^a-z0-9]{1,4}"
_SEP_RE = re.compile(r"[^a-z0-9]+")
_STEM = object()


def _read(path: Path) -> dict[str, list[str]]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read the lexicon: {e}") from e
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a lexicon file must be a mapping")
    groups = data["groups"] if "groups" in data else {data.get("category"): data.get("terms")}
    if not isinstance(groups, Mapping):
        raise ConfigError(f"{path}: 'groups' must map a kind to a list of terms")
    out: dict[str, list[str]] = {}
    for kind, terms in groups.items():
        if kind not in BLOCK_KINDS and kind not in INTERNAL_KINDS:
            raise ConfigError(f"{path}: unknown kind {kind!r}")
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise ConfigError(f"{path}: {kind}: terms must be a list of non-empty strings")
        out[str(kind)] = list(terms)
    return out


@cache
def builtin_terms() -> Mapping[str, tuple[str, ...]]:
    """The built-in term lists by kind, read once."""
    merged: dict[str, list[str]] = {}
    for name in FILES:
        for kind, terms in _read(LEXICON_DIR / name).items():
            merged.setdefault(kind, []).extend(terms)
    return {kind: tuple(terms) for kind, terms in merged.items()}


def trie_pattern(keys: Iterable[str]) -> str:
    """A regex alternation shaped as a prefix trie (fast in ``re``: one branch per next character).

    Keys are canonical terms: ``a-z0-9``, single spaces (any short run of separators) and an optional
    trailing ``*`` (any word ending).
    """
    root: dict[Any, Any] = {}
    for key in keys:
        node = root
        stem = key.endswith("*")
        for ch in key.rstrip("*"):
            node = node.setdefault(ch, {})
        node[_STEM if stem else ""] = {}
    return _emit(root)


def _emit(node: dict[Any, Any]) -> str:
    alternatives: list[str] = []
    terminal = False
    for atom in sorted((k for k in node if isinstance(k, str)), key=lambda k: (k == "", k)):
        if atom == "":
            terminal = True
            continue
        head = _SEP if atom == " " else re.escape(atom)
        alternatives.append(head + _emit(node[atom]))
    if _STEM in node:  # the stem also matches the empty ending, so "terminal" needs no "?"
        alternatives.append("[a-z]*")
        return "(?:" + "|".join(alternatives) + ")"
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    if terminal:
        return f"(?:{body})?" if len(alternatives) == 1 else body + "?"
    return body


@dataclass(frozen=True)
class CompiledLexicon:
    """Lexicon terms ready for matching over the words view."""

    pattern: re.Pattern[str]
    exact: Mapping[str, tuple[str, ...]]
    stems: Mapping[str, tuple[str, ...]]
    max_stem: int
    squashed_pattern: re.Pattern[str] | None
    squashed_keys: Mapping[str, tuple[str, ...]]
    prefixes: frozenset[str]
    link: frozenset[str]

    def lookup(self, matched: str) -> tuple[str, tuple[str, ...]]:
        """The canonical key and kinds of a regex match (``("", ())`` if nothing is known)."""
        key = _SEP_RE.sub(" ", matched).strip()
        kinds = self.exact.get(key)
        if kinds is not None:
            return key, kinds
        for length in range(min(len(key), self.max_stem), 0, -1):
            kinds = self.stems.get(key[:length])
            if kinds is not None:
                return key[:length] + "*", kinds
        return "", ()

    def squashed_lookup(self, matched: str) -> tuple[str, tuple[str, ...]]:
        return matched, self.squashed_keys.get(matched, ())


def _add(table: dict[str, tuple[str, ...]], key: str, kind: str) -> None:
    kinds = table.get(key, ())
    if kind not in kinds:
        table[key] = (*kinds, kind)


def compile_lexicon(extra: Mapping[str, Iterable[str]] | None = None) -> CompiledLexicon:
    """Compile the built-in lists plus ``extra`` terms (kind -> terms), e.g. the clinic's own."""
    exact: dict[str, tuple[str, ...]] = {}
    stems: dict[str, tuple[str, ...]] = {}
    squashed: dict[str, tuple[str, ...]] = {}
    prefixes: set[str] = set()
    link: set[str] = set()
    sources: list[tuple[str, Iterable[str]]] = list(builtin_terms().items())
    sources.extend((extra or {}).items())
    for kind, terms in sources:
        for term in terms:
            key = canonical_term(term)
            if not key.rstrip("*"):
                continue
            if kind == "link":
                link.add(key)
                continue
            if key.endswith("*"):
                _add(stems, key[:-1], kind)
            else:
                _add(exact, key, kind)
            if kind in BLOCK_KINDS:
                flat = key.rstrip("*").replace(" ", "")
                if kind in SQUASH_KINDS and len(flat) >= SQUASH_MIN and flat.isalpha():
                    _add(squashed, flat, kind)
                prefixes.update(flat[:n] for n in range(PREFIX_MIN, len(flat) + 1))
    keys = [*exact, *(s + "*" for s in stems)]
    pattern = re.compile(r"(?<![a-z0-9])" + trie_pattern(keys) + r"(?![a-z0-9])")
    squashed_pattern = re.compile(trie_pattern(squashed)) if squashed else None
    return CompiledLexicon(
        pattern=pattern,
        exact=exact,
        stems=stems,
        max_stem=max((len(s) for s in stems), default=0),
        squashed_pattern=squashed_pattern,
        squashed_keys=squashed,
        prefixes=frozenset(prefixes),
        link=frozenset(link),
    )
