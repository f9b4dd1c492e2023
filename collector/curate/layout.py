"""Find the images of an ImageFolder dataset: `ROOT/{train,val,test}/<class>/...` or a flat `ROOT/<class>/...`.

Hidden and system files, the quarantine, the manifest and curate's own reports are never part of the dataset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import CollectorError

SPLITS = ("train", "val", "test")
QUARANTINE = "_quarantine"
SYSTEM_NAMES = frozenset({"Thumbs.db", "desktop.ini", "Icon\r", "__MACOSX"})


class LayoutError(CollectorError):
    """ROOT is not a dataset folder curate can work on."""


@dataclass(frozen=True)
class Entry:
    """One file of the dataset. `path` is relative to ROOT with forward slashes; `split` is "" in a flat layout."""

    path: str
    split: str
    class_name: str


def is_ignored(name: str) -> bool:
    """Hidden files (`.DS_Store`, `._photo.jpg`, collect's `.tmp`), system files, and the quarantine."""
    return name.startswith(".") or name in SYSTEM_NAMES or name == QUARANTINE


def check_root(root: Path) -> None:
    if not root.exists():
        raise LayoutError(f"{root} does not exist")
    if not root.is_dir():
        raise LayoutError(f"{root} is a file, not a dataset folder")


def scan(root: Path) -> list[Entry]:
    """Every dataset file under ROOT, sorted by path. Raises LayoutError when ROOT cannot be a dataset."""
    check_root(root)
    split_dirs = [name for name in SPLITS if (root / name).is_dir()]
    if split_dirs:
        entries = [entry for split in split_dirs for entry in _scan_classes(root, split)]
    else:
        entries = _scan_classes(root, "")
    return sorted(entries, key=lambda e: e.path)


def _scan_classes(root: Path, split: str) -> list[Entry]:
    base = root / split if split else root
    entries = []
    for class_dir in _subdirs(base):
        for path in _files(class_dir):
            entries.append(Entry(path.relative_to(root).as_posix(), split, class_dir.name))
    return entries


def _subdirs(folder: Path) -> list[Path]:
    try:
        children = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as error:
        raise LayoutError(f"cannot read {folder}: {error.strerror or error}") from error
    return [Path(child.path) for child in children if child.is_dir() and not is_ignored(child.name)]


def _files(folder: Path) -> list[Path]:
    """Files below a class folder, nested folders included (ImageFolder reads them too)."""
    found = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not is_ignored(d))
        found.extend(Path(current) / name for name in sorted(names) if not is_ignored(name))
    return found
