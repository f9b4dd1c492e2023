"""Batched inference from image files: the one path `predict`, `eval`, training's final report, the galleries and
`embed` share, so they agree on every probability and feature: the model file's preprocessing, the same batches,
the same precision (bf16 autocast and channels_last on CUDA, float32 on the CPU).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .checkpoint import ModelFile
from .errors import ClassifyError
from .images import ImageReadError
from .models import head_names
from .transforms import Pipeline, eval_pipeline


@dataclass(frozen=True)
class InferenceOptions:
    """How images are run through a model and how many classes each gets reported with; `predict` and `eval`
    share these defaults."""

    top_k: int = 3
    device: str = "auto"
    batch_size: int = 64
    workers: int = 2
    progress: bool = True

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.batch_size < 1 or self.workers < 0:
            raise ClassifyError("top_k and batch_size must be at least 1, workers at least 0")


@dataclass
class Outputs:
    """Softmax probabilities of the images that decoded, each row's position in the input, and the positions of
    the images that did not decode with the reason; `features` (the head's input) when asked for."""

    probabilities: np.ndarray
    indices: np.ndarray
    unreadable: list[tuple[int, str]]
    features: np.ndarray | None = None


def autocast(device: torch.device) -> AbstractContextManager:
    """bf16 on CUDA, where it is several times faster and accurate enough to rank classes; float32 elsewhere."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def memory_format(device: torch.device) -> torch.memory_format:
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


class _Images(Dataset):
    """Decodes lazily in loader workers; an unreadable file becomes a recorded miss, not a crashed run."""

    def __init__(self, paths: Sequence[Path], pipeline: Pipeline) -> None:
        self.paths, self.pipeline = list(paths), pipeline

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | None, int, str]:
        try:
            return self.pipeline(self.paths[index]), index, ""
        except ImageReadError as error:
            return None, index, str(error)


def _collate(batch: list) -> tuple[torch.Tensor | None, torch.Tensor, list[tuple[int, str]]]:
    good = [(tensor, index) for tensor, index, _ in batch if tensor is not None]
    failed = [(index, reason) for tensor, index, reason in batch if tensor is None]
    images = torch.stack([tensor for tensor, _ in good]) if good else None
    return images, torch.tensor([index for _, index in good], dtype=torch.int64), failed


def final_layer(model: nn.Module, head: set[str]) -> nn.Module:
    """The module that turns features into class scores: the last one holding head parameters (an auxiliary head,
    as in inception_v3, comes earlier and is not run in eval mode)."""
    owners = {name.rsplit(".", 1)[0] for name in head}
    return [module for name, module in model.named_modules() if name in owners][-1]


@dataclass
class Batch:
    """One batch's outputs: as Outputs, for the images of this batch only."""

    probabilities: torch.Tensor
    indices: torch.Tensor
    unreadable: list[tuple[int, str]]
    features: torch.Tensor | None = None


def infer_batches(model_file: ModelFile, paths: Sequence[Path], *, device: torch.device | str = "cpu",
                  batch_size: int = InferenceOptions.batch_size, workers: int = InferenceOptions.workers,
                  features: bool = False) -> Iterator[Batch]:
    """Run the model over every image file in order, batch by batch, with the model file's preprocessing; with
    `features`, also keep what enters the final layer (the penultimate features), from the same forward pass.

    Loader workers start only when there is more than one batch: one small batch decodes faster than they start.
    """
    device = torch.device(device)
    model = model_file.build().to(device, memory_format=memory_format(device))
    captured: list[torch.Tensor] = []
    if features:
        final_layer(model, head_names(model_file.arch, len(model_file.classes))).register_forward_pre_hook(
            lambda _module, inputs: captured.append(inputs[0].flatten(1).float().cpu()))
    workers = workers if len(paths) > batch_size else 0
    loader = DataLoader(_Images(paths, eval_pipeline(model_file.preprocess)), batch_size=batch_size,
                        num_workers=workers, collate_fn=_collate, pin_memory=device.type == "cuda")
    for images, indices, failed in loader:
        if images is None:
            yield Batch(torch.zeros(0, len(model_file.classes)), indices, failed,
                        torch.zeros(0, 0) if features else None)
            continue
        # Entered per batch, not around the loop: the caller's code between batches keeps its own grad mode.
        with torch.inference_mode(), autocast(device):
            images = images.to(device, non_blocking=True, memory_format=memory_format(device))
            probabilities = model(images).float().softmax(dim=1).cpu()
        yield Batch(probabilities, indices, failed, captured.pop() if features else None)


def infer(model_file: ModelFile, paths: Sequence[Path], *, device: torch.device | str = "cpu",
          batch_size: int = InferenceOptions.batch_size, workers: int = InferenceOptions.workers,
          progress: bool = InferenceOptions.progress, description: str = "infer", features: bool = False) -> Outputs:
    """Every batch of `infer_batches` gathered; the progress bar shows from two batches on."""
    batches = infer_batches(model_file, paths, device=device, batch_size=batch_size, workers=workers,
                            features=features)
    probabilities, indices, unreadable, captured = [], [], [], []
    for batch in tqdm(batches, desc=description, unit="batch", leave=False, total=math.ceil(len(paths) / batch_size),
                      disable=not progress or len(paths) <= batch_size):
        unreadable.extend(batch.unreadable)
        if len(batch.indices):
            probabilities.append(batch.probabilities)
            indices.append(batch.indices)
            captured.append(batch.features)
    if not probabilities:
        return Outputs(np.zeros((0, len(model_file.classes)), np.float32), np.zeros(0, np.int64), unreadable,
                       np.zeros((0, 0), np.float32) if features else None)
    return Outputs(torch.cat(probabilities).numpy(), torch.cat(indices).numpy(), unreadable,
                   torch.cat(captured).numpy() if features else None)
