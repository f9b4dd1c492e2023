"""One baseline experiment from start to files: the data loaded (and cut to `limit`), the recipe, where mirroring is
allowed, whether to compile, the timing, and curves.png, confusion.png and results.json written.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_json
from ..devices import resolve_device
from ..errors import ClassifyError
from ..optimizers import check_optimizer
from ..plots import plot_confusion, plot_curves
from .data import BUILTIN, ImageData, load_builtin, load_folder
from .models import MODELS
from .recipe import make_recipe
from .train import BaselineResult, run_baseline

# Digits change meaning when mirrored; clothes, objects and photos do not.
NO_MIRRORING = frozenset({"mnist"})


@dataclass(frozen=True)
class BaselineOptions:
    """Every choice of a baseline experiment; None means the model's own default (see `make_recipe`)."""

    folder: str | os.PathLike | None = None
    model: str = "cnn"
    optimizer: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    runs: int = 1
    seed: int = 0
    device: str = "auto"
    compile: bool | None = None
    limit: int | None = None
    data_root: str | os.PathLike = Path("data/datasets")
    download: bool = True
    image_size: int | None = None
    out: str | os.PathLike | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ClassifyError(f"unknown baseline model {self.model!r}; choose {', '.join(MODELS)}")
        if self.optimizer is not None:
            check_optimizer(self.optimizer)
        counts = {"runs": self.runs, "epochs": self.epochs, "batch_size": self.batch_size, "limit": self.limit,
                  "image_size": self.image_size}
        too_small = [name for name, value in counts.items() if value is not None and value < 1]
        if too_small or (self.lr is not None and self.lr <= 0):
            raise ClassifyError(f"{', '.join(too_small) or 'lr'} must be positive")


def run_experiment(dataset: str | None, options: BaselineOptions) -> BaselineResult:
    """Train and test `options.runs` models on `dataset` (mnist, fashion-mnist, cifar10) or `options.folder`, and
    write the pictures and results.json to `options.out` (default: runs/baseline-DATASET-MODEL)."""
    if (dataset is None) == (options.folder is None):
        raise ClassifyError("give exactly one of DATASET or --folder")
    if dataset is not None and dataset not in BUILTIN:
        raise ClassifyError(f"unknown dataset {dataset!r}; choose {', '.join(BUILTIN)} or a folder")
    device = resolve_device(options.device)
    started = time.perf_counter()
    data = load_folder(Path(options.folder), options.image_size) if options.folder is not None else \
        load_builtin(dataset, Path(options.data_root), options.download)  # type: ignore[arg-type]
    load_seconds = time.perf_counter() - started
    data = ImageData(data.name, data.classes, data.train.head(options.limit), data.test.head(options.limit))
    recipe = make_recipe(options.model, data.shape[0] == 1, options.optimizer, options.epochs, options.batch_size,
                         options.lr)
    compile_model = device.type == "cuda" if options.compile is None else options.compile
    result = run_baseline(data, options.model, recipe, device, runs=options.runs, seed=options.seed,
                          compile=compile_model, flip=dataset not in NO_MIRRORING, progress=options.progress)
    result = dataclasses.replace(result, data_seconds=result.data_seconds + load_seconds)
    out = Path(options.out) if options.out is not None else Path("runs") / f"baseline-{data.name}-{options.model}"
    return write_outputs(result, out)


def write_outputs(result: BaselineResult, out: Path) -> BaselineResult:
    """curves.png, confusion.png and results.json in `out`; returns the result with their paths."""
    out.mkdir(parents=True, exist_ok=True)
    title = f"{result.dataset} / {result.model} (val = test split)"
    result.files = {
        "curves": plot_curves(result.history, out / "curves.png", title),
        "confusion": plot_confusion(np.asarray(result.confusion), result.classes, out / "confusion.png", title),
        "results": out / "results.json",
    }
    write_json(result.summary(), out / "results.json")
    return result


def format_summary(summary: dict) -> str:
    accuracy = f"{100 * summary['accuracy_mean']:.2f}%"
    if summary["runs"] > 1:
        accuracy += f" ± {100 * summary['accuracy_std']:.2f} over {summary['runs']} runs"
    return "\n".join([
        f"{summary['dataset']} / {summary['model']} on {summary['device']}: test accuracy {accuracy}",
        (f"training {summary['train_seconds_mean']:.2f} s per run ({summary['epochs']} epochs, batch "
         f"{summary['batch_size']}, {summary['optimizer']} lr {summary['lr']:.4g})"),
        (f"apart from training: data loading and preparation {summary['data_seconds']:.2f} s, compilation "
         f"{summary['compile_seconds']:.2f} s"),
        f"curves, confusion matrix and results.json in {Path(summary['files']['results']).parent}",
    ])
