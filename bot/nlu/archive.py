"""Versioned model archives: ``models/nlu-YYYYMMDD-HHMMSS-<fingerprint8>.tar.gz``.

An archive holds ``metadata.json`` (fingerprint, creation time, components, intents, counts),
``pipeline.json`` (each component's configuration and JSON state) and ``arrays.npz`` (numpy arrays,
read with ``allow_pickle=False``). Nothing in it is unpickled, but archives are still *trusted
artifacts*: they decide how every patient message is classified, so only load archives you trained.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ModelNotFoundError
from bot.nlu.config import PipelineConfig
from bot.nlu.pipeline import Pipeline
from bot.nlu.training_data import data_files

#: Bump when the archive layout or the features change: old archives are then retrained.
FORMAT_VERSION = 1
PREFIX = "nlu-"
SUFFIX = ".tar.gz"


def code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("clinic-bot")
    except PackageNotFoundError:
        package = "unknown"
    return f"{package}/nlu-format-{FORMAT_VERSION}"


def fingerprint(nlu_path: Path, config: PipelineConfig) -> str:
    """SHA-256 of the training data files, the pipeline section of the config and the code version."""
    digest = hashlib.sha256()
    root = nlu_path if nlu_path.is_dir() else nlu_path.parent
    for file in data_files(nlu_path):
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    section = {"language": config.language, "pipeline": list(config.pipeline)}
    digest.update(json.dumps(section, sort_keys=True, default=str).encode() + b"\0")
    digest.update(code_version().encode())
    return digest.hexdigest()


def archive_name(fp: str, created: datetime) -> str:
    return f"{PREFIX}{created.strftime('%Y%m%d-%H%M%S')}-{fp[:8]}{SUFFIX}"


def list_archives(models_dir: Path) -> list[Path]:
    """Archives in ``models_dir``, oldest first (the timestamp in the name orders them)."""
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def newest_archive(models_dir: Path) -> Path | None:
    archives = list_archives(models_dir)
    return archives[-1] if archives else None


def _add(tar: tarfile.TarFile, name: str, payload: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(payload))


def save_archive(pipeline: Pipeline, metadata: dict[str, Any], models_dir: Path) -> Path:
    """Write the archive atomically (temporary file, then rename) and return its path."""
    created = datetime.fromisoformat(metadata["created"])
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / archive_name(metadata["fingerprint"], created)
    described, arrays = pipeline.get_state()
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    mtime = created.timestamp()
    fd, tmp = tempfile.mkstemp(prefix=".nlu-", suffix=".tmp", dir=models_dir)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1) as tar:
            _add(tar, "metadata.json", json.dumps(metadata, indent=2, ensure_ascii=False).encode(), mtime)
            _add(tar, "pipeline.json", json.dumps(described, ensure_ascii=False).encode(), mtime)
            _add(tar, "arrays.npz", buffer.getvalue(), mtime)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError as e:
        raise ModelNotFoundError(f"{path}: not an NLU model archive (no {name})") from e
    if handle is None:
        raise ModelNotFoundError(f"{path}: {name} is not a regular file")
    return handle.read()


def read_metadata(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r:gz") as tar:
            return dict(json.loads(_member(tar, "metadata.json", path)))
    except (OSError, tarfile.TarError, ValueError) as e:
        raise ModelNotFoundError(f"{path}: cannot read model archive: {e}") from e


def read_archive(path: Path) -> tuple[dict[str, Any], Pipeline]:
    """Metadata and the ready-to-use pipeline stored in ``path`` (read in memory, never extracted)."""
    if not path.is_file():
        raise ModelNotFoundError(f"model archive not found: {path}")
    try:
        with tarfile.open(path, "r:gz") as tar:
            metadata = dict(json.loads(_member(tar, "metadata.json", path)))
            described = json.loads(_member(tar, "pipeline.json", path))
            npz = _member(tar, "arrays.npz", path)
        with np.load(io.BytesIO(npz), allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, tarfile.TarError, ValueError) as e:
        raise ModelNotFoundError(f"{path}: cannot read model archive: {e}") from e
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelNotFoundError(
            f"{path}: archive format {metadata.get('format_version')} is not {FORMAT_VERSION}; "
            "run `bot train`"
        )
    pipeline = Pipeline.from_state(str(metadata.get("language", "es")), described, arrays)
    return metadata, pipeline


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
