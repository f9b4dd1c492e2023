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


AUGMENTS = ("light", "default", "strong")


def train_transform(preprocess: Preprocess, augment: str = "default") -> v2.Compose:
    """Random crops and flips (light); plus small rotations, colour jitter and random erasing (default); plus
    TrivialAugmentWide (strong). Output size and normalisation match `eval_transform(preprocess)`."""
    if augment not in AUGMENTS:
        raise ValueError(f"unknown augmentation {augment!r}; choose {', '.join(AUGMENTS)}")
    min_scale = {"light": 0.35, "default": 0.25, "strong": 0.08}[augment]
    steps: list = [v2.ToImage(), v2.RandomResizedCrop(preprocess.crop, scale=(min_scale, 1.0), antialias=True),
                   v2.RandomHorizontalFlip()]
    if augment != "light":
        steps += [v2.RandomRotation(10), v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02)]
    if augment == "strong":
        steps.append(v2.TrivialAugmentWide())
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(preprocess.mean), list(preprocess.std))]
    if augment != "light":
        steps.append(v2.RandomErasing(p=0.25, value=0))
    return v2.Compose(steps)
