"""What every pipeline component shares: the message being processed and the component contract.

A component is configured from its ``config.yml`` entry (Rasa's parameter names), trained on the
training data, persisted as JSON-able state plus numpy arrays (no pickle), and then only *reads* its
state while processing messages, so one trained pipeline is safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import numpy as np

from bot.errors import ConfigError
from bot.nlu.patterns import CompiledPattern, compile_patterns, pattern_sources
from bot.nlu.training_data import TrainingData

#: Sparse features of one featurizer: (dimension, {column: value}).
SparseFeatures = tuple[int, dict[int, float]]


@dataclass(slots=True)
class Token:
    text: str
    start: int
    end: int


@dataclass(slots=True)
class Message:
    """The working state of one text while it goes through the pipeline."""

    text: str
    reference_time: datetime | None = None
    tokens: list[Token] = field(default_factory=list)
    #: Token texts in featurisation form (see :func:`bot.nlu.text.normalise`), case preserved.
    norm_tokens: list[str] = field(default_factory=list)
    features: list[SparseFeatures] = field(default_factory=list)
    #: Share of the message's n-grams found in each featurizer's vocabulary, keyed by analyzer
    #: (``word``, ``char``, ``char_wb``; ``regex`` is 1.0 when a regex/lookup matched). Read by the
    #: FallbackClassifier's out-of-vocabulary rule.
    coverage: dict[str, float] = field(default_factory=dict)
    intent: dict[str, Any] | None = None
    intent_ranking: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)


class Component:
    """Base class; subclasses set ``name``, ``kind``, ``defaults`` and override what they need."""

    name: ClassVar[str] = ""
    #: tokenizer | featurizer | intent_classifier | entity_extractor | processor
    kind: ClassVar[str] = ""
    #: Kinds that must appear earlier in the pipeline.
    requires: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    #: Parameters accepted for Rasa compatibility but without effect here (documented per component).
    ignored: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        given = dict(config or {})
        given.pop("name", None)
        unknown = sorted(set(given) - set(self.defaults) - set(self.ignored))
        if unknown:
            supported = ", ".join(sorted([*self.defaults, *self.ignored])) or "(none)"
            raise ConfigError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; supported: {supported}"
            )
        self.config: dict[str, Any] = {**self.defaults, **given}
        self.validate()

    def validate(self) -> None:
        """Check parameter types and values; raise :class:`ConfigError`."""

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        """Fit on the training data; ``messages`` were processed by the earlier components."""

    def process(self, message: Message) -> None:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Prepare for fast inference after training or loading (compile patterns, imports)."""

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {}

    def set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`get_state` returned."""

    # -- parameter checks -------------------------------------------------------------------------

    def _fail(self, key: str, expected: str) -> ConfigError:
        return ConfigError(f"{self.name}: parameter '{key}' must be {expected}, got {self.config[key]!r}")

    def check_bool(self, key: str) -> None:
        if not isinstance(self.config[key], bool):
            raise self._fail(key, "true or false")

    def check_int(self, key: str, minimum: int | None = None, *, optional: bool = False) -> None:
        value = self.config[key]
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            raise self._fail(key, f"an integer >= {minimum}" if minimum is not None else "an integer")

    def check_float(self, key: str, low: float, high: float) -> None:
        value = self.config[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self._fail(key, f"a number between {low} and {high}")

    def check_choice(self, key: str, choices: Collection[Any]) -> None:
        if self.config[key] not in choices:
            raise self._fail(key, "one of " + ", ".join(repr(c) for c in choices))


class PatternComponent(Component):
    """Base of the components that match the ``regex:`` / ``lookup:`` blocks of the training data.

    Configured by four switches (their defaults set by the subclass); trained, it keeps the pattern
    sources as its state and compiles them once (:meth:`warm_up`). Subclasses implement :meth:`process`
    and may narrow the blocks used (:meth:`pattern_names`).
    """

    #: The boolean parameters every pattern component takes (Rasa's names).
    PATTERN_KEYS: ClassVar[tuple[str, ...]] = (
        "case_sensitive",
        "use_lookup_tables",
        "use_regexes",
        "use_word_boundaries",
    )

    def validate(self) -> None:
        for key in self.PATTERN_KEYS:
            self.check_bool(key)
        self._sources: list[tuple[str, str]] = []
        self._compiled: list[CompiledPattern] = []

    def pattern_names(self, data: TrainingData) -> set[str] | None:
        """The names of the blocks to use; None: every block."""
        return None

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        self._sources = pattern_sources(
            data,
            use_regexes=self.config["use_regexes"],
            use_lookup_tables=self.config["use_lookup_tables"],
            use_word_boundaries=self.config["use_word_boundaries"],
            names=self.pattern_names(data),
        )
        self.warm_up()

    def warm_up(self) -> None:
        self._compiled = compile_patterns(self._sources, case_sensitive=self.config["case_sensitive"])

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"sources": [list(s) for s in self._sources]}, {}

    def set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self._sources = [(str(n), str(s)) for n, s in state["sources"]]
