"""RegexFeaturizer and CountVectorsFeaturizer: sparse sentence features for the intent classifier.

Training uses scikit-learn's ``CountVectorizer`` (vocabulary, min_df/max_df/max_features pruning);
inference maps n-grams through the stored vocabulary directly, which is much faster for one message
and keeps scikit-learn out of the serving process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from bot.errors import ConfigError
from bot.nlu.components.base import Component, Message, PatternComponent
from bot.nlu.extras import require_training_extra
from bot.nlu.text import ENTITY_CHAR_LIMIT, fold_accents
from bot.nlu.training_data import TrainingData


class RegexFeaturizer(PatternComponent):
    """One binary feature per ``regex:`` / ``lookup:`` block: does it match anywhere in the message."""

    name = "RegexFeaturizer"
    kind = "featurizer"
    requires = ("tokenizer",)
    defaults: ClassVar[dict[str, Any]] = {
        "case_sensitive": True,
        "use_lookup_tables": True,
        "use_regexes": True,
        "use_word_boundaries": True,
    }
    ignored = ("number_additional_patterns", "alias")

    def process(self, message: Message) -> None:
        folded = fold_accents(message.text[:ENTITY_CHAR_LIMIT])
        hits = {i: 1.0 for i, p in enumerate(self._compiled) if p.regex.search(folded)}
        message.features.append((len(self._compiled), hits))
        message.coverage["regex"] = max(message.coverage.get("regex", 0.0), 1.0 if hits else 0.0)


def word_ngrams(tokens: Sequence[str], min_n: int, max_n: int) -> list[str]:
    grams: list[str] = []
    count = len(tokens)
    for n in range(min_n, max_n + 1):
        for i in range(count - n + 1):
            grams.append(" ".join(tokens[i : i + n]))
    return grams


def char_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    grams: list[str] = []
    length = len(text)
    for n in range(min_n, max_n + 1):
        for i in range(length - n + 1):
            grams.append(text[i : i + n])
    return grams


def char_wb_ngrams(tokens: Sequence[str], min_n: int, max_n: int) -> list[str]:
    """Character n-grams inside word boundaries, padded with spaces (scikit-learn's ``char_wb``)."""
    grams: list[str] = []
    for token in tokens:
        word = f" {token} "
        length = len(word)
        for n in range(min_n, max_n + 1):
            if n > length:
                if n == min_n:
                    grams.append(word)
                break
            for i in range(length - n + 1):
                grams.append(word[i : i + n])
    return grams


class Analyzer:
    """Turns normalised tokens into n-grams; picklable so ``CountVectorizer`` can use it."""

    def __init__(self, analyzer: str, min_n: int, max_n: int, lowercase: bool, stop_words: frozenset[str]):
        self.analyzer = analyzer
        self.min_n = min_n
        self.max_n = max_n
        self.lowercase = lowercase
        self.stop_words = stop_words

    def __call__(self, tokens: Sequence[str]) -> list[str]:
        if self.lowercase:
            tokens = [t.lower() for t in tokens]
        if self.stop_words:
            tokens = [t for t in tokens if t not in self.stop_words]
        if self.analyzer == "word":
            return word_ngrams(tokens, self.min_n, self.max_n)
        if self.analyzer == "char_wb":
            return char_wb_ngrams(tokens, self.min_n, self.max_n)
        return char_ngrams(" ".join(tokens), self.min_n, self.max_n)


class CountVectorsFeaturizer(Component):
    """Bag of word or character n-grams over the tokens (Rasa's CountVectorsFeaturizer).

    Accents are always folded and letters repeated 3+ times squeezed before counting (see
    :mod:`bot.nlu.text`); ``strip_accents`` is accepted for compatibility and has no further effect.
    """

    name = "CountVectorsFeaturizer"
    kind = "featurizer"
    requires = ("tokenizer",)
    defaults: ClassVar[dict[str, Any]] = {
        "analyzer": "word",
        "min_ngram": 1,
        "max_ngram": 1,
        "lowercase": True,
        "strip_accents": None,
        "stop_words": None,
        "min_df": 1,
        "max_df": 1.0,
        "max_features": None,
        "alias": None,
    }

    def validate(self) -> None:
        self.check_choice("analyzer", ("word", "char", "char_wb"))
        self.check_int("min_ngram", 1)
        self.check_int("max_ngram", 1)
        if self.config["max_ngram"] < self.config["min_ngram"]:
            raise ConfigError(f"{self.name}: max_ngram must be >= min_ngram")
        self.check_bool("lowercase")
        self.check_choice("strip_accents", (None, "ascii", "unicode"))
        stop = self.config["stop_words"]
        if stop is not None and (not isinstance(stop, list) or not all(isinstance(w, str) for w in stop)):
            raise self._fail("stop_words", "a list of words")
        if not isinstance(self.config["min_df"], int | float) or isinstance(self.config["min_df"], bool):
            raise self._fail("min_df", "a count (int) or a proportion (float)")
        if not isinstance(self.config["max_df"], int | float) or isinstance(self.config["max_df"], bool):
            raise self._fail("max_df", "a count (int) or a proportion (float)")
        self.check_int("max_features", 1, optional=True)
        if self.config["alias"] is not None and not isinstance(self.config["alias"], str):
            raise self._fail("alias", "a string")
        self._vocabulary: dict[str, int] = {}
        self._analyzer = self._make_analyzer()

    def _make_analyzer(self) -> Analyzer:
        stop = frozenset(w.lower() for w in self.config["stop_words"] or ())
        return Analyzer(
            self.config["analyzer"],
            self.config["min_ngram"],
            self.config["max_ngram"],
            self.config["lowercase"],
            stop,
        )

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        require_training_extra()
        from sklearn.feature_extraction.text import CountVectorizer

        vectorizer = CountVectorizer(
            analyzer=self._analyzer,
            min_df=self.config["min_df"],
            max_df=self.config["max_df"],
            max_features=self.config["max_features"],
        )
        try:
            vectorizer.fit([m.norm_tokens for m in messages])
        except ValueError as e:
            raise ConfigError(f"{self.name}: cannot build a vocabulary ({e}); check min_df/max_df") from e
        self._vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}

    def process(self, message: Message) -> None:
        counts: dict[int, float] = {}
        vocabulary = self._vocabulary
        analyzer = self._analyzer
        # Coverage counts character n-grams of 3+ characters only: 2-grams match almost anything.
        shortest = 3 if analyzer.analyzer != "word" and analyzer.max_n >= 3 else 0
        seen = known = 0
        for gram in analyzer(message.norm_tokens):
            index = vocabulary.get(gram)
            if len(gram) >= shortest:
                seen += 1
                known += index is not None
            if index is not None:
                counts[index] = counts.get(index, 0.0) + 1.0
        message.features.append((len(vocabulary), counts))
        coverage = known / seen if seen else 0.0
        key = analyzer.analyzer
        message.coverage[key] = max(message.coverage.get(key, 0.0), coverage)

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"vocabulary": self._vocabulary}, {}

    def set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self._vocabulary = {str(k): int(v) for k, v in state["vocabulary"].items()}
