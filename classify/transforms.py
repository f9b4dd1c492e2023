"""Image-to-tensor pipelines: the deterministic one every model file records, and training augmentation."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.transforms import v2

from .checkpoint import Preprocess
from .errors import ClassifyError
from .images import load_image

AUGMENTS = ("light", "default", "strong")
# Smallest share of the image area a training crop covers, per augmentation level.
MIN_CROP_AREA = {"light": 0.35, "default": 0.25, "strong": 0.08}
NARROWEST_CROP = 3 / 4  # RandomResizedCrop's default aspect ratios run from 3/4 to 4/3


@dataclass(frozen=True)
class Pipeline:
    """File to tensor: decode, then transform. A JPEG is decoded at reduced scale down to `decode_side`, the
    shorter side below which the transform would start to enlarge what it crops, so nothing is lost."""

    transform: Callable
    decode_side: int

    def __call__(self, path: Path) -> torch.Tensor:
        return self.transform(load_image(path, min_side=self.decode_side))


def eval_pipeline(preprocess: Preprocess) -> Pipeline:
    return Pipeline(eval_transform(preprocess), preprocess.resize)


def train_pipeline(preprocess: Preprocess, augment: str = "default") -> Pipeline:
    """The decode side keeps the smallest crop (least area, narrowest ratio) at least `crop` pixels across."""
    transform = train_transform(preprocess, augment)
    return Pipeline(transform, math.ceil(preprocess.crop / math.sqrt(MIN_CROP_AREA[augment] * NARROWEST_CROP)))


def eval_transform(preprocess: Preprocess) -> v2.Compose:
    """Resize the shorter side, centre-crop, normalise: what validation, `eval` and `predict` all use."""
    return v2.Compose([
        v2.ToImage(),
        v2.Resize(preprocess.resize, antialias=True),
        v2.CenterCrop(preprocess.crop),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(preprocess.mean), list(preprocess.std)),
    ])


def train_transform(preprocess: Preprocess, augment: str = "default") -> v2.Compose:
    """Random crops and flips (light); plus small rotations, colour jitter and random erasing (default); plus
    TrivialAugmentWide (strong). Output size and normalisation match `eval_transform(preprocess)`."""
    if augment not in AUGMENTS:
        raise ClassifyError(f"unknown augmentation {augment!r}; choose {', '.join(AUGMENTS)}")
    steps: list = [v2.ToImage(),
                   v2.RandomResizedCrop(preprocess.crop, scale=(MIN_CROP_AREA[augment], 1.0),
                                        ratio=(NARROWEST_CROP, 1 / NARROWEST_CROP), antialias=True),
                   v2.RandomHorizontalFlip()]
    if augment != "light":
        steps += [v2.RandomRotation(10), v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02)]
    if augment == "strong":
        steps.append(v2.TrivialAugmentWide())
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(preprocess.mean), list(preprocess.std))]
    if augment != "light":
        steps.append(v2.RandomErasing(p=0.25, value=0))
    return v2.Compose(steps)
