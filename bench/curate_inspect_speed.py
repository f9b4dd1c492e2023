"""Images per second of `curate`'s per-file inspection against imagehash.phash on a plain Pillow open.

Real photos: CIFAR-10 JPEGs from ../shared/datasets/cifar10-jpg.tar.gz, taken evenly across the archive and
upscaled to 128-400 px (JPEG quality 90), the sizes the issue's speed goal names. The baseline is the
tutorial dedupe loop, `imagehash.phash(Image.open(path))`: it decodes and hashes, nothing more. inspect_image
also sniffs the real format, applies EXIF orientation, digests the full RGB pixels for exact duplicates,
computes the quality metrics and flags. Both run in the same process pool (the pipeline uses one), in
alternating rounds so that other load on the machine falls on both alike; the best round of each is printed.

    python bench/curate_inspect_speed.py [--images 1000] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import imagehash
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.curate.inspect import InspectOptions, inspect_image

CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
CIFAR_IMAGES = 60_000


def make_photos(archive: Path, count: int, folder: Path, seed: int = 0) -> list[Path]:
    """`count` CIFAR-10 photos spread over the archive, each upscaled to a random 128-400 px size."""
    rng = random.Random(seed)
    every = max(1, CIFAR_IMAGES // count)
    paths: list[Path] = []
    with tarfile.open(archive) as tar:
        members = (m for m in tar if m.isfile() and m.name.endswith(".jpg"))
        for index, member in enumerate(members):
            if index % every:
                continue
            photo = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            width = rng.randint(128, 400)
            height = max(128, min(400, int(width * rng.uniform(0.6, 1.5))))
            path = folder / f"{len(paths):05d}.jpg"
            photo.resize((width, height), Image.Resampling.BICUBIC).save(path, quality=90)
            paths.append(path)
            if len(paths) == count:
                break
    return paths


def baseline(path: Path) -> str:
    with Image.open(path) as image:
        return str(imagehash.phash(image))


def inspect(path: Path) -> bool:
    return inspect_image(path, InspectOptions()).ok


def rate(pool: ProcessPoolExecutor, task, paths: list[Path]) -> float:
    start = time.perf_counter()
    done = list(pool.map(task, paths, chunksize=16))
    assert len(done) == len(paths)
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000, help="photos to time (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="processes in the pool (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side; best is kept (default 3)")
    parser.add_argument("--archive", type=Path, default=CIFAR, help="cifar10-jpg.tar.gz to take photos from")
    args = parser.parse_args()
    if not args.archive.exists():
        sys.exit(f"error: {args.archive} not found: pass --archive with the CIFAR-10 JPEG archive")
    with tempfile.TemporaryDirectory(prefix="curate-inspect-") as work:
        paths = make_photos(args.archive, args.images, Path(work))
        accepted = sum(inspect(path) for path in paths[:50])
        assert accepted == min(50, len(paths)), "inspect_image rejected a real photo"
        best = {"imagehash.phash(Image.open(path))": 0.0, "inspect_image": 0.0}
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(inspect, paths[:32]))
            list(pool.map(baseline, paths[:32]))
            for _ in range(args.rounds):
                for name, task in zip(best, (baseline, inspect), strict=True):
                    best[name] = max(best[name], rate(pool, task, paths))
    print(f"{len(paths)} CIFAR-10 photos upscaled to 128-400 px, {args.workers} processes, best of {args.rounds}")
    for name, images_per_second in best.items():
        print(f"  {name:36s} {images_per_second:8.0f} images/s")
    ours, theirs = best["inspect_image"], best["imagehash.phash(Image.open(path))"]
    print(f"  inspect_image / baseline: {ours / theirs:.2f}x (goal: at least 300 images/s)")


if __name__ == "__main__":
    main()
