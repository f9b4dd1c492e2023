"""ImageFolder splits on disk: `DATA/train/<class>/`, `DATA/val/<class>/`, and the datasets that decode them.

Hidden files and folders and `DATA/_quarantine` (where `curate` moves rejected images) are never read. When
there is no `val/`, a stratified split by seed stands in for it. A file that fails to decode during training is
replaced by its neighbour in the split and reported, so one bad file never crashes an epoch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, Sampler

from .errors import ClassifyError
from .images import ImageReadError, class_folders, image_files
from .transforms import Pipeline

SPLITS = ("train", "val", "test")
MAX_SUBSTITUTES = 16


class DataError(ClassifyError):
    """The folder is not a usable ImageFolder (missing, no classes, one class, empty class, unknown class)."""


@dataclass
class Split:
    """`(path, class index)` pairs of one split and the class names the indices refer to."""

    samples: list[tuple[Path, int]]
    classes: list[str]

    @property
    def targets(self) -> list[int]:
        return [target for _, target in self.samples]

    def counts(self) -> list[int]:
        """Images per class, in class order."""
        counts = [0] * len(self.classes)
        for target in self.targets:
            counts[target] += 1
        return counts


def _split_folder(root: Path, split: str) -> Path:
    """`root/split` when it exists; `root` itself when it holds class folders rather than splits."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if (root / split).is_dir():
        return root / split
    present = [name for name in SPLITS if (root / name).is_dir()]
    if present:
        raise DataError(f"{root}: no {split}/ folder (found {', '.join(f'{name}/' for name in present)})")
    return root


def read_split(folder: Path, classes: Sequence[str] | None = None) -> Split:
    """The images of `folder/<class>/`; with `classes` given, targets index that list and any other class
    folder is an error."""
    found = class_folders(folder)
    if classes is None:
        classes = found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"{folder}: class folder(s) {', '.join(unknown)} not among the model's classes "
                        f"({', '.join(classes)})")
    index = {name: i for i, name in enumerate(classes)}
    samples = [(path, index[name]) for name in found for path in image_files(folder / name)]
    return Split(samples, list(classes))


def load_split(root: Path, split: str = "val", classes: Sequence[str] | None = None) -> Split:
    """One labelled split: `root/<split>/<class>/`, or `root/<class>/` when `root` has no split folders."""
    folder = _split_folder(root, split)
    result = read_split(folder, classes)
    if not class_folders(folder):
        raise DataError(f"{folder}: no class folders (expected {folder}/<class>/<image>)")
    if not result.samples:
        raise DataError(f"{folder}: no images in the class folders")
    return result


def stratified_split(samples: Sequence[tuple[Path, int]], fraction: float, seed: int
                     ) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    """Hold out `fraction` of every class (at least one image of each class with two or more), chosen by `seed`;
    the same seed and files always give the same split."""
    by_class: dict[int, list[tuple[Path, int]]] = {}
    for sample in sorted(samples):
        by_class.setdefault(sample[1], []).append(sample)
    train, val = [], []
    rng = random.Random(seed)
    for target in sorted(by_class):
        members = by_class[target]
        rng.shuffle(members)
        held = min(len(members) - 1, max(1, round(fraction * len(members)))) if len(members) > 1 else 0
        val += members[:held]
        train += members[held:]
    return sorted(train), sorted(val)


def training_splits(root: Path, val_fraction: float = 0.2, seed: int = 0) -> tuple[Split, Split, bool]:
    """Train and validation splits of `root`, and whether validation was carved out of train (no `val/`).

    `root/train/` and `root/val/` are used as they are; without `val/`, `val_fraction` of each class of train (or of
    `root/<class>/` when there is no `train/` either) is held out.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if not (root / "train").is_dir() and any((root / name).is_dir() for name in SPLITS):
        raise DataError(f"{root}: no train/ folder (expected {root}/train/<class>/<image>)")
    train_folder = root / "train" if (root / "train").is_dir() else root
    train = read_split(train_folder)
    if not train.classes:
        raise DataError(f"{train_folder}: no class folders (expected {train_folder}/<class>/<image>)")
    if len(train.classes) < 2:
        raise DataError(f"{train_folder}: only one class ({train.classes[0]}); a classifier needs at least two")
    empty = [name for name, count in zip(train.classes, train.counts(), strict=True) if count == 0]
    if empty:
        raise DataError(f"{train_folder}: no images for class(es) {', '.join(empty)}")
    if (root / "val").is_dir():
        val = read_split(root / "val", train.classes)
        if not val.samples:
            raise DataError(f"{root / 'val'}: no images in the class folders")
        return train, val, False
    if not 0 < val_fraction < 1:
        raise DataError(f"{root}: no val/ folder, and --val-fraction {val_fraction} cannot make one (use 0 < f < 1)")
    kept, held = stratified_split(train.samples, val_fraction, seed)
    if not held:
        raise DataError(f"{root}: no val/ folder and too few images to hold any out for validation")
    return Split(kept, train.classes), Split(held, train.classes), True


class ImageDataset(Dataset):
    """Decodes and transforms lazily (in loader workers). Item: `(image, target, failures)` where `failures` lists
    `(path, reason)` for unreadable files replaced by the next readable one, so batches keep their size."""

    def __init__(self, split: Split, pipeline: Pipeline) -> None:
        self.samples, self.classes, self.pipeline = list(split.samples), list(split.classes), pipeline

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, list[tuple[str, str]]]:
        failures = []
        for step in range(min(MAX_SUBSTITUTES, len(self.samples))):
            path, target = self.samples[(index + step) % len(self.samples)]
            try:
                return self.pipeline(path), target, failures
            except ImageReadError as error:
                failures.append((str(path), str(error)))
        raise DataError(f"{len(failures)} unreadable images in a row, e.g. {failures[0][0]}: {failures[0][1]}; "
                        "run `curate` on the dataset first")


def collate(batch: list[tuple[torch.Tensor, int, list[tuple[str, str]]]]
            ) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, str]]]:
    images, targets, failures = zip(*batch, strict=True)
    return torch.stack(images), torch.tensor(targets, dtype=torch.int64), [f for item in failures for f in item]


class EpochSampler(Sampler[int]):
    """This process's share of each epoch: shuffled (or drawn with weights inversely proportional to class size,
    for `--balance`) from a seed and the epoch number, so every process and a resumed run see the same order.

    Every one of `replicas` processes gets the same number of indices (the order wraps around to even them out).
    """

    def __init__(self, targets: Sequence[int], *, seed: int, balance: bool = False, replicas: int = 1,
                 rank: int = 0) -> None:
        self.targets, self.seed, self.balance = list(targets), seed, balance
        self.replicas, self.rank, self.epoch = replicas, rank, 0
        self.per_replica = math.ceil(len(self.targets) / replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_replica

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        total = self.per_replica * self.replicas
        if self.balance:
            counts = torch.bincount(torch.tensor(self.targets))
            weights = 1.0 / counts[self.targets].double()
            order = torch.multinomial(weights, total, replacement=True, generator=generator).tolist()
        else:
            order = torch.randperm(len(self.targets), generator=generator).tolist()
            order = (order * math.ceil(total / len(order)))[:total]
        return iter(order[self.rank::self.replicas])
