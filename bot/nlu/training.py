"""``bot train``: fingerprint the inputs, skip when unchanged, otherwise train and write an archive."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.nlu import archive
from bot.nlu.config import PipelineConfig, load_config
from bot.nlu.extras import require_training_extra
from bot.nlu.pipeline import Pipeline, Progress
from bot.nlu.training_data import TrainingData, load_training_data
from bot.settings import models_dir, project_dir


@dataclass(frozen=True)
class TrainResult:
    archive: Path
    fingerprint: str
    skipped: bool
    seconds: float = 0.0


def default_paths(
    nlu: Path | str | None, config: Path | str | None, out: Path | str | None
) -> tuple[Path, Path, Path]:
    return (
        Path(nlu) if nlu else project_dir() / "nlu",
        Path(config) if config else project_dir() / "config.yml",
        Path(out) if out else models_dir(),
    )


def train_pipeline(config: PipelineConfig, data: TrainingData, progress: Progress | None = None) -> Pipeline:
    require_training_extra()
    pipeline = Pipeline(config)
    pipeline.train(data, progress)
    return pipeline


def train(
    nlu: Path | str | None = None,
    config: Path | str | None = None,
    out: Path | str | None = None,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    nlu_path, config_path, out_dir = default_paths(nlu, config, out)
    pipeline_config = load_config(config_path)
    data = load_training_data(nlu_path)
    fp = archive.fingerprint(nlu_path, pipeline_config)
    newest = archive.newest_archive(out_dir)
    if newest is not None and not force:
        try:
            same = archive.read_metadata(newest).get("fingerprint") == fp
        except Exception:  # an unreadable archive is simply not a match
            same = False
        if same:
            return TrainResult(newest, fp, skipped=True)
    started = time.perf_counter()
    pipeline = train_pipeline(pipeline_config, data, progress)
    seconds = time.perf_counter() - started
    created = archive.utc_now()
    metadata = {
        "format_version": archive.FORMAT_VERSION,
        "fingerprint": fp,
        "created": created.isoformat(),
        "code_version": archive.code_version(),
        "language": pipeline_config.language,
        "components": pipeline.component_names,
        "intents": pipeline.intents,
        "entities": data.entity_types,
        "counts": {
            "examples": len(data.examples),
            "intents": len(data.intents),
            "examples_per_intent": dict(sorted(Counter(e.intent for e in data.examples).items())),
            "entity_examples": sum(len(e.entities) for e in data.examples),
            "synonyms": len(data.synonyms),
            "regexes": len(data.regexes),
            "lookups": len(data.lookups),
            "files": len(data.files),
        },
        "training_seconds": round(seconds, 3),
    }
    path = archive.save_archive(pipeline, metadata, out_dir)
    return TrainResult(path, fp, skipped=False, seconds=seconds)
