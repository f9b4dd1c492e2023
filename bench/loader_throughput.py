"""Images per second from JPEG file to training or evaluation tensor: classify's pipeline against the tutorials'.

The baseline is the ImageFolder tutorial path: torchvision's default loader (Pillow decodes the whole JPEG, then
converts to RGB) followed by the very same transform. classify's pipeline decodes a JPEG at 1/2, 1/4 or 1/8
scale when the transform would shrink it past that anyway (`classify.transforms.Pipeline`). Photos are CIFAR-10
JPEGs from ../shared/datasets/cifar10-jpg.tar.gz upscaled to camera sizes with a little grain, saved at JPEG
quality 90. One process, alternating rounds, so other load on the machine falls on both alike; the best round of
each is printed. A loader worker runs exactly this per image.

    python bench/loader_throughput.py [--images 40] [--sizes 1600x1200 4032x3024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.datasets.folder import default_loader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classify.checkpoint import Preprocess
from classify.transforms import Pipeline, eval_pipeline, train_pipeline

CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"


def make_photos(archive: Path, count: int, size: tuple[int, int], folder: Path, seed: int = 0) -> list[Path]:
    """`count` CIFAR-10 photos upscaled to `size`, with grain so they compress like camera pictures."""
    rng = np.random.default_rng(seed)
    paths: list[Path] = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".jpg")):
                continue
            photo = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            large = np.asarray(photo.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
            grain = rng.normal(0, 4, large.shape).astype(np.int16)
            path = folder / f"{size[0]}x{size[1]}-{len(paths):04d}.jpg"
            Image.fromarray(np.clip(large + grain, 0, 255).astype(np.uint8)).save(path, quality=90)
            paths.append(path)
            if len(paths) == count:
                return paths
    return paths


def rate(load: Callable[[Path], object], paths: list[Path]) -> float:
    torch.manual_seed(0)  # both contenders draw the same random augmentations
    started = time.perf_counter()
    for path in paths:
        load(path)
    return len(paths) / (time.perf_counter() - started)


def best_rates(contenders: dict[str, Callable[[Path], object]], paths: list[Path], rounds: int) -> dict[str, float]:
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        for name, load in contenders.items():
            best[name] = max(best[name], rate(load, paths))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=40, help="photos per size")
    parser.add_argument("--sizes", nargs="+", default=["1600x1200", "4032x3024"], help="photo sizes, WxH")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", type=Path, default=CIFAR, help="the CIFAR-10 JPEG tarball")
    args = parser.parse_args()
    if not args.source.is_file():
        sys.exit(f"{args.source} is missing: the benchmark makes its photos from the CIFAR-10 JPEG copy")

    preprocess = Preprocess(resize=256, crop=224)
    pipelines: dict[str, Pipeline] = {"eval": eval_pipeline(preprocess),
                                      **{f"train ({level})": train_pipeline(preprocess, level)
                                         for level in ("light", "default", "strong")}}
    print(f"{'photos':>10}  {'pipeline':<17} {'tutorial img/s':>14} {'classify img/s':>14} {'ratio':>6}  decode side")
    with tempfile.TemporaryDirectory() as work:
        for size_text in args.sizes:
            size = tuple(int(v) for v in size_text.split("x"))
            paths = make_photos(args.source, args.images, size, Path(work))  # type: ignore[arg-type]
            for name, pipeline in pipelines.items():
                rates = best_rates({"tutorial": lambda p, t=pipeline.transform: t(default_loader(p)),
                                    "classify": pipeline}, paths, args.rounds)
                ratio = rates["classify"] / rates["tutorial"]
                print(f"{size_text:>10}  {name:<17} {rates['tutorial']:14.1f} {rates['classify']:14.1f} "
                      f"{ratio:5.2f}x  {pipeline.decode_side} px")


if __name__ == "__main__":
    main()
