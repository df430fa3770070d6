"""Entity extraction: RegexEntityExtractor, DucklingEntityExtractor (in-process) and EntitySynonymMapper."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from bot.errors import ConfigError
from bot.nlu.components.base import Component, Message, PatternComponent
from bot.nlu.text import ENTITY_CHAR_LIMIT, fold_accents
from bot.nlu.training_data import TrainingData

log = logging.getLogger(__name__)


class RegexEntityExtractor(PatternComponent):
    """Entities from the ``regex:`` / ``lookup:`` blocks named like an entity of the training data.

    Overlapping matches are resolved longest-first; ``value`` is the matched text (the synonym mapper
    may replace it later).
    """

    name = "RegexEntityExtractor"
    kind = "entity_extractor"
    defaults: ClassVar[dict[str, Any]] = {
        "case_sensitive": False,
        "use_lookup_tables": True,
        "use_regexes": True,
        "use_word_boundaries": True,
    }

    def pattern_names(self, data: TrainingData) -> set[str] | None:
        return set(data.entity_types)  # only the blocks named like an entity

    def process(self, message: Message) -> None:
        text = message.text[:ENTITY_CHAR_LIMIT]
        folded = fold_accents(text)
        found: list[tuple[int, int, str]] = []
        for pattern in self._compiled:
            for match in pattern.regex.finditer(folded):
                if match.end() > match.start():
                    found.append((match.start(), match.end(), pattern.name))
        found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
        taken: list[tuple[int, int]] = []
        kept: list[tuple[int, int, str]] = []
        for start, end, entity in found:
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            kept.append((start, end, entity))
        for start, end, entity in sorted(kept):
            message.entities.append(
                {
                    "entity": entity,
                    "start": start,
                    "end": end,
                    "value": message.text[start:end],
                    "extractor": self.name,
                }
            )


ExtractTimes = Callable[..., list[Any]]


class DucklingEntityExtractor(Component):
    """Dates and times, Duckling-style, computed in-process by :mod:`bot.nlu.timeparse`.

    ``url`` and ``timeout`` are accepted so a Rasa config works unchanged; no Duckling server is
    called. Only the ``time`` dimension exists. Without a reference time, "now" in ``timezone`` is used.
    """

    name = "DucklingEntityExtractor"
    kind = "entity_extractor"
    defaults: ClassVar[dict[str, Any]] = {
        "dimensions": None,
        "locale": "es_MX",
        "timezone": "America/Mexico_City",
    }
    ignored = ("url", "timeout")
    supported_dimensions = ("time",)

    def validate(self) -> None:
        dims = self.config["dimensions"]
        if dims is not None:
            if not isinstance(dims, list) or not all(isinstance(d, str) for d in dims):
                raise self._fail("dimensions", "a list of dimension names")
            unknown = sorted(set(dims) - set(self.supported_dimensions))
            if unknown:
                raise ConfigError(
                    f"{self.name}: unsupported dimension(s) {', '.join(unknown)}; "
                    f"supported: {', '.join(self.supported_dimensions)}"
                )
        if not isinstance(self.config["locale"], str) or not self.config["locale"].lower().startswith("es"):
            raise self._fail("locale", "a Spanish locale such as es_MX")
        try:
            self._zone: tzinfo = ZoneInfo(str(self.config["timezone"]))
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise self._fail("timezone", "an IANA time zone such as America/Mexico_City") from e
        self._extract: ExtractTimes | None = None
        self._unavailable = False
        self._lock = threading.Lock()

    def _extractor(self) -> ExtractTimes | None:
        if self._extract is None and not self._unavailable:
            with self._lock:
                if self._extract is None and not self._unavailable:
                    try:
                        from bot.nlu.timeparse import extract_times
                    except ImportError:
                        self._unavailable = True
                        log.warning("nlu.duckling.unavailable")
                        return None
                    self._extract = extract_times
        return self._extract

    def warm_up(self) -> None:
        self._extractor()

    def reference(self, reference_time: datetime | None) -> datetime:
        if reference_time is None:
            return datetime.now(self._zone)
        if reference_time.tzinfo is None:
            return reference_time.replace(tzinfo=self._zone)
        return reference_time

    def process(self, message: Message) -> None:
        extract = self._extractor()
        if extract is None or not message.text.strip():
            return
        text = message.text[:ENTITY_CHAR_LIMIT]
        try:
            matches = extract(text, self.reference(message.reference_time), str(self.config["timezone"]))
        except Exception:  # a time-parsing bug must not break intent classification
            log.exception("nlu.duckling.failed")
            return
        for match in matches:
            start, end = int(match.start), int(match.end)
            if not 0 <= start < end <= len(text):
                continue
            value = match.value
            kind = "interval" if isinstance(value, dict) else "value"
            info: dict[str, Any] = {"type": kind, "grain": match.grain}
            if isinstance(value, dict):
                info.update({k: {"value": v, "grain": match.grain} for k, v in value.items()})
            else:
                info["value"] = value
            message.entities.append(
                {
                    "entity": "time",
                    "start": start,
                    "end": end,
                    "text": message.text[start:end],
                    "value": dict(value) if isinstance(value, dict) else value,
                    "confidence": 1.0,
                    "additional_info": info,
                    "extractor": self.name,
                }
            )


class EntitySynonymMapper(Component):
    """Replaces an entity value by its canonical synonym (case- and accent-insensitive)."""

    name = "EntitySynonymMapper"
    kind = "processor"
    defaults: ClassVar[dict[str, Any]] = {}

    def validate(self) -> None:
        self._synonyms: dict[str, str] = {}

    @staticmethod
    def key(value: str) -> str:
        return fold_accents(value.strip().lower())

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        self._synonyms = {self.key(k): v for k, v in data.synonyms.items()}

    def process(self, message: Message) -> None:
        for entity in message.entities:
            value = entity.get("value")
            if not isinstance(value, str):
                continue
            canonical = self._synonyms.get(self.key(value))
            if canonical is not None and canonical != value:
                entity["value"] = canonical
                entity.setdefault("processors", []).append(self.name)

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"synonyms": self._synonyms}, {}

    def set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self._synonyms = {str(k): str(v) for k, v in state["synonyms"].items()}
