"""Where the audit's semantic-copy threshold comes from: chosen on one generated set, reported on two others.

The audit calls two images copies when the cosine similarity of their instance vectors (embeddings centred on the
dataset mean, less the class-mean directions: collector/curate/audit/semantic.py) reaches `similarity`. Sets:

  A (choose): 1,000 CIFAR-10 test photos (seed 0), 200 of them copied once by a 10% centre crop resized back;
  B (report): 1,000 other CIFAR-10 test photos (seed 1), 200 copies each cropped 5-20% off centre, JPEG q60-90,
              brightness x0.85-1.15;
  C (report): 600 generated pictures (random shapes over gradients, tests/curate/conftest.py), 120 copies as B.

Copies keep their original's class. The threshold is the smallest on a 0.01 grid whose predicted pairs on A are
at least 99% true copies; A, B and C are then reported at it: precision and recall over the copy pairs, and the
recall on the copies the hash pass misses (pHash > 8 and dHash > 7). The backbone is a stand-in, since no
pretrained weights can be downloaded here: a resnet18 with random weights at 32 px (`--backbone` takes a model.pt).

    python bench/audit_thresholds.py [--backbone runs/x/model.pt] [--cache data/audit_thresholds]
"""

from __future__ import annotations

import argparse
import random
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import torch
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import classify
from classify.checkpoint import ModelFile, Preprocess, save_model
from classify.models import build_model
from collector.curate.audit.semantic import instance_vectors, similar_pairs
from tests.curate.conftest import make_photo

CIFAR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
TARGET_PRECISION = 0.99
GRID = np.round(np.arange(0.30, 0.96, 0.01), 2)


@dataclass(frozen=True)
class Scored:
    threshold: float
    precision: float
    recall: float
    hash_missed: int
    recall_hash_missed: float
    predicted: int


def cifar_photos(cache: Path) -> list[tuple[Path, str]]:
    """Every CIFAR-10 test JPEG with its class, extracted once into the cache."""
    folder = cache / "cifar10-jpg" / "test"
    if not folder.is_dir():
        with tarfile.open(CIFAR) as archive:
            archive.extractall(cache, filter="data",
                               members=[m for m in archive.getmembers() if "/test/" in m.name or m.isdir()])
    return [(path, path.parent.name) for path in sorted(folder.glob("*/*.jpg"))]


def mild(image: Image.Image, rng: random.Random) -> Image.Image:
    """Set A's copy: a 10% centre crop, resized back."""
    w, h = image.size
    return image.crop((round(w * 0.05), round(h * 0.05), round(w * 0.95), round(h * 0.95))).resize((w, h))


def varied(image: Image.Image, rng: random.Random) -> Image.Image:
    """Sets B and C: a 5-20% crop off centre, brightness x0.85-1.15, then JPEG q60-90 (by the caller's save)."""
    w, h = image.size
    cut = rng.uniform(0.05, 0.20)
    left, top = rng.uniform(0, cut) * w, rng.uniform(0, cut) * h
    box = (round(left), round(top), round(left + (1 - cut) * w), round(top + (1 - cut) * h))
    copy = image.crop(box).resize((w, h))
    return ImageEnhance.Brightness(copy).enhance(rng.uniform(0.85, 1.15))


