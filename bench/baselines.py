"""Accuracy and training time of `classify baseline` models, side by side on one device.

Each row trains one model several times on one dataset and prints accuracy (mean and std over runs) and training
seconds (data preparation and compilation excluded, as `classify baseline` reports them). Per dataset, the `fast`
row is compared with the tutorial CNN trained in the same process on the same device (speed ratio and accuracy
difference). On CUDA, the CIFAR-10 JPEG row is also set against the best public speed run measured on that same
copy on an H100 (90.7% in 1.6 s, ../shared/datasets/README.md).

Data comes from the offline copies in ../shared/datasets: the MNIST .gz files are copied to --data-root and
decompressed there, the CIFAR-10 JPEG tarball is extracted there (both once).

    python bench/baselines.py                                   # defaults: GPU rows on CUDA, cheap rows on CPU
    python bench/baselines.py --rows mnist:mlp mnist:cnn --runs 1
    python bench/baselines.py --rows cifar10-jpg:fast --runs 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classify.baselines.data import ImageData, load_builtin, load_folder
from classify.baselines.experiment import NO_MIRRORING
from classify.baselines.recipe import make_recipe
from classify.baselines.train import run_baseline, summarise
from classify.devices import resolve_device

SHARED = ROOT.parent / "shared" / "datasets"
REFERENCE = {"cifar10-jpg": ("best public speed run, H100", 0.907, 1.6)}
GPU_ROWS = ["mnist:mlp", "mnist:cnn", "mnist:fast", "cifar10-jpg:mlp", "cifar10-jpg:cnn", "cifar10-jpg:fast"]
CPU_ROWS = ["mnist:mlp", "mnist:cnn-small"]


def mnist(data_root: Path, datasets: Path) -> ImageData:
    raw = data_root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for source in (datasets / "MNIST" / "raw").glob("*.gz"):
        if not (raw / source.name).exists():
            shutil.copy(source, raw / source.name)
    return load_builtin("mnist", data_root, download=False)


def cifar10_jpg(data_root: Path, datasets: Path) -> ImageData:
    folder = data_root / "cifar10-jpg"
    if not (folder / "test").is_dir():
        with tarfile.open(datasets / "cifar10-jpg.tar.gz") as archive:
            archive.extractall(data_root, filter="data")
    return load_folder(folder)


LOADERS = {"mnist": mnist, "cifar10-jpg": cifar10_jpg}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", metavar="DATASET:MODEL",
                        help=f"rows to run (datasets: {', '.join(LOADERS)}). Default on CUDA: {' '.join(GPU_ROWS)}; "
                             f"on CPU: {' '.join(CPU_ROWS)}")
    parser.add_argument("--runs", type=int, default=None, help="runs per row (default: 5 on CUDA, 1 on CPU)")
    parser.add_argument("--epochs", type=int, help="override every row's epochs (default: each model's own)")
    parser.add_argument("--limit", type=int, help="first N training and N test images only (quick checks)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-root", type=Path, default=ROOT / "data" / "datasets",
                        help="where the datasets are decompressed and extracted (once)")
    parser.add_argument("--datasets", type=Path, default=SHARED,
                        help="the offline copies to read: MNIST/raw/*.gz and cifar10-jpg.tar.gz (default: "
                             "../shared/datasets; bench/gpu_prepare.sh copies them to .gpu/datasets for a GPU machine)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here (rewritten after each row)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    rows = args.rows or (GPU_ROWS if cuda else CPU_ROWS)
    runs = args.runs or (5 if cuda else 1)
    cache: dict[str, ImageData] = {}
    load_seconds: dict[str, float] = {}
    results = []
    print(f"{'dataset':<12} {'model':<10} {'device':<8} {'accuracy':>16} {'train s':>9} {'compile s':>9} {'runs':>4}")
    for row in rows:
        dataset, _, model = row.partition(":")
        if dataset not in cache:
            started = time.perf_counter()
            data = LOADERS[dataset](args.data_root, args.datasets)
            load_seconds[dataset] = time.perf_counter() - started
            cache[dataset] = ImageData(dataset, data.classes, data.train.head(args.limit), data.test.head(args.limit))
        data = cache[dataset]
        recipe = make_recipe(model, data.shape[0] == 1, epochs=args.epochs)
        result = run_baseline(data, model, recipe, device, runs=runs, compile=cuda, flip=dataset not in NO_MIRRORING)
        mean, std = summarise(result.accuracies)
        seconds = sum(result.train_seconds) / runs
        results.append({"dataset": dataset, "model": model, "device": str(device), "accuracy_mean": mean,
                        "accuracy_std": std, "train_seconds": seconds, "compile_seconds": result.compile_seconds,
                        "epochs": recipe.epochs, "runs": runs, "accuracies": result.accuracies,
                        "train_seconds_each": result.train_seconds, "data_seconds": result.data_seconds,
                        "load_seconds": load_seconds[dataset]})
        print(f"{dataset:<12} {model:<10} {device!s:<8} {100 * mean:>8.2f}% ± {100 * std:4.2f} {seconds:>9.2f} "
              f"{result.compile_seconds:>9.1f} {runs:>4}", flush=True)
        if args.json:  # after every row, so a run stopped part-way keeps the rows it finished
            args.json.write_text(json.dumps(results, indent=2))
    print()
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        by_model = {r["model"]: r for r in results if r["dataset"] == dataset}
        if "fast" in by_model and "cnn" in by_model:
            fast, cnn = by_model["fast"], by_model["cnn"]
            print(f"{dataset}: fast trains {cnn['train_seconds'] / fast['train_seconds']:.1f}x faster than the "
                  f"tutorial cnn, {100 * (fast['accuracy_mean'] - cnn['accuracy_mean']):+.2f} points accuracy")
        if cuda and "fast" in by_model and dataset in REFERENCE:
            name, accuracy, seconds = REFERENCE[dataset]
            fast = by_model["fast"]
            print(f"{dataset}: fast takes {fast['train_seconds'] / seconds:.2f}x the training time of the {name} "
                  f"({seconds} s), {100 * (fast['accuracy_mean'] - accuracy):+.2f} points against its "
                  f"{100 * accuracy:.1f}% (compare only on an H100)")


if __name__ == "__main__":
    main()
