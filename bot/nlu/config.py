"""Read config.yml: the language and the NLU pipeline (Rasa component names and parameters).

``recipe``, ``assistant_id`` and ``policies`` are accepted (policies belong to the dialogue engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config_files import CONFIG_FILE, load_mapping
from bot.errors import ConfigError

KNOWN_KEYS = ("version", "recipe", "assistant_id", "language", "pipeline", "policies")
SUPPORTED_LANGUAGES = ("es",)


@dataclass(frozen=True)
class PipelineConfig:
    language: str
    pipeline: tuple[dict[str, Any], ...]
    source: str = "<memory>"


def parse_config(raw: Any, source: str = "<memory>") -> PipelineConfig:
    from bot.nlu.components import REGISTRY

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with 'language' and 'pipeline'")
    unknown = sorted(str(k) for k in raw if k not in KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)}; supported: {', '.join(KNOWN_KEYS)}"
        )
    language = raw.get("language", "es")
    if language not in SUPPORTED_LANGUAGES:
        raise ConfigError(f"{source}: language {language!r} is not supported; supported: es")
    pipeline = raw.get("pipeline")
    if not isinstance(pipeline, list) or not pipeline:
        raise ConfigError(f"{source}: 'pipeline' must be a non-empty list of components")
    entries: list[dict[str, Any]] = []
    for position, entry in enumerate(pipeline, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{source}: pipeline item {position} must be a mapping with a 'name'")
        if entry["name"] not in REGISTRY:
            raise ConfigError(
                f"{source}: unknown component {entry['name']!r} (pipeline item {position}); "
                f"supported: {', '.join(REGISTRY)}"
            )
        entries.append(dict(entry))
    config = PipelineConfig(language=str(language), pipeline=tuple(entries), source=source)
    build_components(config)  # validates parameters and component order
    return config


def load_config(path: Path | str) -> PipelineConfig:
    path = Path(path)
    return parse_config(load_mapping(path, CONFIG_FILE), str(path))


def build_components(config: PipelineConfig) -> list[Any]:
    """Instantiate (untrained) components in order, checking each one's prerequisites."""
    from bot.nlu.components import REGISTRY

    components = []
    seen: set[str] = set()
    for entry in config.pipeline:
        cls = REGISTRY[entry["name"]]
        try:
            component = cls(entry)
        except ConfigError as e:
            raise ConfigError(f"{config.source}: {e}") from e
        missing = [kind.replace("_", " ") for kind in cls.requires if kind not in seen]
        if missing:
            needed = " and ".join(("an " if k[0] in "aeiou" else "a ") + k for k in missing)
            raise ConfigError(f"{config.source}: {cls.name} needs {needed} earlier in the pipeline")
        components.append(component)
        seen.add(cls.kind)
    return components
