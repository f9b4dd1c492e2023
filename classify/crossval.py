"""Out-of-sample class probabilities by K-fold cross-validation: every image is judged by a model that never
trained on it, which is what confident learning needs (in-sample losses hide what a model memorised).

Two ways: `probe`, a linear classifier per fold on a frozen backbone's cached features (seconds per thousand
images on a CPU); `finetune`, `classify train` per fold on the other folds' images (slow on a CPU, for when no
good backbone exists).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import load_model
from .devices import resolve_device
from .embedding import EmbedOptions, embed_files, load_backbone
from .errors import ClassifyError
from .finetune import TrainConfig
from .finetune import train as run_training
from .inference import infer
from .probe import fit_probe

MODES = ("probe", "finetune")
# Candidate strengths of the probe's L2 penalty, strongest first (each fit warm-starts the next); the one with the
# lowest held-out log loss is kept. Weaker ones never won in bench/probe_bench.py and cost the most iterations.
REGULARISATIONS = (1.0, 0.3, 0.1, 0.03, 0.01)
# What cross_validate sets for every fold's `classify train` run itself; the other train options may be given.
OWN_TRAIN_OPTIONS = ("data", "name", "runs")


@dataclass(frozen=True)
class CrossValOptions(EmbedOptions):
    """How the out-of-sample probabilities are made: `embed`'s settings for the probe's features, and the folds.
    In finetune mode `weights` is `classify train --weights` and train options (model, epochs, ...) are passed
    as further keywords. `regularisation` None picks the probe's L2 strength by held-out log loss."""

    mode: str = "probe"
    folds: int = 4
    seed: int = 0
    backbone: str | os.PathLike | None = None
    regularisation: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in MODES:
            raise ClassifyError(f"unknown mode {self.mode!r}; choose {' or '.join(MODES)}")
        if self.folds < 2:
            raise ClassifyError(f"folds={self.folds}: cross-validation needs at least 2 folds")
        if self.mode == "probe" and self.backbone is None:
            raise ClassifyError("the probe needs a backbone: a model.pt written by `classify train` or a "
                                "torchvision model name")
        if self.regularisation is not None and self.regularisation < 0:
            raise ClassifyError("regularisation must be at least 0")


@dataclass
class CrossValidation:
    """Each decoded image's given label, its out-of-sample class probabilities and the fold that held it out;
    `embeddings` (probe mode) are the features the probe saw. Unreadable and missing files are `failures`."""

    paths: list[Path]
    labels: np.ndarray
    classes: list[str]
    probabilities: np.ndarray
    fold: np.ndarray
    embeddings: np.ndarray | None = None
    failures: list[tuple[Path, str]] = field(default_factory=list)
    regularisation: float | None = None


def label_indices(labels: Sequence[int | str], classes: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """Labels as indices into `classes`: names are looked up (classes default to their sorted set), indices
    checked against the number of classes."""
    if classes is None:
        if not all(isinstance(label, str) for label in labels):
            raise ClassifyError("integer labels need `classes`, the names they index")
        classes = sorted(set(labels))  # type: ignore[arg-type]
    classes = list(classes)
    index = {name: i for i, name in enumerate(classes)}
    result = []
    for label in labels:
        if isinstance(label, str):
            if label not in index:
                raise ClassifyError(f"label {label!r} is not one of the classes ({', '.join(classes)})")
            result.append(index[label])
        elif not 0 <= int(label) < len(classes):
            raise ClassifyError(f"label {label} is outside the {len(classes)} classes")
        else:
            result.append(int(label))
    return np.array(result, dtype=np.int64), classes


def assign_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold per item, stratified: each class is shuffled by `seed` and dealt round-robin from a random fold,
    so every fold holds nearly the same share of every class."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for target in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == target))
        fold[members] = (np.arange(len(members)) + rng.integers(folds)) % folds
    return fold


def kept_positions(paths: Sequence[Path], kept: Sequence[Path]) -> list[int]:
    """Positions in `paths` of `kept`, an in-order subsequence of them (the files that decoded)."""
    positions, next_kept = [], 0
    for position, path in enumerate(paths):
        if next_kept < len(kept) and kept[next_kept] == path:
            positions.append(position)
            next_kept += 1
    return positions


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None)).mean())


