"""Shared fixtures for classify tests: a tiny generated ImageFolder a small CNN learns in seconds on a CPU."""

from __future__ import annotations

import contextlib
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from classify.checkpoint import ModelFile, Preprocess, save_model
from classify.models import build_model

# The classes of `colour_folder`: noisy solid colours, learnable at 16 px.
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}

# Each class differs in both colour and shape, so even a few dozen images at 32 px are learnable.
SHAPES = {
    "circle": ((220, 40, 40), "ellipse"),
    "square": ((40, 180, 40), "rectangle"),
    "triangle": ((40, 60, 220), "polygon"),
}


def draw_shape(kind: str, colour: tuple[int, int, int], size: int, rng: random.Random) -> Image.Image:
    """One picture: a shape of `kind` at a random place and scale on a random light background, jittered colour."""
    background = tuple(rng.randint(170, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    extent = rng.randint(size // 2, size - 4)
    left, top = rng.randint(0, size - extent), rng.randint(0, size - extent)
    box = (left, top, left + extent, top + extent)
    fill = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in colour)
    if kind == "ellipse":
        draw.ellipse(box, fill=fill)
    elif kind == "rectangle":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([(left + extent // 2, top), (left, top + extent), (left + extent, top + extent)], fill=fill)
    return image


def make_image_folder(root: Path, *, train: int = 12, val: int = 4, size: int = 32, seed: int = 0,
                      classes: tuple[str, ...] = tuple(SHAPES), val_split: bool = True) -> Path:
    """Write `root/train/<class>/NNN.png` (and `root/val/...` when `val_split`) for `classes` of SHAPES.

    Deterministic for a given seed; `train` and `val` are images per class. Returns `root`.
    """
    rng = random.Random(seed)
    splits = {"train": train, "val": val} if val_split else {"train": train}
    for split, count in splits.items():
        for name in classes:
            colour, kind = SHAPES[name]
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                draw_shape(kind, colour, size, rng).save(folder / f"{index:03d}.png")
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A fresh tiny ImageFolder: three classes (red circles, green squares, blue triangles), 12 train and 4 val
    images each, 32x32 PNGs, under `tmp_path/data`."""
    return make_image_folder(tmp_path / "data")


@pytest.fixture(scope="session")
def shared_image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny ImageFolder made once per session, for tests that only read it."""
    return make_image_folder(tmp_path_factory.mktemp("shapes") / "data")


def save_untrained_model(path: Path, classes: list[str], *, seed: int = 0, metrics: dict | None = None) -> Path:
    """A resnet18 `model.pt` with random weights and 32 px preprocessing: enough for predict, eval and export."""
    torch.manual_seed(seed)
    model = build_model("resnet18", len(classes))
    return save_model(ModelFile("resnet18", classes, model.state_dict(), Preprocess(resize=36, crop=32),
                                metrics or {}), path)


@pytest.fixture
def colour_folder(tmp_path: Path) -> Path:
    """A tiny ImageFolder with train/ and test/: three classes of noisy solid colours, 16x16 PNGs."""
    rng = np.random.default_rng(0)
    root = tmp_path / "colours"
    for split, count in (("train", 16), ("test", 6)):
        for name, colour in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (16, 16, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{index:03}.png")
    return root


def mount_tmpfs(folder: Path, options: str) -> None:
    """A tmpfs at `folder` (made here), or a skip where this machine does not let the tests mount one."""
    folder.mkdir(parents=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a tiny file system with")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on a 600 KB file system whose every byte is already taken, so any real write fails as on a
    full disk (ENOSPC)."""
    disk = tmp_path / "full"
    mount_tmpfs(disk, "size=600k")
    try:
        (disk / "out").mkdir()
        with contextlib.suppress(OSError), (disk / "filler").open("wb") as filler:
            filler.write(bytes(2**20))
        yield disk / "out"
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on a read-only file system (EROFS; file permissions would not stop root)."""
    disk = tmp_path / "read-only"
    mount_tmpfs(disk, "ro,size=64k")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)
