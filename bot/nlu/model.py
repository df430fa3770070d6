"""Loading and inference API used by the server and the dialogue engine.

>>> interpreter = load_latest()
>>> interpreter.parse("quiero una cita el martes a las 10")["intent"]["name"]

An :class:`Interpreter` only reads its trained state while parsing, so one instance is shared by all
threads and requests.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import ModelNotFoundError
from bot.nlu import archive
from bot.nlu.pipeline import Pipeline
from bot.settings import models_dir as default_models_dir

log = logging.getLogger(__name__)
_train_lock = threading.Lock()


class Interpreter:
    def __init__(self, pipeline: Pipeline, metadata: dict[str, Any], path: Path | None = None) -> None:
        self.pipeline = pipeline
        self.metadata = metadata
        self.path = path

    @property
    def intents(self) -> list[str]:
        return list(self.metadata.get("intents") or self.pipeline.intents)

    @property
    def fingerprint(self) -> str:
        return str(self.metadata.get("fingerprint", ""))

    def parse(self, text: str, reference_time: datetime | None = None) -> dict[str, Any]:
        """Rasa's parse result for ``text``; never raises on any input."""
        return self.pipeline.parse(text, reference_time)


def load_archive(path: Path) -> Interpreter:
    metadata, pipeline = archive.read_archive(Path(path))
    log.info("nlu.model.loaded", extra={"fingerprint": metadata.get("fingerprint", "")[:8]})
    return Interpreter(pipeline, metadata, Path(path))


def load_latest(models_dir: Path | None = None, *, train_if_missing: bool = True) -> Interpreter:
    """The newest archive in ``models_dir`` (default ``models/``); trains one first if there is none."""
    directory = Path(models_dir) if models_dir is not None else default_models_dir()
    newest = archive.newest_archive(directory)
    if newest is None:
        if not train_if_missing:
            raise ModelNotFoundError(f"no NLU model in {directory}; run `bot train`")
        from bot.nlu.training import train

        with _train_lock:
            newest = archive.newest_archive(directory)
            if newest is None:
                newest = train(out=directory).archive
    return load_archive(newest)
