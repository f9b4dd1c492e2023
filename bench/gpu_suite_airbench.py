"""airbench94_muon (github.com/KellerJordan/cifar10-airbench) trained several times on the CIFAR-10 JPEG copy.

The speed-run script is imported from its own checkout, never copied into this project. Its loader reads
`cifar10/train.pt` and `cifar10/test.pt` under the working directory (uint8 N x 32 x 32 x 3 images, labels, class
names), so the JPEG copy is decoded once into that format: the same pixels `bench/baselines.py` trains on. Then, as
its own `__main__` does, one compiled model is warmed up on a run with random labels and reused for every timed run;
each run's seconds are the script's own CUDA-event timing (whitening, training and its final test-time-augmented
evaluation; its per-epoch evaluations are outside the clock). Prints one JSON object; --json also writes it,
rewritten after every run.

    python bench/gpu_suite_airbench.py --script .gpu/peers/cifar10-airbench/airbench94_muon.py \\
        --datasets .gpu/datasets --work /tmp/airbench --runs 10
    python bench/gpu_suite_airbench.py --datasets .gpu/datasets --work /tmp/airbench --prepare-only   # no GPU needed
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import statistics
import sys
import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
SPLITS = {"train": "train.pt", "test": "test.pt"}


def extracted_folder(datasets: Path, work: Path) -> Path:
    """`work/cifar10-jpg`, the ImageFolder tree of `datasets/cifar10-jpg.tar.gz`, extracted there once."""
    folder = work / "cifar10-jpg"
    if not (folder / "test").is_dir():
        tarball = datasets / "cifar10-jpg.tar.gz"
        if not tarball.is_file():
            sys.exit(f"{tarball} is missing: run bench/gpu_prepare.sh or pass --datasets")
        with tarfile.open(tarball) as archive:
            archive.extractall(work, filter="data")
    return folder


def decode_split(split: Path, classes: list[str], workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every `split/<class>/*.jpg` as uint8 RGB pixels (N x H x W x 3, CIFAR's own layout) and int64 labels."""
    files = [(path, label) for label, name in enumerate(classes) for path in sorted((split / name).glob("*.jpg"))]

    def pixels(path: Path) -> np.ndarray:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        images = np.stack(list(pool.map(pixels, [path for path, _ in files])))
    return torch.from_numpy(images), torch.tensor([label for _, label in files], dtype=torch.int64)


def write_airbench_data(folder: Path, out: Path, workers: int) -> dict[str, int]:
    """`out/train.pt` and `out/test.pt` in airbench's format from the ImageFolder `folder`; returns images per split.

    Classes are the sorted folder names, which for CIFAR-10 is CIFAR-10's own label order.
    """
    classes = sorted(path.name for path in (folder / "train").iterdir() if path.is_dir())
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, name in SPLITS.items():
        images, labels = decode_split(folder / split, classes, workers)
        torch.save({"images": images, "labels": labels, "classes": classes}, out / name)
        counts[split] = len(labels)
    return counts


def load_script(path: Path) -> ModuleType:
    """Import the speed-run script as a module; it reads its own source through sys.argv[0] on import."""
    spec = importlib.util.spec_from_file_location("airbench_script", path)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    argv0, sys.argv[0] = sys.argv[0], str(path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.argv[0] = argv0
    return module


def reported_seconds(printed: str) -> float:
    """The `time_seconds` column of the script's last table row (its final, test-time-augmented evaluation)."""
    rows = [line for line in printed.splitlines() if line.startswith("|") and line.rstrip().endswith("|")]
    return float(rows[-1].strip("|").split("|")[-1])


def timed_runs(module: ModuleType, runs: int, save: Callable[[dict], None]) -> None:
    """Warm-up (compilation included) and `runs` timed runs of the script's `main`, as its own `__main__` does;
    `save` gets the figures so far after each run, so a run stopped part-way keeps what it measured."""
    started = time.perf_counter()
    model = module.CifarNet().cuda().to(memory_format=torch.channels_last)
    model.compile(mode="max-autotune")
    with contextlib.redirect_stdout(sys.stderr):
        module.main("warmup", model)
    warmup_seconds = time.perf_counter() - started
    accuracies, seconds = [], []
    for run in range(runs):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            accuracy = float(module.main(run, model))
        print(printed.getvalue(), end="", file=sys.stderr, flush=True)
        accuracies.append(accuracy)
        seconds.append(reported_seconds(printed.getvalue()))
        save({"accuracies": accuracies, "seconds": seconds, "warmup_seconds": warmup_seconds,
              "accuracy_mean": statistics.mean(accuracies),
              "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
              "seconds_mean": statistics.mean(seconds)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, help="airbench94_muon.py from a cifar10-airbench checkout")
    parser.add_argument("--datasets", type=Path, default=SHARED, help="folder holding cifar10-jpg.tar.gz")
    parser.add_argument("--work", type=Path, default=Path("/tmp/imgharvest-airbench"),
                        help="where the JPEGs are extracted and cifar10/{train,test}.pt written (reused)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs after the warm-up")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="decoding threads")
    parser.add_argument("--prepare-only", action="store_true",
                        help="write the data (and import --script, if given) without training: no GPU needed")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    args.work, args.json = args.work.resolve(), args.json.resolve() if args.json else None  # before the chdir below

    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / "cifar10"
    started = time.perf_counter()
    if not all((data / name).is_file() for name in SPLITS.values()):
        counts = write_airbench_data(extracted_folder(args.datasets, args.work), data, args.workers)
        print(f"wrote {data}: {counts['train']} train, {counts['test']} test images in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    result: dict = {"data": str(data), "prepare_seconds": time.perf_counter() - started,
                    "script": str(args.script) if args.script else None}

    def save(figures: dict) -> None:
        result.update(figures)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))

    save({})
    module = load_script(args.script.resolve()) if args.script else None
    if not args.prepare_only:
        if module is None:
            sys.exit("--script is needed to train (or pass --prepare-only)")
        if not torch.cuda.is_available():
            sys.exit("airbench94_muon needs a CUDA GPU: use --prepare-only on a machine without one")
        os.chdir(args.work)  # the script reads cifar10/{train,test}.pt relative to here
        timed_runs(module, args.runs, save)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
