"""A configured sequence of components: train it, process messages, turn them into Rasa's parse result."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from bot.errors import ConfigError
from bot.nlu.components import FALLBACK_INTENT, REGISTRY, Component, Message
from bot.nlu.config import PipelineConfig, build_components
from bot.nlu.training_data import TrainingData

log = logging.getLogger(__name__)

#: Called after each component is trained: (component name, seconds it took).
Progress = Callable[[str, float], None]


#: Rasa's button payloads: ``/intent`` or ``/intent{"entity": "value"}`` parse to that intent directly.
_COMMAND = re.compile(r"^/([A-Za-z_][A-Za-z0-9_]{0,63})(\{.{0,500}\})?$", re.DOTALL)


def command_result(text: str, intents: list[str]) -> dict[str, Any] | None:
    """The parse of a Rasa-style ``/intent{...}`` payload, or None when ``text`` is not one.

    Only intents the model knows; entity values must be strings (anything else: not a command, so the
    text is classified as typed). A patient typing it gains nothing they could not say in words.
    """
    match = _COMMAND.match(text.strip())
    if match is None or match.group(1) not in intents:
        return None
    entities: list[dict[str, Any]] = []
    if match.group(2):
        try:
            values = json.loads(match.group(2))
        except ValueError:
            return None
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) <= 200 for k, v in values.items()
        ):
            return None
        entities = [
            {"entity": k, "value": v, "start": 0, "end": len(text), "extractor": "RegexInterpreter"}
            for k, v in values.items()
        ]
    intent = {"name": match.group(1), "confidence": 1.0}
    return {"text": text, "intent": intent, "intent_ranking": [dict(intent)], "entities": entities}


def empty_result(text: str) -> dict[str, Any]:
    """What an empty (or unparseable) message yields: the fallback intent with zero confidence."""
    intent = {"name": FALLBACK_INTENT, "confidence": 0.0}
    return {"text": text, "intent": intent, "intent_ranking": [dict(intent)], "entities": []}


class Pipeline:
    def __init__(self, config: PipelineConfig, components: list[Component] | None = None) -> None:
        self.config = config
        self.components: list[Component] = components if components is not None else build_components(config)

    @property
    def component_names(self) -> list[str]:
        return [c.name for c in self.components]

    @property
    def intents(self) -> list[str]:
        for component in self.components:
            classes = getattr(component, "classes", None)
            if isinstance(classes, list):
                return list(classes)
        return []

    def train(self, data: TrainingData, progress: Progress | None = None) -> None:
        messages = [Message(text=e.text) for e in data.examples]
        for component in self.components:
            started = time.perf_counter()
            component.train(data, messages)
            if component.kind in ("tokenizer", "featurizer"):
                for message in messages:
                    component.process(message)
            component.warm_up()
            if progress is not None:
                progress(component.name, time.perf_counter() - started)

    def warm_up(self) -> None:
        for component in self.components:
            component.warm_up()

    def process(self, text: str, reference_time: datetime | None = None) -> Message:
        message = Message(text=text, reference_time=reference_time)
        for component in self.components:
            component.process(message)
        return message

    def parse(self, text: str, reference_time: datetime | None = None) -> dict[str, Any]:
        """Rasa's parse result. Never raises: a failure is logged (without the text) as a fallback."""
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        if not text.strip():
            return empty_result(text)
        if text.lstrip().startswith("/"):
            command = command_result(text, self.intents)
            if command is not None:
                return command
        try:
            message = self.process(text, reference_time)
        except Exception:
            log.exception("nlu.parse.failed")
            return empty_result(text)
        intent = message.intent or {"name": FALLBACK_INTENT, "confidence": 0.0}
        return {
            "text": text,
            "intent": intent,
            "intent_ranking": message.intent_ranking or [dict(intent)],
            "entities": message.entities,
        }

    # -- persistence ------------------------------------------------------------------------------

    def get_state(self) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
        described: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray] = {}
        for position, component in enumerate(self.components):
            state, component_arrays = component.get_state()
            described.append({"name": component.name, "config": component.config, "state": state})
            for key, array in component_arrays.items():
                arrays[f"{position}.{key}"] = array
        return described, arrays

    @classmethod
    def from_state(
        cls, language: str, described: list[dict[str, Any]], arrays: dict[str, np.ndarray]
    ) -> Pipeline:
        components: list[Component] = []
        entries: list[dict[str, Any]] = []
        for position, item in enumerate(described):
            component_cls = REGISTRY.get(item["name"])
            if component_cls is None:
                raise ConfigError(f"model uses an unknown component {item['name']!r}; retrain it")
            component = component_cls(item["config"])
            prefix = f"{position}."
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            component.set_state(item["state"], own)
            components.append(component)
            entries.append({"name": item["name"], **item["config"]})
        pipeline = cls(PipelineConfig(language, tuple(entries), "<archive>"), components)
        pipeline.warm_up()
        return pipeline
