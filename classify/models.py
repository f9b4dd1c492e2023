"""Torchvision classification models with their head sized for the dataset's classes.

Pretrained weights (torchvision's, or a local state dict for offline machines) fill everything but the head,
which keeps the exact structure `torchvision.models.get_model(arch, num_classes=n)` gives, so a trained model's
state dict always loads into `build_model(arch, n)`.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from .errors import ClassifyError

WEIGHTS_CHOICES = "DEFAULT (torchvision's pretrained weights), a path to a state dict, or none"


class ModelError(ClassifyError):
    """Unknown architecture or unusable weights."""


def _check_arch(arch: str) -> None:
    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise ModelError(f"unknown model {arch!r}; any torchvision classification model works, e.g. resnet18, "
                         "resnet50, mobilenet_v3_large, efficientnet_b0, convnext_tiny")


def build_model(arch: str, num_classes: int) -> nn.Module:
    """A randomly initialised `arch` whose final layer has `num_classes` outputs."""
    _check_arch(arch)
    return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)


def head_names(arch: str, num_classes: int) -> set[str]:
    """Names of the parameters and buffers whose shape depends on the number of classes: the head (and auxiliary
    heads, as in inception_v3). Found by building the model on the meta device, which allocates nothing."""
    _check_arch(arch)
    with torch.device("meta"):
        shapes = {name: tensor.shape for name, tensor in
                  torchvision.models.get_model(arch, weights=None, num_classes=num_classes).state_dict().items()}
        other = torchvision.models.get_model(arch, weights=None, num_classes=num_classes + 1).state_dict()
    return {name for name, tensor in other.items() if shapes.get(name) != tensor.shape}


def pretrained_state_dict(arch: str, weights: str) -> dict[str, torch.Tensor]:
    """`DEFAULT`: torchvision's pretrained weights for `arch` (downloaded once into torch's cache); otherwise a
    path to a state dict, or to a `model.pt` written by `classify train`."""
    if weights == "DEFAULT":
        try:
            enum = torchvision.models.get_model_weights(arch)
        except (KeyError, ValueError) as error:
            raise ModelError(f"torchvision has no pretrained weights for {arch}; use --weights none or PATH") from error
        try:
            return enum.DEFAULT.get_state_dict(progress=True, check_hash=True)
        except (OSError, RuntimeError) as error:  # urllib's URLError is an OSError; a bad hash a RuntimeError
            raise ModelError(f"could not download the pretrained weights for {arch} ({error}); on an offline machine "
                             "use --weights PATH with a state dict saved elsewhere, or --weights none") from error
    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"--weights {weights}: no such file; use {WEIGHTS_CHOICES}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many unrelated types for a damaged or foreign file
        raise ModelError(f"--weights {path}: not a readable state dict ({type(error).__name__})") from error
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict) or not all(isinstance(value, torch.Tensor) for value in payload.values()):
        raise ModelError(f"--weights {path}: not a state dict (a mapping of parameter names to tensors)")
    return payload


def load_body(model: nn.Module, state_dict: dict[str, torch.Tensor], head: set[str], source: str, arch: str) -> None:
    """Copy every entry but the head into `model`; anything else missing, extra or of another shape is an error,
    since it means the weights belong to another architecture."""
    own = model.state_dict()
    missing = [name for name in own if name not in head and name not in state_dict]
    extra = [name for name in state_dict if name not in own]
    wrong = [name for name in own if name not in head and name in state_dict
             and state_dict[name].shape != own[name].shape]
    if missing or extra or wrong:
        problems = [f"{len(found)} {what} (e.g. {found[0]})" for found, what in
                    ((missing, "missing"), (extra, "unexpected"), (wrong, "of another shape")) if found]
        raise ModelError(f"{source} does not fit {arch}: parameters {', '.join(problems)}")
    model.load_state_dict({name: tensor for name, tensor in state_dict.items()
                           if name not in head or tensor.shape == own[name].shape}, strict=False)


def create_model(arch: str, num_classes: int, weights: str = "none") -> tuple[nn.Module, set[str]]:
    """The model to train and the names of its head; `weights` is DEFAULT, none or a path (see WEIGHTS_CHOICES).

    A head whose shape already fits (weights of a model trained on as many classes) is kept as well.
    """
    model = build_model(arch, num_classes)
    head = head_names(arch, num_classes)
    if weights.lower() != "none":
        load_body(model, pretrained_state_dict(arch, weights), head,
                  f"--weights {weights}" if weights != "DEFAULT" else f"torchvision's {arch} weights", arch)
    return model, head


def parameter_groups(model: nn.Module, head: set[str], chunks: int = 3
                     ) -> list[tuple[str, list[tuple[str, nn.Parameter]]]]:
    """Named groups for discriminative learning rates: the body cut into `chunks` consecutive parts by parameter
    count (earliest layers first), then the head."""
    named = list(model.named_parameters())
    body = [(name, p) for name, p in named if name not in head]
    total = sum(p.numel() for _, p in body) or 1
    groups: list[list[tuple[str, nn.Parameter]]] = [[] for _ in range(chunks)]
    seen = 0
    for name, parameter in body:
        groups[min(chunks - 1, seen * chunks // total)].append((name, parameter))
        seen += parameter.numel()
    result = [(f"body{i}", group) for i, group in enumerate(groups) if group]
    return result + [("head", [(name, p) for name, p in named if name in head])]


def set_body_trainable(model: nn.Module, head: set[str], trainable: bool) -> None:
    """Freeze (or unfreeze) every parameter outside the head; normalisation statistics keep updating."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(trainable or name in head)
