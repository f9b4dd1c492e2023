"""Batched inference over a labelled split, and the report a user reads to decide whether to trust a model:
accuracy, per-class precision/recall/F1, `confusion.png`, `top_losses.png` and `predictions.png`.

Used by `classify eval` and by `classify train` for its final report on the validation split.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .atomic import write_json
from .checkpoint import ModelFile
from .gallery import Tile, most_confidently_wrong, plot_predictions, plot_top_losses, sample
from .images import ImageReadError
from .metrics import confusion_matrix, report
from .plots import plot_confusion
from .transforms import Pipeline, eval_pipeline

logger = logging.getLogger(__name__)

GALLERY_SIZE = 16
REPORT_NAME = "evaluation.json"


class EvaluationError(ValueError):
    """The split cannot be evaluated with this model (no images, or classes the model does not know)."""


class LabelledSplit(Protocol):
    """What evaluation needs from a dataset: `(path, class index)` pairs and the class names they index."""

    samples: Sequence[tuple[Path, int]]
    classes: Sequence[str]


@dataclass
class Outputs:
    """Softmax probabilities for the images that decoded, with their targets and positions in the split."""

    probabilities: np.ndarray
    targets: np.ndarray
    indices: np.ndarray
    unreadable: list[tuple[Path, str]]

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def losses(self) -> np.ndarray:
        """Cross-entropy of each image: how surprised the model was by the true label."""
        true_probability = self.probabilities[np.arange(len(self.targets)), self.targets]
        return -np.log(np.clip(true_probability, 1e-12, None))


class _Images(Dataset):
    """Decodes lazily in loader workers; an unreadable file becomes a recorded miss, not a crashed run."""

    def __init__(self, samples: Sequence[tuple[Path, int]], pipeline: Pipeline) -> None:
        self.samples, self.pipeline = list(samples), pipeline

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | None, int, int, str]:
        path, target = self.samples[index]
        try:
            return self.pipeline(path), target, index, ""
        except ImageReadError as error:
            return None, target, index, str(error)


def _collate(batch: list) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, list[tuple[int, str]]]:
    good = [item for item in batch if item[0] is not None]
    failed = [(index, reason) for tensor, _, index, reason in batch if tensor is None]
    images = torch.stack([item[0] for item in good]) if good else None
    return (images, torch.tensor([item[1] for item in good], dtype=torch.int64),
            torch.tensor([item[2] for item in good], dtype=torch.int64), failed)


def infer(model_file: ModelFile, samples: Sequence[tuple[Path, int]], *, device: torch.device | str = "cpu",
          batch_size: int = 64, workers: int = 0, progress: bool = True) -> Outputs:
    """Run the model over every sample with its own preprocessing; bf16 and channels_last on CUDA."""
    device = torch.device(device)
    model = model_file.build().to(device)
    cuda = device.type == "cuda"
    memory_format = torch.channels_last if cuda else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    loader = DataLoader(_Images(samples, eval_pipeline(model_file.preprocess)), batch_size=batch_size,
                        num_workers=workers, collate_fn=_collate, pin_memory=cuda)
    probabilities, targets, indices, unreadable = [], [], [], []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
        for images, batch_targets, batch_indices, failed in tqdm(loader, desc="evaluate", unit="batch",
                                                                  disable=not progress, leave=False):
            unreadable.extend((Path(samples[i][0]), reason) for i, reason in failed)
            if images is None:
                continue
            images = images.to(device, non_blocking=True, memory_format=memory_format)
            probabilities.append(model(images).float().softmax(dim=1).cpu())
            targets.append(batch_targets)
            indices.append(batch_indices)
    if not probabilities:
        return Outputs(np.zeros((0, len(model_file.classes)), np.float32), np.zeros(0, np.int64),
                       np.zeros(0, np.int64), unreadable)
    return Outputs(torch.cat(probabilities).numpy(), torch.cat(targets).numpy(), torch.cat(indices).numpy(),
                   unreadable)


def tiles(outputs: Outputs, samples: Sequence[tuple[Path, int]], classes: Sequence[str], chosen: Sequence[int]
          ) -> list[Tile]:
    """Gallery tiles for positions `chosen` within `outputs`."""
    predictions, losses = outputs.predictions, outputs.losses
    return [Tile(path=Path(samples[outputs.indices[i]][0]), true=classes[outputs.targets[i]],
                 predicted=classes[predictions[i]], probability=float(outputs.probabilities[i, predictions[i]]),
                 loss=float(losses[i])) for i in chosen]


def evaluate_model(model_file: ModelFile, dataset: LabelledSplit, out_dir: Path, *, device: torch.device | str = "cpu",
                   batch_size: int = 64, workers: int = 0, progress: bool = True) -> dict:
    """Evaluate on `dataset` and write confusion.png, top_losses.png, predictions.png and evaluation.json
    (accuracy, macro F1, mean loss, per-class precision/recall/F1, confusion counts) into `out_dir`."""
    classes = list(model_file.classes)
    if list(dataset.classes) != classes:
        unknown = sorted(set(dataset.classes) - set(classes))
        detail = f"classes the model does not know: {', '.join(unknown)}" if unknown else \
            f"class order {list(dataset.classes)} differs from the model's {classes}"
        raise EvaluationError(f"the split does not match the model: {detail}")
    if not dataset.samples:
        raise EvaluationError("the split has no images to evaluate")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = infer(model_file, dataset.samples, device=device, batch_size=batch_size, workers=workers,
                    progress=progress)
    if outputs.unreadable:
        path, reason = outputs.unreadable[0]
        logger.warning("%d image(s) could not be read and were left out, e.g. %s: %s",
                       len(outputs.unreadable), path, reason)
    if not len(outputs.targets):
        raise EvaluationError(f"none of the {len(dataset.samples)} images could be read")
    matrix = confusion_matrix(outputs.targets, outputs.predictions, len(classes))
    summary = {
        **report(matrix, classes),
        "loss": float(outputs.losses.mean()),
        "images": len(outputs.targets),
        "unreadable": [{"path": str(path), "error": reason} for path, reason in outputs.unreadable],
    }
    wrong = most_confidently_wrong(outputs.losses, outputs.targets, outputs.predictions, GALLERY_SIZE)
    files = {
        "confusion": plot_confusion(matrix, classes, out_dir / "confusion.png",
                                    title=f"confusion matrix (accuracy {summary['accuracy']:.1%})"),
        "top_losses": plot_top_losses(tiles(outputs, dataset.samples, classes, wrong), out_dir / "top_losses.png"),
        "predictions": plot_predictions(tiles(outputs, dataset.samples, classes,
                                              sample(len(outputs.targets), GALLERY_SIZE)),
                                        out_dir / "predictions.png"),
        "report": out_dir / REPORT_NAME,
    }
    summary["files"] = {name: str(path) for name, path in files.items()}
    write_json(summary, files["report"])
    return summary


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
