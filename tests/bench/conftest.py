"""Tiny stand-ins for the offline datasets, in their real formats: gzip IDX files and a tarball of JPEGs."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_idx(path: Path, array: np.ndarray) -> None:
    """`array` (uint8) as a gzip-compressed IDX file, MNIST's format: magic, dimensions, then the bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def tiny_datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A datasets folder laid out as ../shared/datasets: MNIST/raw/*.gz (120 train, 60 test digits of noise) and
    cifar10-jpg.tar.gz (6 train and 3 test 32x32 JPEGs per CIFAR-10 class, each class its own tint)."""
    root = tmp_path_factory.mktemp("datasets")
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, count in (("train", 120), ("t10k", 60)):
        labels = np.arange(count) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 64, (count, 28, 28)) + 19 * labels[:, None, None])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)
    with tarfile.open(root / "cifar10-jpg.tar.gz", "w:gz") as archive:
        for split, count in (("train", 6), ("test", 3)):
            for label, name in enumerate(CIFAR_CLASSES):
                for index in range(count):
                    pixels = np.clip(rng.normal(25 * label, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                    data = jpeg_bytes(pixels)
                    member = tarfile.TarInfo(f"cifar10-jpg/{split}/{name}/{index:04d}.jpg")
                    member.size = len(data)
                    archive.addfile(member, io.BytesIO(data))
    return root