def probe_folds(features: np.ndarray, labels: np.ndarray, classes: int, fold: np.ndarray,
                regularisation: float | None, progress: bool = False) -> tuple[np.ndarray, float]:
    """Out-of-sample probabilities of a linear probe per fold, and the L2 strength used: the given one, or the
    candidate with the lowest held-out log loss on the given labels."""
    with one_thread():
        return _probe_folds(features, labels, classes, fold, regularisation, progress)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore its setting: the probe's products are too small to gain from more,
    and on a busy machine threads waiting for each other made it several times slower (bench/probe_bench.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _probe_folds(features: np.ndarray, labels: np.ndarray, classes: int, fold: np.ndarray,
                 regularisation: float | None, progress: bool) -> tuple[np.ndarray, float]:
    candidates = REGULARISATIONS if regularisation is None else (regularisation,)
    folds = int(fold.max()) + 1
    tried: list[tuple[float, float, np.ndarray]] = []
    with tqdm(total=folds * len(candidates), desc="probe", unit="fit", leave=False, disable=not progress) as bar:
        starts: list = [None] * folds
        for strength in candidates:
            probabilities = np.zeros((len(labels), classes), dtype=np.float32)
            for k in range(folds):
                held = fold == k
                starts[k] = fit_probe(features[~held], labels[~held], classes, strength, starts[k])
                probabilities[held] = starts[k].probabilities(features[held])
                bar.update()
            tried.append((log_loss(probabilities, labels), strength, probabilities))
    _, strength, probabilities = min(tried, key=lambda result: result[0])
    return probabilities, strength


def cross_validate_probe(paths: list[Path], labels: np.ndarray, classes: list[str], settings: CrossValOptions
                         ) -> CrossValidation:
    embedded = embed_files(load_backbone(settings.backbone, settings.weights), paths, settings)  # type: ignore[arg-type]
    given = labels[kept_positions(paths, embedded.paths)]
    fold = assign_folds(given, settings.folds, settings.seed)
    probabilities, strength = probe_folds(embedded.vectors, given, len(classes), fold, settings.regularisation,
                                          settings.progress)
    return CrossValidation(embedded.paths, given, classes, probabilities, fold, embedded.vectors,
                           embedded.failures, strength)


def cross_validate_finetune(paths: list[Path], labels: np.ndarray, classes: list[str], settings: CrossValOptions,
                            train_options: dict) -> CrossValidation:
    """`classify train` on each fold's complement (its own validation carved out of those images, so the held-out
    fold never steers early stopping), then the best model's probabilities for the held-out fold."""
    fold = assign_folds(labels, settings.folds, settings.seed)
    probabilities = np.zeros((len(paths), len(classes)), dtype=np.float32)
    decoded = np.zeros(len(paths), dtype=bool)
    failures: dict[int, str] = {}
    device = resolve_device(settings.device)
    with tempfile.TemporaryDirectory(prefix="imgharvest-folds-") as work:
        for k in tqdm(range(settings.folds), desc="folds", unit="fold", disable=not settings.progress):
            held = np.flatnonzero(fold == k)
            if not len(held):
                continue
            data = link_folder(Path(work) / f"fold{k}", [(paths[i], labels[i]) for i in np.flatnonzero(fold != k)])
            config = TrainConfig(data=data, seed=settings.seed + k, device=settings.device,
                                 batch_size=settings.batch_size, workers=settings.workers, name=f"fold{k}",
                                 runs=Path(work) / "runs", **weights_option(settings), **train_options)
            run = run_training(config, Path(config.runs) / f"fold{k}", progress=settings.progress)
            model_file = load_model(run.run_dir / "model.pt")
            outputs = infer(model_file, [paths[i] for i in held], device=device, batch_size=settings.batch_size,
                            workers=settings.workers, progress=False, description=f"fold {k}")
            columns = [int(name) for name in model_file.classes]  # folders are named by class index
            rows = held[outputs.indices]
            probabilities[np.ix_(rows, columns)] = outputs.probabilities
            decoded[rows] = True
            failures.update((int(held[index]), reason) for index, reason in outputs.unreadable)
    kept = np.flatnonzero(decoded)
    return CrossValidation([paths[i] for i in kept], labels[kept], classes, probabilities[kept], fold[kept], None,
                           [(paths[i], failures[i]) for i in sorted(failures)])


def weights_option(settings: CrossValOptions) -> dict:
    return {} if settings.weights is None else {"weights": settings.weights}


def link_folder(root: Path, samples: list[tuple[Path, int]]) -> Path:
    """An ImageFolder of symbolic links, `root/<class index>/<n><suffix>`: no image is copied, and a class the
    fold lacks has no folder rather than an empty one."""
    for number, (path, label) in enumerate(samples):
        folder = root / f"{label:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{number:06d}{path.suffix.lower()}").symlink_to(path.resolve())
    return root


def cross_validate(paths: Sequence[str | os.PathLike], labels: Sequence[int | str], classes: Sequence[str] | None,
                   settings: CrossValOptions, train_options: dict) -> CrossValidation:
    if len(paths) != len(labels):
        raise ClassifyError(f"{len(paths)} paths but {len(labels)} labels; give one label per path")
    if train_options and settings.mode != "finetune":
        raise ClassifyError(f"{', '.join(sorted(train_options))}: train option(s) for mode='finetune' only")
    indices, names = label_indices(labels, classes)
    if len(paths) < settings.folds:
        raise ClassifyError(f"{len(paths)} images cannot be split into {settings.folds} folds")
    files = [Path(path) for path in paths]
    if settings.mode == "probe":
        return cross_validate_probe(files, indices, names, settings)
    return cross_validate_finetune(files, indices, names, settings, train_options)
