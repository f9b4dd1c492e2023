"""Image grids people read at a glance: the most confidently wrong images, and a tutorial-style sample.

`top_losses.png` is the picture that finds mislabelled data: each tile shows the file name, the true label, what
the model said instead and how sure it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .images import ImageReadError, load_image
from .plots import save_figure

THUMBNAIL = 224
CORRECT, WRONG = "#1a7f37", "#cf222e"


@dataclass(frozen=True)
class Tile:
    path: Path
    true: str
    predicted: str
    probability: float
    loss: float

    @property
    def correct(self) -> bool:
        return self.true == self.predicted


def most_confidently_wrong(losses: np.ndarray, targets: np.ndarray, predictions: np.ndarray, k: int) -> list[int]:
    """Indices of the k misclassified samples with the highest loss, highest first."""
    wrong = np.flatnonzero(np.asarray(targets) != np.asarray(predictions))
    order = np.argsort(-np.asarray(losses)[wrong], kind="stable")
    return wrong[order][:k].tolist()


def sample(count: int, k: int, seed: int = 0) -> list[int]:
    """k indices out of `count`, the same ones on every run so grids can be compared between models."""
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(count, size=min(k, count), replace=False).tolist())


def thumbnail(path: Path) -> np.ndarray | None:
    try:
        image = load_image(path, min_side=THUMBNAIL)
    except ImageReadError:
        return None
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    return np.asarray(image)


def plot_tiles(tiles: Sequence[Tile], path: Path, title: str, *, show_loss: bool, empty_message: str = "",
               columns: int = 4) -> Path:
    """A grid of images titled `predicted (probability)` and `true`, green when right and red when wrong."""
    path, columns = Path(path), max(1, min(columns, len(tiles)))
    rows = max(1, -(-len(tiles) // columns))
    height = 3.4 * rows + 1.1  # inches: tiles and their titles, and a band on top for the figure's title
    figure = Figure(figsize=(3 * columns, height))
    # Fixed margins rather than constrained layout: as readable for a grid of equal tiles, and several times faster.
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 1.1 / height, wspace=0.08, hspace=0.35)
    axes_grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes in axes_grid:
        axes.set_axis_off()
    if not tiles:
        axes_grid[0].text(0, 0.5, empty_message, fontsize=12, va="center")
    for axes, tile in zip(axes_grid, tiles, strict=False):
        pixels = thumbnail(tile.path)
        if pixels is None:
            axes.text(0.5, 0.5, "unreadable", ha="center", va="center")
        else:
            axes.imshow(pixels)
        lines = [f"{tile.predicted} ({tile.probability:.2f})", f"true: {tile.true}"]
        if show_loss:
            lines.append(f"loss {tile.loss:.2f} · {shorten(tile.path.name)}")
        axes.set_title("\n".join(lines), fontsize=9, color=CORRECT if tile.correct else WRONG)
    figure.suptitle(title)
    return save_figure(figure, path, dpi=80)


def shorten(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 9] + "…" + name[-8:]


def plot_top_losses(tiles: Sequence[Tile], path: Path) -> Path:
    return plot_tiles(tiles, path, "most confidently wrong: predicted (probability) / true label / loss · file",
                      show_loss=True, empty_message="no misclassified images: nothing to show")


def plot_predictions(tiles: Sequence[Tile], path: Path) -> Path:
    return plot_tiles(tiles, path, "sample predictions: predicted (probability) / true label",
                      show_loss=False, empty_message="no images")
