"""Read Rasa 3.x NLU training data (YAML): intents with annotated examples, synonyms, regexes, lookups.

Supported annotations, as in Rasa: ``[text](entity)``, ``[text](entity:value)`` (legacy) and
``[text]{"entity": "x", "value": "y", "role": "r", "group": "g"}``. A value that differs from the text
becomes a synonym, as Rasa does. Errors name the file and line (and the intent) so they can be fixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.errors import TrainingDataError

_ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<json>[^}]+?)\})"
)
_LEFTOVER = re.compile(r"\]\(|\]\{")
_ITEM_KEYS = ("intent", "synonym", "regex", "lookup")


@dataclass(frozen=True)
class EntitySpan:
    """An annotated entity; ``start``/``end`` index the example's plain text."""

    start: int
    end: int
    entity: str
    value: str
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class NamedPatterns:
    """A ``regex:`` block (patterns) or a ``lookup:`` block (literal elements)."""

    name: str
    patterns: tuple[str, ...]


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: list[NamedPatterns] = field(default_factory=list)
    lookups: list[NamedPatterns] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    @property
    def entity_types(self) -> list[str]:
        return sorted({s.entity for e in self.examples for s in e.entities})

    def merge(self, other: TrainingData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        self.regexes.extend(other.regexes)
        self.lookups.extend(other.lookups)
        self.files.extend(other.files)

    def subset(self, indices: Iterable[int]) -> TrainingData:
        """The same synonyms/regexes/lookups with only the selected examples (for cross-validation)."""
        return TrainingData(
            examples=[self.examples[i] for i in indices],
            synonyms=dict(self.synonyms),
            regexes=list(self.regexes),
            lookups=list(self.lookups),
            files=list(self.files),
        )


def data_files(path: Path) -> list[Path]:
    """The YAML files under ``path`` (itself if it is a file), sorted for a stable fingerprint."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml"))
    raise TrainingDataError(f"training data not found: {path}")


def load_training_data(path: Path | str) -> TrainingData:
    """Load one NLU YAML file or every ``.yml``/``.yaml`` file under a directory."""
    path = Path(path)
    files = data_files(path)
    data = TrainingData()
    for file in files:
        part = load_file(file, required=path.is_file())
        data.merge(part)
    if not data.examples:
        raise TrainingDataError(f"no NLU examples found in {path}")
    return data


def load_file(file: Path, *, required: bool = True) -> TrainingData:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingDataError(f"{file}: cannot read: {e}") from e
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise TrainingDataError(f"{file}: invalid YAML: {e}") from e
    data = TrainingData(files=[file])
    if root is None:
        if required:
            raise TrainingDataError(f"{file}: empty file")
        return data
    if not isinstance(root, yaml.MappingNode):
        raise TrainingDataError(f"{file}:{_line(root)}: the top level must be a mapping with an 'nlu' key")
    top = _mapping(file, root)
    if "nlu" not in top:
        if required:
            raise TrainingDataError(f"{file}: no 'nlu' key")
        return data
    nlu = top["nlu"]
    if not isinstance(nlu, yaml.SequenceNode):
        raise TrainingDataError(f"{file}:{_line(nlu)}: 'nlu' must be a list")
    for item in nlu.value:
        _read_item(file, item, data)
    return data


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(file: Path, node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise TrainingDataError(f"{file}:{_line(node)}: expected a mapping")
    result: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise TrainingDataError(f"{file}:{_line(key)}: keys must be strings")
        result[str(key.value)] = value
    return result


def _scalar(file: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise TrainingDataError(f"{file}:{_line(node)}: {what} must be a non-empty string")
    return str(node.value).strip()


def _read_item(file: Path, node: yaml.Node, data: TrainingData) -> None:
    item = _mapping(file, node)
    kinds = [k for k in _ITEM_KEYS if k in item]
    if len(kinds) != 1:
        raise TrainingDataError(
            f"{file}:{_line(node)}: each 'nlu' item needs exactly one of {', '.join(_ITEM_KEYS)}"
        )
    kind = kinds[0]
    name = _scalar(file, item[kind], kind)
    if "examples" not in item:
        raise TrainingDataError(f"{file}:{_line(node)}: {kind} '{name}' has no 'examples'")
    lines = list(_example_lines(file, item["examples"], f"{kind} '{name}'"))
    where = f"{kind} '{name}'"
    if kind == "intent":
        for text, line in lines:
            data.examples.append(_parse_example(file, line, name, text, data.synonyms))
    elif kind == "synonym":
        for text, _ in lines:
            data.synonyms[text.lower()] = name
    elif kind == "regex":
        for text, line in lines:
            try:
                re.compile(text)
            except re.error as e:
                raise TrainingDataError(f"{file}:{line}: {where}: invalid regular expression: {e}") from e
        data.regexes.append(NamedPatterns(name, tuple(t for t, _ in lines)))
    else:
        data.lookups.append(NamedPatterns(name, tuple(t for t, _ in lines)))


def _example_lines(file: Path, node: yaml.Node, where: str) -> Iterator[tuple[str, int]]:
    """Yield (example, line) from a ``|`` block of ``- item`` lines or a list of strings / {text: ...}."""
    if isinstance(node, yaml.ScalarNode):
        base = _line(node) + (1 if node.style in ("|", ">") else 0)
        for offset, raw in enumerate(str(node.value).splitlines()):
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("- "):
                raise TrainingDataError(f"{file}:{base + offset}: {where}: each example must start with '- '")
            text = stripped[2:].strip()
            if text:
                yield text, base + offset
    elif isinstance(node, yaml.SequenceNode):
        for entry in node.value:
            if isinstance(entry, yaml.MappingNode):
                mapping = _mapping(file, entry)
                if "text" not in mapping:
                    raise TrainingDataError(f"{file}:{_line(entry)}: {where}: example without 'text'")
                yield _scalar(file, mapping["text"], "text"), _line(entry)
            else:
                yield _scalar(file, entry, "example"), _line(entry)
    else:
        raise TrainingDataError(f"{file}:{_line(node)}: {where}: 'examples' must be a string or a list")


def _parse_example(file: Path, line: int, intent: str, raw: str, synonyms: dict[str, str]) -> Example:
    where = f"{file}:{line}: intent '{intent}'"
    parts: list[str] = []
    spans: list[EntitySpan] = []
    cursor = 0
    length = 0
    for match in _ENTITY.finditer(raw):
        before = raw[cursor : match.start()]
        parts.append(before)
        length += len(before)
        surface = match.group("text")
        entity, value, role, group = _annotation(where, match)
        spans.append(EntitySpan(length, length + len(surface), entity, value or surface, role, group))
        if value and value != surface:
            synonyms[surface.lower()] = value
        parts.append(surface)
        length += len(surface)
        cursor = match.end()
    parts.append(raw[cursor:])
    text = "".join(parts)
    if _LEFTOVER.search(text):
        raise TrainingDataError(f"{where}: malformed entity annotation in an example")
    if not text.strip():
        raise TrainingDataError(f"{where}: empty example")
    return Example(text=text, intent=intent, entities=tuple(spans), source=f"{file}:{line}")


def _annotation(where: str, match: re.Match[str]) -> tuple[str, str | None, str | None, str | None]:
    if match.group("entity"):
        return match.group("entity").strip(), match.group("value"), None, None
    try:
        spec = json.loads("{" + match.group("json") + "}")
    except json.JSONDecodeError as e:
        raise TrainingDataError(f"{where}: invalid JSON in entity annotation: {e.msg}") from e
    entity = spec.get("entity") if isinstance(spec, dict) else None
    if not isinstance(entity, str) or not entity:
        raise TrainingDataError(f"{where}: entity annotation without an 'entity' name")
    optional: list[str | None] = []
    for key in ("value", "role", "group"):
        found = spec.get(key)
        if found is not None and not isinstance(found, str | int | float):
            raise TrainingDataError(f"{where}: entity '{key}' must be a string")
        optional.append(None if found is None else str(found))
    return entity, optional[0], optional[1], optional[2]
