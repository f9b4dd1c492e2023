"""The baselines' data: MNIST, Fashion-MNIST, CIFAR-10 or any ImageFolder with train/ and test/, as uint8 tensors.

Whole datasets fit in memory (and on a GPU) as uint8, so training indexes tensors directly instead of decoding
images through a DataLoader: that is what makes the speed-run path fast and the CPU path simple.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision import datasets

from ..atomic import atomic_path
from ..errors import ClassifyError
from ..images import ImageReadError, class_folders, image_files, load_image

BUILTIN = ("mnist", "fashion-mnist", "cifar10")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DatasetError(ClassifyError):
    """The dataset is missing, cannot be downloaded, or is not shaped as expected."""


@dataclass(frozen=True)
class TensorSplit:
    """One split held whole as tensors, so training indexes batches instead of decoding files."""

    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def head(self, count: int | None) -> TensorSplit:
        """The first `count` examples (all when None): quick trials and tests on a slice of a large set."""
        return self if count is None else TensorSplit(self.images[:count], self.labels[:count])


@dataclass(frozen=True)
class ImageData:
    name: str
    classes: list[str]
    train: TensorSplit
    test: TensorSplit

    @property
    def shape(self) -> tuple[int, int, int]:
        """Channels, height, width of every image."""
        channels, height, width = self.train.images.shape[1:]
        return int(channels), int(height), int(width)


def load_builtin(name: str, root: Path, download: bool = True) -> ImageData:
    """One of torchvision's datasets under `root`, downloaded there when missing and allowed."""
    dataset_class = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}[name]
    if dataset_class is not datasets.CIFAR10:
        decompress_idx(root / dataset_class.__name__ / "raw")
    try:
        # torchvision reports downloads on stdout, which belongs to --json.
        with contextlib.redirect_stdout(sys.stderr):
            train, test = (dataset_class(str(root), train=flag, download=download) for flag in (True, False))
    except (RuntimeError, OSError) as error:
        raise DatasetError(missing_message(name, root, download)) from error
    return ImageData(name, list(train.classes), _builtin_split(train), _builtin_split(test))


def _builtin_split(dataset: datasets.VisionDataset) -> TensorSplit:
    images = torch.as_tensor(np.asarray(dataset.data))
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    return TensorSplit(images.contiguous(), torch.as_tensor(dataset.targets, dtype=torch.int64))


def missing_message(name: str, root: Path, download: bool) -> str:
    """Where a user who fetched the files by hand should put them."""
    why = "and could not be downloaded" if download else "and downloading is off"
    if name == "cifar10":
        where = f"put cifar-10-python.tar.gz (or its extracted cifar-10-batches-py/) in {root}/"
    else:
        folder = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[name]
        where = f"put {', '.join(IDX_FILES)} (or their .gz files) in {root / folder / 'raw'}/"
    return f"{name} not found under {root} {why}: {where}, or pass --data-root"


def decompress_idx(raw: Path) -> list[Path]:
    """Unzip hand-fetched `X.gz` IDX files beside themselves when `X` is missing (torchvision reads only `X`)."""
    written = []
    for name in IDX_FILES:
        target, source = raw / name, raw / f"{name}.gz"
        if target.exists() or not source.exists():
            continue
        try:
            with atomic_path(target) as temporary, temporary.open("wb") as out, gzip.open(source, "rb") as compressed:
                shutil.copyfileobj(compressed, out)
        except (OSError, EOFError) as error:
            raise DatasetError(f"cannot decompress {source}: {error}") from error
        written.append(target)
    return written


def load_folder(root: Path, image_size: int | None = None, workers: int = 8) -> ImageData:
    """An ImageFolder tree `root/train/<class>/` and `root/test/<class>/`, decoded once into uint8 tensors.

    Images keep their size when all share one; otherwise (or when `image_size` is given) they are resized to a
    square `image_size` (32 when mixed sizes meet no choice). Grayscale trees stay one channel, others become RGB.
    """
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DatasetError(f"{root} has no {split}/ folder: --folder needs {root}/train/<class>/ and "
                               f"{root}/test/<class>/")
    classes = class_folders(root / "train")
    if not classes:
        raise DatasetError(f"{root / 'train'} has no class folders")
    files = {split: _listing(root / split, classes) for split in ("train", "test")}
    if not files["train"] or not files["test"]:
        empty = "train" if not files["train"] else "test"
        raise DatasetError(f"{root / empty} holds no images in its class folders {classes}")
    paths = [path for split in ("train", "test") for path, _ in files[split]]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        headers = list(pool.map(_probe, paths))
        mode = "L" if all(image_mode in ("L", "1") for _, image_mode in headers) else "RGB"
        found = {dimensions for dimensions, _ in headers}
        size = (image_size, image_size) if image_size else (found.pop() if len(found) == 1 else (32, 32))

        def split_of(listing: list[tuple[Path, int]]) -> TensorSplit:
            arrays = list(pool.map(lambda path: _pixels(path, mode, size), [path for path, _ in listing]))
            return TensorSplit(_stack(arrays), torch.tensor([label for _, label in listing], dtype=torch.int64))

        return ImageData(root.name, classes, split_of(files["train"]), split_of(files["test"]))


def _listing(split_root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    return [(path, label) for label, name in enumerate(classes) if (split_root / name).is_dir()
            for path in image_files(split_root / name)]


def _probe(path: Path) -> tuple[tuple[int, int], str]:
    """Size and mode from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size, image.mode
    except (OSError, UnidentifiedImageError) as error:
        raise DatasetError(f"cannot read image {path}: {error}") from error


def _pixels(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    try:
        image = load_image(path, mode, min_side=max(size))
    except ImageReadError as error:
        raise DatasetError(f"cannot read image {path}: {error}") from error
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def _stack(arrays: list[np.ndarray]) -> torch.Tensor:
    stacked = torch.from_numpy(np.stack(arrays))
    return (stacked.unsqueeze(1) if stacked.ndim == 3 else stacked.permute(0, 3, 1, 2)).contiguous()
