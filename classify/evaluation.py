"""Measuring a model on a labelled split, and the report a user reads to decide whether to trust a model:
accuracy, per-class precision/recall/F1, `confusion.png`, `top_losses.png` and `predictions.png`.

Used by `classify eval` and by `classify train` for its final report on the validation split.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .atomic import write_json
from .checkpoint import ModelFile
from .errors import ClassifyError
from .gallery import Tile, most_confidently_wrong, plot_predictions, plot_top_losses, sample
from .inference import InferenceOptions, infer
from .metrics import ClassMetrics, accuracy, confusion_matrix, macro_f1, per_class
from .plots import plot_confusion
from .prediction import Failure, Prediction, most_probable

logger = logging.getLogger(__name__)

GALLERY_SIZE = 16
REPORT_NAME = "evaluation.json"


class EvaluationError(ClassifyError):
    """The split cannot be evaluated with this model (no images, or classes the model does not know)."""


class LabelledSplit(Protocol):
    """What evaluation needs from a dataset: `(path, class index)` pairs and the class names they index."""

    samples: Sequence[tuple[Path, int]]
    classes: Sequence[str]


@dataclass(frozen=True)
class EvalOptions(InferenceOptions):
    """`split` of the data folder to measure on; `out`, where the report goes (default: `eval-<split>` beside the
    model file)."""

    split: str = "val"
    out: Path | None = None


@dataclass
class Evaluation:
    """A model measured on a labelled split: the figures, each image's top classes, and the files written."""

    accuracy: float
    macro_f1: float
    loss: float
    images: int
    per_class: list[ClassMetrics]
    confusion: list[list[int]]
    unreadable: list[Failure]
    predictions: list[Prediction]
    files: dict[str, Path] = field(default_factory=dict)

    def to_json(self, per_image: bool = True) -> dict:
        """`evaluation.json`; without `per_image`, the figures alone (what `model.pt` keeps)."""
        summary = {
            "accuracy": self.accuracy, "macro_f1": self.macro_f1, "per_class": [asdict(row) for row in self.per_class],
            "confusion": self.confusion, "loss": self.loss, "images": self.images,
            "unreadable": [failure.to_json() for failure in self.unreadable],
        }
        if per_image:
            summary["predictions"] = [prediction.to_json() for prediction in self.predictions]
        summary["files"] = {name: str(path) for name, path in self.files.items()}
        return summary


def _check_classes(model_file: ModelFile, dataset: LabelledSplit) -> None:
    classes = list(model_file.classes)
    if list(dataset.classes) != classes:
        unknown = sorted(set(dataset.classes) - set(classes))
        detail = f"classes the model does not know: {', '.join(unknown)}" if unknown else \
            f"class order {list(dataset.classes)} differs from the model's {classes}"
        raise EvaluationError(f"the split does not match the model: {detail}")
    if not dataset.samples:
        raise EvaluationError("the split has no images to evaluate")


def tiles(probabilities: np.ndarray, targets: np.ndarray, paths: Sequence[Path], classes: Sequence[str],
          chosen: Sequence[int]) -> list[Tile]:
    """Gallery tiles for rows `chosen` of the probabilities."""
    predictions, losses = probabilities.argmax(axis=1), cross_entropy(probabilities, targets)
    return [Tile(path=Path(paths[i]), true=classes[targets[i]], predicted=classes[predictions[i]],
                 probability=float(probabilities[i, predictions[i]]), loss=float(losses[i])) for i in chosen]


def cross_entropy(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Cross-entropy of each image: how surprised the model was by the true label."""
    return -np.log(np.clip(probabilities[np.arange(len(targets)), targets], 1e-12, None))


def evaluate_model(model_file: ModelFile, dataset: LabelledSplit, out_dir: Path, *, device: torch.device | str = "cpu",
                   batch_size: int = InferenceOptions.batch_size, workers: int = InferenceOptions.workers,
                   top_k: int = InferenceOptions.top_k,
                   progress: bool = True) -> Evaluation:
    """Evaluate on `dataset` and write confusion.png, top_losses.png, predictions.png and evaluation.json
    (accuracy, macro F1, mean loss, per-class precision/recall/F1, confusion counts, each image's top classes)
    into `out_dir`."""
    _check_classes(model_file, dataset)
    classes = list(model_file.classes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_paths = [Path(path) for path, _ in dataset.samples]
    outputs = infer(model_file, all_paths, device=device, batch_size=batch_size, workers=workers, progress=progress,
                    description="evaluate")
    unreadable = [Failure(all_paths[index], reason) for index, reason in outputs.unreadable]
    if not len(outputs.indices):
        raise EvaluationError(f"none of the {len(dataset.samples)} images could be read, e.g. "
                              f"{unreadable[0].path}: {unreadable[0].error}")
    if unreadable:
        logger.warning("%d image(s) could not be read and were left out, e.g. %s: %s",
                       len(unreadable), unreadable[0].path, unreadable[0].error)
    probabilities = outputs.probabilities
    paths = [all_paths[index] for index in outputs.indices]
    targets = np.array([dataset.samples[index][1] for index in outputs.indices], dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    losses = cross_entropy(probabilities, targets)
    matrix = confusion_matrix(targets, predicted, len(classes))
    rows = per_class(matrix, classes)
    guesses = most_probable(probabilities, classes, top_k)
    evaluation = Evaluation(
        accuracy=accuracy(matrix), macro_f1=macro_f1(rows), loss=float(losses.mean()),
        images=len(targets), per_class=rows, confusion=matrix.tolist(), unreadable=unreadable,
        predictions=[Prediction(path, top, classes[target])
                     for path, top, target in zip(paths, guesses, targets, strict=True)])
    wrong = most_confidently_wrong(losses, targets, predicted, GALLERY_SIZE)
    evaluation.files = {
        "confusion": plot_confusion(matrix, classes, out_dir / "confusion.png",
                                    title=f"confusion matrix (accuracy {evaluation.accuracy:.1%})"),
        "top_losses": plot_top_losses(tiles(probabilities, targets, paths, classes, wrong), out_dir / "top_losses.png"),
        "predictions": plot_predictions(tiles(probabilities, targets, paths, classes,
                                              sample(len(targets), GALLERY_SIZE)), out_dir / "predictions.png"),
        "report": out_dir / REPORT_NAME,
    }
    write_json(evaluation.to_json(), evaluation.files["report"])
    return evaluation


def format_report(summary: dict) -> str:
    """Per-class precision, recall, F1 and support as a table, then the overall figures."""
    rows = summary["per_class"]
    width = max(len("class"), *(len(row["name"]) for row in rows))
    lines = [f"{'class':<{width}}  precision  recall     f1  support",
             f"{'-' * width}  ---------  ------  -----  -------"]
    lines += [f"{row['name']:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  "
              f"{row['support']:7d}" for row in rows]
    lines.append(f"accuracy {summary['accuracy']:.3f} on {summary['images']} images, macro F1 "
                 f"{summary['macro_f1']:.3f}, loss {summary['loss']:.3f}")
    return "\n".join(lines)
