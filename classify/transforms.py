"""Image-to-tensor pipelines: the deterministic one every model file records, and training augmentation."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from .checkpoint import Preprocess


def eval_transform(preprocess: Preprocess) -> v2.Compose:
    """Resize the shorter side, centre-crop, normalise: what validation, `eval` and `predict` all use."""
    return v2.Compose([
        v2.ToImage(),
        v2.Resize(preprocess.resize, antialias=True),
        v2.CenterCrop(preprocess.crop),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(preprocess.mean), list(preprocess.std)),
    ])
