"""The clinical lexicon: YAML term lists next to this file, compiled into one trie-shaped regex.

Each YAML file holds either ``category`` + ``terms`` or ``groups: {kind: [terms]}``. A *kind* is a
blocked category (``diagnosis``, ``medication`` ...) or an internal one the detector combines
(``result_strong``, ``result_a``, ``result_b``, ``cue_strong``, ``cue_verb``, ``link``, ``finding_ps``,
``result_ps``, ``logistics``). Terms are
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

from bot.config_files import load_mapping
from bot.errors import ConfigError
from bot.guard.normalise import canonical_term

__all__ = [
    "BLOCK_KINDS",
    "EITHER",
    "INTERNAL_KINDS",
    "CompiledLexicon",
    "Terms",
    "bounded",
    "builtin_terms",
    "compile_lexicon",
    "trie_pattern",
]

LEXICON_DIR = Path(__file__).resolve().parent
FILES = (
    "diagnoses.yml", "medications.yml", "brands.yml", "treatment.yml", "imaging.yml", "abbreviations.yml",
    "results.yml",
)
BLOCK_KINDS = frozenset(
    {"diagnosis", "medication", "treatment", "progress", "imaging_result", "abbreviation", "lab_result",
     "clinical_value"}
)
INTERNAL_KINDS = frozenset({"result_strong", "result_a", "result_b", "cue_strong", "cue_verb", "link",
                            "finding_ps", "result_ps", "logistics"})
# Kinds read in messages about one patient only, with their own pattern (their phrases overlap cues and
# result words of the main pattern, "salio bien", and must not hide them).
PLAIN_FINDING_KINDS = frozenset({"finding_ps", "result_ps"})
# Kinds whose long terms are also searched with every non-letter removed ("diab etes").
SQUASH_KINDS = frozenset({"diagnosis", "medication", "treatment", "progress", "imaging_result"})
SQUASH_MIN = 8
PREFIX_MIN = 4

_SEP = "[^a-z0-9]{1,4}"
_SEP_RE = re.compile(r"[^a-z0-9ı]+")
# In the words view "ı" stands for a character read as i or l (``1 ! | I``, a Greek Iota): the tolerant
# patterns, used only for a text that has one, let it match either letter.
EITHER = "ı"
_TOLERANT = {"i": "[iı]", "l": "[lı]", " ": "[^a-z0-9ı]{1,4}"}
_MAX_EITHER = 8
_STEM = object()


def _read(path: Path) -> dict[str, list[str]]:
    data: Any = load_mapping(path, "a disclosure lexicon")
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


def trie_pattern(keys: Iterable[str], tolerant: bool = False) -> str:
    """A regex alternation shaped as a prefix trie (fast in ``re``: one branch per next character).

    Keys are canonical terms: ``a-z0-9``, single spaces (any short run of separators) and an optional
    trailing ``*`` (any word ending). ``tolerant``: "ı" in the text matches an i or an l of a key.
    """
    root: dict[Any, Any] = {}
    for key in keys:
        node = root
        stem = key.endswith("*")
        for ch in key.rstrip("*"):
            node = node.setdefault(ch, {})
        node[_STEM if stem else ""] = {}
    return _emit(root, _TOLERANT if tolerant else None)


def bounded(body: str, tolerant: bool = False) -> re.Pattern[str]:
    """``body`` as whole words of the words view."""
    letters = "a-z0-9ı" if tolerant else "a-z0-9"
    return re.compile(rf"(?<![{letters}])" + body + rf"(?![{letters}])")


def _emit(node: dict[Any, Any], tolerant: dict[str, str] | None = None) -> str:
    alternatives: list[str] = []
    terminal = False
    for atom in sorted((k for k in node if isinstance(k, str)), key=lambda k: (k == "", k)):
        if atom == "":
            terminal = True
            continue
        if tolerant is not None and atom in tolerant:
            head = tolerant[atom]
        else:
            head = _SEP if atom == " " else re.escape(atom)
        alternatives.append(head + _emit(node[atom], tolerant))
    if _STEM in node:  # the stem also matches the empty ending, so "terminal" needs no "?"
        alternatives.append("[a-zı]*" if tolerant is not None else "[a-z]*")
        return "(?:" + "|".join(alternatives) + ")"
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    if terminal:
        return f"(?:{body})?" if len(alternatives) == 1 else body + "?"
    return body


def _readings(key: str) -> list[str]:
    """``key`` with each "ı" read as i or as l (all of them for a few, else as i)."""
    count = key.count(EITHER)
    if not count:
        return [key]
    if count > _MAX_EITHER:
        return [key.replace(EITHER, "i")]
    out = [""]
    for ch in key:
        out = [o + c for o in out for c in ("il" if ch == EITHER else ch)]
    return out


class _Lookup:
    """Canonical terms (exact and stems) with their kinds, as trie-shaped patterns over the words view."""

    exact: Mapping[str, tuple[str, ...]]
    stems: Mapping[str, tuple[str, ...]]
    max_stem: int
    pattern: re.Pattern[str]

    def lookup(self, matched: str) -> tuple[str, tuple[str, ...]]:
        """The canonical key and kinds of a regex match (``("", ())`` if nothing is known)."""
        for key in _readings(_SEP_RE.sub(" ", matched).strip()):
            kinds = self.exact.get(key)
            if kinds is not None:
                return key, kinds
            for length in range(min(len(key), self.max_stem), 0, -1):
                kinds = self.stems.get(key[:length])
                if kinds is not None:
                    return key[:length] + "*", kinds
        return "", ()

    def pattern_for(self, words: str) -> re.Pattern[str]:
        """The pattern for ``words``: the tolerant one when it holds an "ı" (compiled on first need)."""
        if EITHER not in words:
            return self.pattern
        tolerant: re.Pattern[str] | None = self.__dict__.get("_tolerant")
        if tolerant is None:
            keys = [*self.exact, *(s + "*" for s in self.stems)]
            tolerant = bounded(trie_pattern(keys, tolerant=True), tolerant=True)
            object.__setattr__(self, "_tolerant", tolerant)
        return tolerant


@dataclass(frozen=True)
class Terms(_Lookup):
    """A set of canonical terms by kind, as one trie-shaped pattern over the words view."""

    pattern: re.Pattern[str]
    exact: Mapping[str, tuple[str, ...]]
    stems: Mapping[str, tuple[str, ...]]
    max_stem: int


@dataclass(frozen=True)
class CompiledLexicon(_Lookup):
    """Lexicon terms ready for matching over the words view."""

    pattern: re.Pattern[str]
    exact: Mapping[str, tuple[str, ...]]
    stems: Mapping[str, tuple[str, ...]]
    max_stem: int
    squashed_pattern: re.Pattern[str] | None
    squashed_keys: Mapping[str, tuple[str, ...]]
    prefixes: frozenset[str]
    link: frozenset[str]
    logistics: frozenset[str] = frozenset()
    plain_findings: Terms | None = None

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
    logistics: set[str] = set()
    ps_exact: dict[str, tuple[str, ...]] = {}
    ps_stems: dict[str, tuple[str, ...]] = {}
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
            if kind == "logistics":
                logistics.add(key)
                continue
            if kind in PLAIN_FINDING_KINDS:
                _add(ps_stems, key[:-1], kind) if key.endswith("*") else _add(ps_exact, key, kind)
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
    pattern = bounded(trie_pattern(keys))
    squashed_pattern = re.compile(trie_pattern(squashed)) if squashed else None
    plain_findings = None
    if ps_exact or ps_stems:
        ps_keys = [*ps_exact, *(k + "*" for k in ps_stems)]
        plain_findings = Terms(
            bounded(trie_pattern(ps_keys)),
            ps_exact, ps_stems, max((len(k) for k in ps_stems), default=0),
        )
    return CompiledLexicon(
        pattern=pattern,
        exact=exact,
        stems=stems,
        max_stem=max((len(s) for s in stems), default=0),
        squashed_pattern=squashed_pattern,
        squashed_keys=squashed,
        prefixes=frozenset(prefixes),
        link=frozenset(link),
        logistics=frozenset(logistics),
        plain_findings=plain_findings,
    )