def build(folder: Path, originals: list[tuple[Image.Image, str]], copies: int, recipe, seed: int
          ) -> tuple[list[Path], list[str], list[tuple[int, int]], list[bool]]:
    """Write the set: originals, then copies of the first `copies`; return paths, classes, the true pairs and,
    per pair, whether the hash pass would miss it."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, classes = [], []
    for k, (image, name) in enumerate(originals):
        paths.append(folder / f"{k:05d}.png")
        image.save(paths[-1])
        classes.append(name)
    pairs, missed = [], []
    for k in range(copies):
        image, name = originals[k]
        copy = recipe(image, rng)
        paths.append(folder / f"{k:05d}-copy.jpg")
        copy.save(paths[-1], quality=rng.randint(60, 90) if recipe is varied else 95)
        classes.append(name)
        pairs.append((k, len(paths) - 1))
        again = Image.open(paths[-1])
        missed.append(imagehash.phash(image) - imagehash.phash(again) > 8
                      and imagehash.dhash(image) - imagehash.dhash(again) > 7)
    return paths, classes, pairs, missed


def similarities(paths: list[Path], classes: list[str], backbone: str) -> np.ndarray:
    embedded = classify.embed(paths, backbone, device="cpu", progress=False)
    assert embedded.paths == paths, "every generated file decodes"
    names = sorted(set(classes))
    return instance_vectors(embedded.vectors, np.array([names.index(c) for c in classes]))


def score(vectors: np.ndarray, pairs: list[tuple[int, int]], missed: list[bool], threshold: float) -> Scored:
    left, right, _ = similar_pairs(vectors, threshold)
    predicted = set(zip(left.tolist(), right.tolist(), strict=True))
    truth = set(pairs)
    hits = [pair in predicted for pair in pairs]
    hidden = [hit for hit, miss in zip(hits, missed, strict=True) if miss]
    return Scored(threshold, len(predicted & truth) / max(len(predicted), 1), sum(hits) / len(pairs),
                  len(hidden), sum(hidden) / max(len(hidden), 1), len(predicted))


def random_backbone(path: Path) -> str:
    torch.manual_seed(3)
    model = build_model("resnet18", 10)
    save_model(ModelFile("resnet18", [str(k) for k in range(10)], model.state_dict(), Preprocess(resize=36, crop=32),
                         {}), path)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", help="a model.pt; default: a random resnet18 at 32 px (a stand-in)")
    parser.add_argument("--cache", type=Path, default=Path("data/audit_thresholds"))
    args = parser.parse_args()
    if not CIFAR.is_file():
        sys.exit(f"needs {CIFAR}")
    args.cache.mkdir(parents=True, exist_ok=True)
    backbone = args.backbone or random_backbone(args.cache / "random-resnet18.pt")
    photos = cifar_photos(args.cache)
    order = list(range(len(photos)))
    random.Random(0).shuffle(order)
    first = [(Image.open(photos[i][0]).convert("RGB"), photos[i][1]) for i in order[:1000]]
    second = [(Image.open(photos[i][0]).convert("RGB"), photos[i][1]) for i in order[1000:2000]]
    shapes = [(make_photo(64, 64, seed=k), f"c{k % 5}") for k in range(600)]
    sets = {
        "A (choose): CIFAR, 10% centre crop": build(args.cache / "A", first, 200, mild, 0),
        "B: CIFAR, crop 5-20% + brightness + JPEG": build(args.cache / "B", second, 200, varied, 1),
        "C: generated shapes, as B": build(args.cache / "C", shapes, 120, varied, 2),
    }
    vectors = {name: similarities(paths, classes, backbone) for name, (paths, classes, _, _) in sets.items()}
    name_a = next(iter(sets))
    _, _, pairs_a, missed_a = sets[name_a]
    chosen = next((t for t in GRID if score(vectors[name_a], pairs_a, missed_a, t).precision >= TARGET_PRECISION),
                  GRID[-1])
    print(f"backbone: {backbone}")
    print(f"threshold chosen on A (precision >= {TARGET_PRECISION:.0%}): {chosen:.2f}")
    print(f"{'set':44} {'thr':>5} {'precision':>9} {'recall':>7} {'hash-missed':>11} {'recall there':>12}")
    for name, (_, _, pairs, missed) in sets.items():
        for threshold in sorted({chosen, 0.6}):
            s = score(vectors[name], pairs, missed, threshold)
            print(f"{name:44} {threshold:5.2f} {s.precision:9.3f} {s.recall:7.3f} {s.hash_missed:11d} "
                  f"{s.recall_hash_missed:12.3f}")


if __name__ == "__main__":
    main()
