"""The optimiser vocabulary `classify train` and `classify baseline` share: one name means one algorithm in both.

Each recipe picks its own learning rates and weight decay; what a name builds is decided here only.
"""

from __future__ import annotations

import torch

from .errors import ClassifyError

OPTIMIZERS = {
    "sgd": "plain SGD",
    "momentum": "SGD with Nesterov momentum",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW (decoupled weight decay)",
}
_FACTORIES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
}


def check_optimizer(name: str) -> None:
    if name not in OPTIMIZERS:
        raise ClassifyError(f"unknown optimizer {name!r}; choose {', '.join(OPTIMIZERS)}")


def make_optimizer(name: str, groups: list[dict], *, lr: float, momentum: float = 0.9, **options: object
                   ) -> torch.optim.Optimizer:
    """The optimiser `name` over parameter `groups`; `momentum` is the Nesterov coefficient of `momentum`, and
    `options` go to the torch class (weight_decay, or rmsprop's own momentum)."""
    check_optimizer(name)
    if name == "momentum":
        options = {**options, "momentum": momentum, "nesterov": True}
    return _FACTORIES[name](groups, lr=lr, **options)
