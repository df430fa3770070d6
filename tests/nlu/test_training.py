from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from bot.errors import ModelNotFoundError
from bot.nlu import archive
from bot.nlu.commands import train_command
from bot.nlu.model import load_archive, load_latest
from bot.nlu.training import train

NAME = re.compile(r"^nlu-\d{8}-\d{6}-[0-9a-f]{8}\.tar\.gz$")


def test_train_skip_when_unchanged_and_force(project: Path) -> None:
    calls: list[str] = []
    first = train(
        project / "nlu", project / "config.yml", project / "models", progress=lambda n, s: calls.append(n)
    )
    assert not first.skipped and NAME.match(first.archive.name)
    assert first.fingerprint[:8] in first.archive.name
    assert calls[0] == "WhitespaceTokenizer" and calls[-1] == "FallbackClassifier"
    again = train(project / "nlu", project / "config.yml", project / "models")
    assert again.skipped and again.archive == first.archive
    forced = train(project / "nlu", project / "config.yml", project / "models", force=True)
    assert not forced.skipped and forced.fingerprint == first.fingerprint
    assert len(archive.list_archives(project / "models")) >= 1


def test_fingerprint_changes_with_data_and_pipeline(project: Path) -> None:
    first = train(project / "nlu", project / "config.yml", project / "models")
    with (project / "nlu" / "nlu.yml").open("a", encoding="utf-8") as f:
        f.write("- intent: goodbye\n  examples: |\n    - adiós\n    - hasta luego\n")
    changed = train(project / "nlu", project / "config.yml", project / "models")
    assert not changed.skipped and changed.fingerprint != first.fingerprint
    config = (project / "config.yml").read_text(encoding="utf-8").replace("max_ngram: 4", "max_ngram: 5")
    (project / "config.yml").write_text(config, encoding="utf-8")
    assert (
        train(project / "nlu", project / "config.yml", project / "models").fingerprint != changed.fingerprint
    )


def test_archive_contents_and_round_trip(trained_archive: Path) -> None:
    with tarfile.open(trained_archive, "r:gz") as tar:
        assert set(tar.getnames()) == {"metadata.json", "pipeline.json", "arrays.npz"}
        metadata = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
    assert metadata["intents"] == ["ask_hours", "book_appointment", "cancel_appointment", "greet"]
    assert metadata["counts"]["examples"] == 24
    assert metadata["components"][0] == "WhitespaceTokenizer"
    assert len(metadata["fingerprint"]) == 64
    one, two = load_archive(trained_archive), load_archive(trained_archive)
    text = "quiero cancelar mi cita del martes"
    assert one.parse(text) == two.parse(text)
    assert one.fingerprint == metadata["fingerprint"]
    assert one.intents == metadata["intents"]


def test_corrupt_or_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        load_archive(tmp_path / "nlu-x.tar.gz")
    bogus = tmp_path / "nlu-20260101-000000-deadbeef.tar.gz"
    bogus.write_bytes(b"not a tarball")
    with pytest.raises(ModelNotFoundError, match="cannot read"):
        load_archive(bogus)


def test_load_latest(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_PROJECT_DIR", str(project))
    with pytest.raises(ModelNotFoundError, match="bot train"):
        load_latest(project / "models", train_if_missing=False)
    interpreter = load_latest(project / "models")
    assert archive.newest_archive(project / "models") == interpreter.path
    assert "greet" in interpreter.intents


def test_train_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    args = argparse.Namespace(
        nlu=str(project / "nlu"), config=str(project / "config.yml"), out=str(project / "models"), force=False
    )
    assert train_command(args) == 0
    assert "Trained in" in capsys.readouterr().out
    assert train_command(args) == 0
    assert "Nothing changed" in capsys.readouterr().out
