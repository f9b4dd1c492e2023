"""`model.pt`: one file holding weights, architecture, class names, preprocessing and metrics.

Everything needed to use a trained model travels in this file, so `predict`, `eval` and `export`
need nothing else, and a user can load it with plain `torch.load`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .atomic import write_torch
from .errors import ClassifyError
from .models import build_model

FORMAT = "imgharvest-classifier/1"


class CheckpointError(ClassifyError):
    """The file is not a model this tool wrote, or it is damaged."""


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes the model's input at evaluation time: resize shorter side, centre crop, normalise."""

    resize: int = 256
    crop: int = 224
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass
class ModelFile:
    """A trained model as `model.pt` holds it; `path` is where it was loaded from (None for one made in memory)."""

    arch: str
    classes: list[str]
    state_dict: dict[str, torch.Tensor]
    preprocess: Preprocess = field(default_factory=Preprocess)
    metrics: dict = field(default_factory=dict)
    path: Path | None = None

    def build(self) -> nn.Module:
        """The architecture with these weights, in eval mode on the CPU."""
        model = build_model(self.arch, len(self.classes))
        model.load_state_dict(self.state_dict)
        return model.eval()


def save_model(model_file: ModelFile, path: Path) -> Path:
    """The model file, with plain CPU tensors so it loads anywhere."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "arch": model_file.arch,
        "classes": list(model_file.classes),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model_file.state_dict.items()},
        "preprocess": asdict(model_file.preprocess),
        "metrics": model_file.metrics,
    }
    write_torch(payload, path)
    return path


def load_model(path: str | os.PathLike) -> ModelFile:
    """The model file at `path`, or CheckpointError saying why it is not one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many unrelated types for a damaged or foreign file
        raise CheckpointError(f"{path}: not a readable model file ({type(error).__name__})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a model written by `classify train` (expected format {FORMAT})")
    preprocess = payload["preprocess"]
    return ModelFile(
        arch=payload["arch"],
        classes=list(payload["classes"]),
        state_dict=payload["state_dict"],
        preprocess=Preprocess(
            resize=preprocess["resize"], crop=preprocess["crop"],
            mean=tuple(preprocess["mean"]), std=tuple(preprocess["std"]),
        ),
        metrics=payload.get("metrics", {}),
        path=path,
    )
