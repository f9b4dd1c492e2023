"""`classify predict`: top-k classes for image files and folders, one bad file never stopping the rest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch

from .checkpoint import ModelFile
from .images import ImageReadError, image_files
from .transforms import eval_pipeline


@dataclass(frozen=True)
class Guess:
    label: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    path: Path
    top: list[Guess]

    def to_json(self) -> dict:
        return {"path": str(self.path), "top": [{"class": g.label, "probability": g.probability} for g in self.top]}


@dataclass(frozen=True)
class Failure:
    path: Path
    error: str

    def to_json(self) -> dict:
        return {"path": str(self.path), "error": self.error}


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


def top_k(probabilities: torch.Tensor, classes: Sequence[str], k: int) -> list[list[Guess]]:
    """The k most probable classes per row, most probable first."""
    values, indices = probabilities.topk(min(k, len(classes)), dim=1)
    return [[Guess(classes[i], float(p)) for p, i in zip(row_p, row_i, strict=True)]
            for row_p, row_i in zip(values.tolist(), indices.tolist(), strict=True)]


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def predict_paths(model_file: ModelFile, items: Iterable[Path | Failure], *, top: int = 5,
                  device: torch.device | str = "cpu", batch_size: int = 32) -> Iterator[Prediction | Failure]:
    """One Prediction per readable image and one Failure per unreadable one, in input order, batch by batch.

    `items` come from `expand_paths`, so a missing path arrives as a Failure and passes straight through.
    """
    device = torch.device(device)
    model = model_file.build().to(device)
    pipeline = eval_pipeline(model_file.preprocess)
    for chunk in batched(items, batch_size):
        results: list[Prediction | Failure | None] = []
        tensors, slots = [], []
        for item in chunk:
            if isinstance(item, Failure):
                results.append(item)
                continue
            try:
                tensors.append(pipeline(item))
            except ImageReadError as error:
                results.append(Failure(item, str(error)))
                continue
            slots.append((len(results), item))
            results.append(None)
        if tensors:
            with torch.inference_mode():
                probabilities = model(torch.stack(tensors).to(device)).float().softmax(dim=1).cpu()
            for (slot, path), guesses in zip(slots, top_k(probabilities, model_file.classes, top), strict=True):
                results[slot] = Prediction(path, guesses)
        yield from results


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
