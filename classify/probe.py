"""A linear probe: multinomial logistic regression on frozen features, fitted full-batch with L-BFGS.

On a few thousand L2-normalised features it fits in well under a second on a CPU, so a K-fold audit costs little
once the features are cached. Features are standardised with the training rows' statistics, so one scale of
regularisation suits any backbone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MAX_ITERATIONS = 200
TOLERANCE = 1e-5  # largest gradient entry at which a fit stops


@dataclass
class Probe:
    """Standardisation and the linear layer; `probabilities` applies both to new features."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def logits(self, features: np.ndarray) -> torch.Tensor:
        x = (torch.as_tensor(features, dtype=torch.float32) - self.mean) / self.scale
        return x @ self.weight + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return self.logits(features).softmax(dim=1).numpy()


def fit_probe(features: np.ndarray, labels: np.ndarray, classes: int, regularisation: float,
              start: Probe | None = None) -> Probe:
    """Minimise mean cross-entropy plus `regularisation`/2 times the squared weights; `start` warm-starts from
    another fit on the same rows (a neighbouring regularisation), which saves most iterations.

    The gradient is written out rather than taken by autograd so that both products with the features run in
    the layout BLAS is fast at for a few classes: classes x rows times rows x features (six times faster on a CPU
    than the transposed product autograd makes).
    """
    x = torch.as_tensor(features, dtype=torch.float32)
    mean, scale = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    x = ((x - mean) / scale).contiguous()
    x_t = x.T.contiguous()
    target = F.one_hot(torch.as_tensor(labels, dtype=torch.int64), classes).T.float()
    rows = len(x)
    weight_t = start.weight.T.clone() if start is not None else torch.zeros(classes, x.shape[1])
    bias = start.bias.clone() if start is not None else torch.zeros(classes)
    optimizer = torch.optim.LBFGS([weight_t, bias], max_iter=MAX_ITERATIONS, history_size=20,
                                  tolerance_grad=TOLERANCE, tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        logits = weight_t @ x_t + bias[:, None]  # classes x rows
        log_p = logits.log_softmax(dim=0)
        residual = (log_p.exp() - target) / rows
        weight_t.grad = residual @ x + regularisation * weight_t
        bias.grad = residual.sum(dim=1)
        return -(log_p * target).sum() / rows + 0.5 * regularisation * weight_t.pow(2).sum()

    with torch.no_grad():
        optimizer.step(closure)
    return Probe(mean, scale, weight_t.T.contiguous(), bias)
