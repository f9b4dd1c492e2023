"""PNG figures people look at instead of reading logs: training curves and confusion matrices.

Figures are built with matplotlib's object API (no pyplot), so nothing needs a display or global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .atomic import atomic_path


def save_figure(figure: Figure, path: Path, dpi: int = 100) -> Path:
    """Write the PNG atomically, so a viewer never sees half a picture and an interruption leaves the old one."""
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi)
    return path


def plot_curves(history: Sequence[dict], path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch; each entry of `history` holds `epoch` and any of
    `train_loss`, `val_loss`, `train_acc`, `val_acc` (accuracies as fractions)."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, acc_axes = figure.subplots(1, 2)
    epochs = [entry["epoch"] for entry in history]
    for axes, metric, label in ((loss_axes, "loss", "loss"), (acc_axes, "acc", "accuracy")):
        for split in ("train", "val"):
            values = [entry.get(f"{split}_{metric}") for entry in history]
            if any(value is not None for value in values):
                points = [(e, v) for e, v in zip(epochs, values, strict=True) if v is not None]
                axes.plot(*zip(*points, strict=True), marker="o", label=split)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend()
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], path: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix with raw counts in the cells; readable up to a few dozen classes."""
    size = max(4.0, 0.5 * len(classes) + 2)
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    axes = figure.subplots()
    totals = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, label="share of true class")
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, labels=classes, rotation=45, ha="right")
    axes.set_yticks(ticks, labels=classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if len(classes) <= 30:
        for row, col in np.ndindex(matrix.shape):
            colour = "white" if normalised[row, col] > 0.5 else "black"
            axes.text(col, row, str(matrix[row, col]), ha="center", va="center", color=colour, fontsize=8)
    axes.set_title(title or "confusion matrix")
    return save_figure(figure, path)
