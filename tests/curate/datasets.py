"""A small dirty dataset on disk whose right answer is known: what must move where, and why.

Used by the pipeline and command-line tests; the files come from tests/curate/conftest.py's generators.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.curate.conftest import make_bad_files, make_photo

# Roots curate cannot work on, each made by a function of the root path, and the error it must give.
UNUSABLE_ROOTS = [
    (lambda root: None, "does not exist"),
    (lambda root: root.write_text("x"), "is a file, not a dataset folder"),
    (lambda root: (root / "train" / "cat").mkdir(parents=True), "no images under"),
]

# Relative path -> quarantine reason, for every file a default run must move (bad files are added below).
EXPECTED_MOVES = {
    "train/cat/c1.jpg": "duplicate",  # same pixels as c1.png, which is the larger file
    "val/cat/c2_small.jpg": "duplicate",  # a smaller copy of train/cat/c2.jpg: train/val leakage
    "train/cat/c3.png": "label-conflict",  # the same picture as train/dog/c3.jpg
    "train/dog/c3.jpg": "label-conflict",
}
KEPT = ["train/cat/c1.png", "train/cat/c2.jpg", "train/dog/d1.jpg", "train/dog/d2.jpg", "train/dog/dark.jpg",
        "val/dog/d3.jpg"]
HIDDEN = ["train/cat/.DS_Store", "train/cat/._c2.jpg"]


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def build_dataset(root: Path) -> dict[str, str]:
    """Write the dataset under root; return {relative path: reason} of every file a default run must move."""
    files: dict[str, bytes] = {}
    c1 = jpeg(make_photo(200, 150, seed=101))
    files["train/cat/c1.jpg"] = c1
    files["train/cat/c1.png"] = png(Image.open(io.BytesIO(c1)).convert("RGB"))  # the JPEG's exact pixels
    c2 = make_photo(240, 180, seed=102)
    files["train/cat/c2.jpg"] = jpeg(c2)
    files["val/cat/c2_small.jpg"] = jpeg(c2.resize((120, 90), Image.Resampling.LANCZOS), quality=80)
    c3 = make_photo(160, 160, seed=103)
    files["train/cat/c3.png"] = png(c3)
    files["train/dog/c3.jpg"] = jpeg(c3, quality=85)
    files["train/dog/d1.jpg"] = jpeg(make_photo(200, 150, seed=104))
    files["train/dog/d2.jpg"] = jpeg(make_photo(150, 200, seed=105))
    files["val/dog/d3.jpg"] = jpeg(make_photo(200, 150, seed=106))
    dark = np.asarray(make_photo(200, 150, seed=107)).astype(np.float32) * 0.08
    files["train/dog/dark.jpg"] = jpeg(Image.fromarray(dark.astype(np.uint8)))
    files["train/cat/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    files["train/cat/._c2.jpg"] = b"\x00\x05\x16\x07AppleDouble"
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    bad = make_bad_files(root / "train" / "dog")
    return {**EXPECTED_MOVES, **{f"train/dog/{name}": reason for name, reason in bad.items()}}


def tree_digest(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """{relative path: sha256} of every file under root, except paths starting with one of `skip`."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith(skip):
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def everything(root: Path) -> dict[str, tuple[str, float]]:
    """Every file and folder under root with its hash (files) and modification time: 'touched nothing' evidence."""
    found = {}
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[path.relative_to(root).as_posix()] = (digest, path.stat().st_mtime_ns)
    return found
