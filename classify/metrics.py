"""Classification metrics from predictions: pure numpy, shared by training, evaluation and baselines."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    precision: float
    recall: float
    f1: float
    support: int


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    flat = np.asarray(targets, dtype=np.int64) * num_classes + np.asarray(predictions, dtype=np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def accuracy(matrix: np.ndarray) -> float:
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0


def per_class(matrix: np.ndarray, classes: list[str]) -> list[ClassMetrics]:
    """Precision, recall and F1 per class; a class never predicted (or never present) scores 0, not NaN."""
    true_positive = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return [ClassMetrics(name, float(p), float(r), float(f), int(n))
            for name, p, r, f, n in zip(classes, precision, recall, f1, actual, strict=True)]


def macro_f1(rows: list[ClassMetrics]) -> float:
    """The mean F1 over classes: every class weighs the same, however many images it has."""
    return float(np.mean([row.f1 for row in rows])) if rows else 0.0


def report(matrix: np.ndarray, classes: list[str]) -> dict:
    """The JSON-ready summary written beside a model and printed by `--json`."""
    rows = per_class(matrix, classes)
    return {
        "accuracy": accuracy(matrix),
        "macro_f1": macro_f1(rows),
        "per_class": [asdict(row) for row in rows],
        "confusion": matrix.tolist(),
    }
