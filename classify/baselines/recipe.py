"""Hyperparameters: the tutorials' plain settings for mlp/cnn, a speed-run recipe for `fast`, and an optimizer of
the user's choice with a sensible learning rate for each.

The `fast` numbers follow the published CIFAR-10 speed runs (Page; Jordan's airbench): batch 1024, Nesterov
momentum 0.85, label smoothing 0.2, a triangular learning-rate schedule, batch-norm shifts learning 64x faster,
an exponential moving average of the weights pulled back into the model (lookahead).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..optimizers import make_optimizer

# Learning rates that train the tutorial models well at batch 128, as the optimizer comparisons use them.
TUTORIAL_LR = {"sgd": 0.1, "momentum": 0.01, "adagrad": 0.01, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
TUTORIAL_OPTIMIZER, TUTORIAL_EPOCHS, TUTORIAL_BATCH = "adam", 10, 128
FAST_OPTIMIZER, FAST_BATCH = "momentum", 1024
FAST_EPOCHS = {"grayscale": 4, "colour": 10}

# The speed run's step size per 1024 examples: what plain SGD would use; momentum divides it by its gain.
FAST_LR_PER_1024 = 11.5
FAST_WEIGHT_DECAY_PER_1024 = 0.0153
FAST_MOMENTUM = 0.85
FAST_BIAS_LR_SCALE = 64.0


@dataclass(frozen=True)
class Recipe:
    optimizer: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float  # decay per step, decoupled from the learning rate (SGD family) or AdamW's own
    label_smoothing: float
    translate: int  # random shift in pixels (0: none)
    schedule: str  # "constant" or "triangle"
    lookahead: bool
    tta: bool


def make_recipe(model: str, grayscale: bool, optimizer: str | None = None, epochs: int | None = None,
                batch_size: int | None = None, lr: float | None = None) -> Recipe:
    """Defaults for `model`, overridden by whatever the user set."""
    if model == "fast":
        optimizer = optimizer or FAST_OPTIMIZER
        batch_size = batch_size or FAST_BATCH
        epochs = epochs or FAST_EPOCHS["grayscale" if grayscale else "colour"]
        gain = momentum_gain(optimizer)
        default_lr = FAST_LR_PER_1024 * batch_size / 1024 / gain if optimizer in ("sgd", "momentum") \
            else TUTORIAL_LR[optimizer]
        decay = FAST_WEIGHT_DECAY_PER_1024 * batch_size / 1024 / gain if optimizer in ("sgd", "momentum") \
            else (0.05 if optimizer == "adamw" else 0.0)
        return Recipe(optimizer, epochs, batch_size, lr or default_lr, decay, label_smoothing=0.2, translate=2,
                      schedule="triangle", lookahead=True, tta=True)
    optimizer = optimizer or TUTORIAL_OPTIMIZER
    return Recipe(optimizer, epochs or TUTORIAL_EPOCHS, batch_size or TUTORIAL_BATCH, lr or TUTORIAL_LR[optimizer],
                  weight_decay=0.01 if optimizer == "adamw" else 0.0, label_smoothing=0.0, translate=0,
                  schedule="constant", lookahead=False, tta=False)


def momentum_gain(optimizer: str) -> float:
    """How much larger Nesterov momentum makes steps than the gradients (for constant gradients)."""
    return 1 + 1 / (1 - FAST_MOMENTUM) if optimizer == "momentum" else 1.0


def build_optimizer(recipe: Recipe, model: nn.Module, fast: bool) -> torch.optim.Optimizer:
    """The optimizer, with the parameter groups the speed run needs: batch-norm shifts at a higher learning
    rate (SGD family), and the whitening bias in its own group so it can be frozen by zeroing its rate."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for _, p in named], "lr": recipe.lr}]
    if fast:
        whiten = [p for name, p in named if name.startswith("whiten.")]
        norm = [p for name, p in named if p.ndim == 1 and not name.startswith("whiten.")]
        rest = [p for name, p in named if p.ndim > 1 and not name.startswith("whiten.")]
        scale = FAST_BIAS_LR_SCALE if recipe.optimizer in ("sgd", "momentum") else 1.0
        groups = [{"params": rest, "lr": recipe.lr}, {"params": norm, "lr": recipe.lr * scale},
                  {"params": whiten, "lr": recipe.lr, "name": "whiten"}]
    if recipe.optimizer in ("sgd", "momentum"):
        for group in groups:
            # Decoupled decay: the same shrink per step whatever the group's learning rate.
            group["weight_decay"] = recipe.weight_decay / group["lr"]
        return make_optimizer(recipe.optimizer, groups, lr=recipe.lr, momentum=FAST_MOMENTUM if fast else 0.9)
    return make_optimizer(recipe.optimizer, groups, lr=recipe.lr, weight_decay=recipe.weight_decay)


def triangle(step: int, total: int, start: float = 0.2, peak_at: float = 0.23, end: float = 0.07) -> float:
    """Learning-rate multiplier: linear warm-up from `start` to 1 at `peak_at` of training, then down to `end`."""
    peak = max(1, round(peak_at * total))
    if step < peak:
        return start + (1 - start) * step / peak
    return 1 + (end - 1) * min(1.0, (step - peak) / max(1, total - peak))


def set_rates(optimizer: torch.optim.Optimizer, base: Iterable[float], multiplier: float, frozen: set[str]) -> None:
    """Scale each group's base learning rate; a group named in `frozen` stops moving (rate 0)."""
    for group, rate in zip(optimizer.param_groups, base, strict=True):
        group["lr"] = 0.0 if group.get("name") in frozen else rate * multiplier
