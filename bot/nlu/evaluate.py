"""``bot test nlu``: Rasa's result files for a test set or for stratified K-fold cross-validation.

Written to the output directory: ``intent_report.json`` (scikit-learn's classification report as a
dict), ``intent_errors.json`` (Rasa's format) and ``intent_confusion_matrix.png`` (needs the ``plot``
extra, matplotlib; skipped with a notice without it). As in Rasa, the prediction includes the
FallbackClassifier, so ``nlu_fallback`` counts as an error (it lowers the recall of the true intent),
and, as in Rasa's ``get_evaluation_metrics``, the report's classes are the intents of the test examples
only: a predicted-only label such as ``nlu_fallback`` is not averaged in as an extra class with F1 0.
The summary also gives the classifier's own figures (top intent before fallback) to tell the two apart.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ConfigError
from bot.nlu.config import PipelineConfig
from bot.nlu.extras import require_training_extra
from bot.nlu.pipeline import Pipeline
from bot.nlu.training_data import Example, TrainingData

Parse = Callable[[str], dict[str, Any]]


@dataclass
class Predictions:
    examples: list[Example] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    #: Top intent of the classifier itself (ignoring nlu_fallback).
    classifier: list[str] = field(default_factory=list)

    def add(self, example: Example, result: dict[str, Any]) -> None:
        intent = result["intent"]
        self.examples.append(example)
        self.predicted.append(str(intent["name"]))
        self.confidence.append(float(intent["confidence"]))
        others = [r["name"] for r in result["intent_ranking"] if r["name"] != "nlu_fallback"]
        self.classifier.append(str(others[0]) if others else str(intent["name"]))

    def extend(self, other: Predictions) -> None:
        self.examples.extend(other.examples)
        self.predicted.extend(other.predicted)
        self.confidence.extend(other.confidence)
        self.classifier.extend(other.classifier)

    @property
    def truth(self) -> list[str]:
        return [e.intent for e in self.examples]


@dataclass(frozen=True)
class Summary:
    accuracy: float
    macro_f1: float
    weighted_f1: float
    classifier_macro_f1: float
    fallback_rate: float
    examples: int
    errors: int

    def lines(self) -> list[str]:
        return [
            f"examples: {self.examples}, errors: {self.errors}",
            f"accuracy: {self.accuracy:.4f}  macro F1: {self.macro_f1:.4f}  "
            f"weighted F1: {self.weighted_f1:.4f}",
            f"classifier alone (before fallback) macro F1: {self.classifier_macro_f1:.4f}; "
            f"fallback rate: {self.fallback_rate:.2%}",
        ]


def predict(parse: Parse, examples: Sequence[Example]) -> Predictions:
    predictions = Predictions()
    for example in examples:
        predictions.add(example, parse(example.text))
    return predictions


def cross_validate(config: PipelineConfig, data: TrainingData, folds: int, seed: int = 42) -> Predictions:
    """Stratified K-fold: train on K-1 folds, predict the held-out one; predictions of all folds."""
    require_training_extra("cross-validation")
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        raise ConfigError("--folds must be at least 2")
    counts = Counter(e.intent for e in data.examples)
    smallest = min(counts, key=lambda k: counts[k])
    if counts[smallest] < folds:
        raise ConfigError(
            f"--folds {folds} is more than the {counts[smallest]} examples of intent '{smallest}'"
        )
    labels = [e.intent for e in data.examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predictions = Predictions()
    for train_idx, test_idx in splitter.split(labels, labels):
        pipeline = Pipeline(config)
        pipeline.train(data.subset(int(i) for i in train_idx))
        held_out = [data.examples[int(i)] for i in test_idx]
        predictions.extend(predict(pipeline.parse, held_out))
    return predictions


def report(predictions: Predictions) -> dict[str, Any]:
    """Rasa's intent report: classes are the true intents; ``accuracy`` and ``micro avg`` both present."""
    require_training_extra("the NLU test report")
    from sklearn.metrics import accuracy_score, classification_report

    truth, predicted = predictions.truth, predictions.predicted
    labels = sorted(set(truth))
    if not labels:
        return {}
    result = dict(classification_report(truth, predicted, labels=labels, output_dict=True, zero_division=0))
    # Rasa's make_classification_report_complete: with explicit labels scikit-learn gives either
    # "accuracy" (every prediction is one of the labels) or "micro avg" (some are not, e.g. nlu_fallback).
    if "accuracy" in result and "micro avg" not in result:
        accuracy = float(result["accuracy"])
        result["micro avg"] = {
            "precision": accuracy,
            "recall": accuracy,
            "f1-score": accuracy,
            "support": result["macro avg"]["support"],
        }
    else:
        result["accuracy"] = float(accuracy_score(truth, predicted))
    return result


def summarise(predictions: Predictions, intent_report: dict[str, Any]) -> Summary:
    require_training_extra("the NLU test report")
    from sklearn.metrics import f1_score

    truth = predictions.truth
    labels = sorted(set(truth))
    errors = sum(t != p for t, p in zip(truth, predictions.predicted, strict=True))
    total = max(len(truth), 1)
    classifier_f1 = (
        f1_score(truth, predictions.classifier, labels=labels, average="macro", zero_division=0)
        if labels
        else 0.0
    )
    return Summary(
        accuracy=float(intent_report.get("accuracy", 0.0)),
        macro_f1=float(intent_report.get("macro avg", {}).get("f1-score", 0.0)),
        weighted_f1=float(intent_report.get("weighted avg", {}).get("f1-score", 0.0)),
        classifier_macro_f1=float(classifier_f1),
        fallback_rate=sum(p == "nlu_fallback" for p in predictions.predicted) / total,
        examples=len(truth),
        errors=errors,
    )


def error_list(predictions: Predictions) -> list[dict[str, Any]]:
    """Rasa's intent_errors.json entries."""
    return [
        {
            "text": example.text,
            "intent": example.intent,
            "intent_prediction": {"name": name, "confidence": confidence},
        }
        for example, name, confidence in zip(
            predictions.examples, predictions.predicted, predictions.confidence, strict=True
        )
        if name != example.intent
    ]


def plot_confusion_matrix(predictions: Predictions, path: Path, title: str) -> bool:
    """Write the PNG; False (nothing written) when matplotlib, the ``plot`` extra, is not installed."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(predictions.truth) | set(predictions.predicted))
    matrix = confusion_matrix(predictions.truth, predictions.predicted, labels=labels)
    size = max(6.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    try:
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels=labels, rotation=90, fontsize=8)
        ax.set_yticks(range(len(labels)), labels=labels, fontsize=8)
        ax.set_xlabel("predicted intent")
        ax.set_ylabel("true intent")
        ax.set_title(title)
        limit = matrix.max() / 2 if matrix.size else 0
        for (row, col), value in np.ndenumerate(matrix):
            if value:
                colour = "white" if value > limit else "black"
                ax.text(col, row, str(value), ha="center", va="center", fontsize=7, color=colour)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return True


def write_results(predictions: Predictions, out_dir: Path, title: str) -> Summary:
    out_dir.mkdir(parents=True, exist_ok=True)
    intent_report = report(predictions)
    (out_dir / "intent_report.json").write_text(
        json.dumps(intent_report, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    (out_dir / "intent_errors.json").write_text(
        json.dumps(error_list(predictions), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    if not plot_confusion_matrix(predictions, out_dir / "intent_confusion_matrix.png", title):
        print(
            "note: intent_confusion_matrix.png not written: matplotlib is not installed "
            "(pip install 'clinic-bot[plot]')",
            flush=True,
        )
    return summarise(predictions, intent_report)
