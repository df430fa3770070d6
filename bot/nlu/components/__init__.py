"""Pipeline components under their Rasa names."""

from __future__ import annotations

from bot.nlu.components.base import Component, Message, Token
from bot.nlu.components.classifiers import FALLBACK_INTENT, FallbackClassifier, LogisticRegressionClassifier
from bot.nlu.components.extractors import DucklingEntityExtractor, EntitySynonymMapper, RegexEntityExtractor
from bot.nlu.components.featurizers import CountVectorsFeaturizer, RegexFeaturizer
from bot.nlu.components.tokenizers import WhitespaceTokenizer

#: Every supported component, by its Rasa name.
REGISTRY: dict[str, type[Component]] = {
    cls.name: cls
    for cls in (
        WhitespaceTokenizer,
        RegexFeaturizer,
        CountVectorsFeaturizer,
        LogisticRegressionClassifier,
        RegexEntityExtractor,
        DucklingEntityExtractor,
        EntitySynonymMapper,
        FallbackClassifier,
    )
}

__all__ = ["FALLBACK_INTENT", "REGISTRY", "Component", "Message", "Token"]
