"""`classify predict`: top-k classes for image files and folders, one bad file never stopping the rest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import ModelFile
from .images import image_files
from .inference import InferenceOptions, infer


@dataclass(frozen=True)
class Guess:
    label: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    """The most probable classes of one image, best first; `true` is its label when it came from a labelled split."""

    path: Path
    top: list[Guess]
    true: str | None = None

    def to_json(self) -> dict:
        labelled = {} if self.true is None else {"true": self.true}
        return {"path": str(self.path), **labelled,
                "top": [{"class": g.label, "probability": g.probability} for g in self.top]}


@dataclass(frozen=True)
class Failure:
    path: Path
    error: str

    def to_json(self) -> dict:
        return {"path": str(self.path), "error": self.error}


@dataclass
class Predictions:
    """What `predict` returns: a prediction per readable image and a failure per unreadable or missing one."""

    predictions: list[Prediction]
    failures: list[Failure]

    def to_json(self) -> dict:
        return {"predictions": [p.to_json() for p in self.predictions], "errors": [f.to_json() for f in self.failures]}


def expand_paths(paths: Iterable[Path]) -> list[Path | Failure]:
    """Files as given; folders as the image files inside them (recursively, sorted; hidden files and folders and
    `_quarantine` skipped)."""
    return list(_expand(paths))


def _expand(paths: Iterable[Path]) -> Iterator[Path | Failure]:
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from image_files(path)
        elif path.is_file():
            yield path
        else:
            yield Failure(path, "no such file or folder")


def most_probable(probabilities: torch.Tensor | np.ndarray, classes: Sequence[str], k: int) -> list[list[Guess]]:
    """The k most probable classes per row, most probable first."""
    values, indices = torch.as_tensor(probabilities).topk(min(k, len(classes)), dim=1)
    return [[Guess(classes[i], float(p)) for p, i in zip(row_p, row_i, strict=True)]
            for row_p, row_i in zip(values.tolist(), indices.tolist(), strict=True)]


def predict_paths(model_file: ModelFile, items: Sequence[Path | Failure], *, top_k: int = InferenceOptions.top_k,
                  device: torch.device | str = "cpu", batch_size: int = InferenceOptions.batch_size,
                  workers: int = InferenceOptions.workers, progress: bool = False) -> list[Prediction | Failure]:
    """One Prediction per readable image and one Failure per unreadable one, in input order.

    `items` come from `expand_paths`, so a missing path arrives as a Failure and passes straight through.
    """
    paths = [item for item in items if not isinstance(item, Failure)]
    outputs = infer(model_file, paths, device=device, batch_size=batch_size, workers=workers, progress=progress,
                    description="predict")
    results: dict[int, Prediction | Failure] = {
        int(index): Prediction(paths[index], guesses)
        for index, guesses in zip(outputs.indices, most_probable(outputs.probabilities, model_file.classes, top_k), strict=True)}
    results.update((index, Failure(paths[index], reason)) for index, reason in outputs.unreadable)
    position = iter(range(len(paths)))
    return [item if isinstance(item, Failure) else results[next(position)] for item in items]


def format_table(predictions: Sequence[Prediction]) -> str:
    """One line per image: the path, then `class probability` for each of the top-k, best first."""
    if not predictions:
        return ""
    width = max(len("path"), *(len(str(p.path)) for p in predictions))
    lines = [f"{'path':<{width}}  top classes with probability"]
    for prediction in predictions:
        guesses = "  ".join(f"{g.label} {g.probability:.3f}" for g in prediction.top)
        lines.append(f"{prediction.path!s:<{width}}  {guesses}")
    return "\n".join(lines)
