"""Torchvision classification models with their head sized for the dataset's classes."""

from __future__ import annotations

import torchvision
from torch import nn


class ModelError(ValueError):
    """Unknown architecture or unusable weights."""


def build_model(arch: str, num_classes: int) -> nn.Module:
    """A randomly initialised `arch` whose final layer has `num_classes` outputs."""
    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise ModelError(f"unknown model {arch!r}; any torchvision classification model works, e.g. resnet18, "
                         "resnet50, mobilenet_v3_large, efficientnet_b0, convnext_tiny")
    return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
