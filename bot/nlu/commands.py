"""CLI handlers for ``bot train``, ``bot parse`` and ``bot test nlu`` (wired in :mod:`bot.app.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import project_dir


def _print(line: str) -> None:
    print(line, flush=True)


def train_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.nlu.training import train

    console = Console(stderr=False, highlight=False)

    def progress(component: str, seconds: float) -> None:
        console.print(f"  [green]✓[/green] {component} [dim]{seconds * 1000:.0f} ms[/dim]")

    console.print("Training NLU model…")
    result = train(args.nlu, args.config, args.out, force=bool(args.force), progress=progress)
    if result.skipped:
        console.print(
            f"Nothing changed (fingerprint {result.fingerprint[:8]}); newest model is up to date: "
            f"{result.archive}\nUse --force to retrain."
        )
    else:
        console.print(f"Trained in {result.seconds:.2f} s → {result.archive}")
    return 0


def _reference_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as e:
        raise ConfigError(f"--reference-time must be ISO 8601 (e.g. 2026-11-25T10:00:00-06:00): {e}") from e


def parse_command(args: argparse.Namespace) -> int:
    from bot.nlu.model import load_archive, load_latest

    reference = _reference_time(args.reference_time)
    interpreter = load_archive(Path(args.model)) if args.model else load_latest()
    result = interpreter.parse(args.text, reference)
    _print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def test_nlu_command(args: argparse.Namespace) -> int:
    from bot.nlu import evaluate
    from bot.nlu.extras import require_training_extra

    require_training_extra("`bot test nlu`")  # its report (and cross-validation) use scikit-learn
    from bot.nlu.config import load_config
    from bot.nlu.training_data import load_training_data

    out_dir = Path(args.out)
    started = time.perf_counter()
    if args.cross_validation:
        nlu_path = Path(args.nlu) if args.nlu else project_dir() / "nlu"
        config = load_config(project_dir() / "config.yml")
        data = load_training_data(nlu_path)
        _print(f"Cross-validating: {args.folds} stratified folds over {len(data.examples)} examples…")
        predictions = evaluate.cross_validate(config, data, int(args.folds))
        title = f"{args.folds}-fold cross-validation"
    else:
        from bot.nlu.model import load_archive, load_latest

        test_path = Path(args.nlu) if args.nlu else project_dir() / "tests" / "nlu" / "nlu_test.yml"
        test_data = load_training_data(test_path)
        interpreter = load_archive(Path(args.model)) if args.model else load_latest()
        _print(f"Testing model {interpreter.fingerprint[:8]} on {len(test_data.examples)} examples…")
        predictions = evaluate.predict(interpreter.parse, test_data.examples)
        title = f"test set {test_path.name}"
    summary = evaluate.write_results(predictions, out_dir, title)
    for line in summary.lines():
        _print(line)
    _print(f"results written to {out_dir}/ in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `bot` command")
