"""The classify side of `curate --audit`: embedding throughput beside `classify predict`'s, the time of a probe
audit of 10,000 images whose embeddings are cached, and the measurements behind the probe's defaults (its L2
strength, chosen per audit by held-out log loss, and K, the number of folds).

No pretrained weights can be downloaded here, so the backbone is a STAND-IN: a resnet18 trained from scratch by
`classify train` at 32 px on CIFAR-10 classes the audited set does not contain (airplane, bird, deer, frog, horse,
ship; the audit bench's split), unless --backbone names a model.pt. The audited set: CIFAR-10 JPEG photos of
automobile, cat, dog and truck (32 px, as the stand-in sees them), with 20% of labels flipped either at random
(symmetric) or to the look-alike class (asymmetric: automobile<->truck, cat<->dog), on several seeds.

How good the out-of-sample probabilities are is scored without any detector's threshold: accuracy of their argmax
against the true labels, and the AUROC of 1 - p(given label) as a score for "this label is wrong"; plus the F1
of the simplest detector, argmax != given label. The label-issue detector itself (confident learning) is measured
in bench/audit_bench.py.

    nice python bench/probe_bench.py [--images 10000] [--seeds 0,1] [--backbone runs/x/model.pt]
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `classify` from this checkout, also when run as `python bench/...`

import classify
from classify.crossval import REGULARISATIONS, _probe_folds, assign_folds, log_loss, probe_folds

CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
AUDITED = ("automobile", "cat", "dog", "truck")
LOOKALIKE = {"automobile": "truck", "truck": "automobile", "cat": "dog", "dog": "cat"}
BACKBONE_CLASSES = ("airplane", "bird", "deer", "frog", "horse", "ship")
NOISE = 0.2
STRENGTHS = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)  # the probe's candidates and two weaker ones


def extract(work: Path) -> Path:
    """CIFAR-10's JPEGs under `work/cifar10-jpg`, once."""
    marker = work / ".extracted"
    if not marker.is_file():
        if not CIFAR.is_file():
            sys.exit(f"{CIFAR} is missing: the benchmark is built from the CIFAR-10 JPEG copy")
        work.mkdir(parents=True, exist_ok=True)
        with tarfile.open(CIFAR) as archive:
            archive.extractall(work, filter="data")
        marker.touch()
    return work / "cifar10-jpg"


def stand_in(cifar: Path, work: Path, per_class: int, epochs: int) -> Path:
    run = work / "runs" / f"stand-in-{per_class}-{epochs}"
    if (run / "model.pt").is_file():
        return run / "model.pt"
    data = work / f"backbone-{per_class}"
    for split, source, count in (("train", "train", per_class), ("val", "test", max(100, per_class // 5))):
        for name in BACKBONE_CLASSES:
            (data / split / name).mkdir(parents=True, exist_ok=True)
            for path in sorted((cifar / source / name).glob("*.jpg"))[:count]:
                target = data / split / name / path.name
                if not target.exists():
                    target.hardlink_to(path)
    print(f"training the STAND-IN backbone once: resnet18 from scratch, 32 px, {per_class} photos of each of "
          f"{', '.join(BACKBONE_CLASSES)}, {epochs} epochs", file=sys.stderr)
    result = classify.train(data, model="resnet18", weights="none", image_size=32, epochs=epochs, batch_size=128,
                            label_smoothing=0.0, augment="light", workers=1, patience=epochs,
                            runs=str(work / "runs"), name=run.name)
    print(f"stand-in: validation accuracy {result.best_val_acc:.1%} on its own classes", file=sys.stderr)
    return run / "model.pt"


def audited_files(cifar: Path, images: int) -> tuple[list[Path], np.ndarray]:
    per_class = images // len(AUDITED)
    paths, labels = [], []
    for index, name in enumerate(AUDITED):
        found = sorted((cifar / "train" / name).glob("*.jpg"))[:per_class]
        paths += found
        labels += [index] * len(found)
    return paths, np.array(labels)


def noisy(labels: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """`NOISE` of each class's labels flipped: to a random other class, or to the look-alike."""
    rng = np.random.default_rng(seed)
    given = labels.copy()
    for target in range(len(AUDITED)):
        members = np.flatnonzero(labels == target)
        flipped = rng.choice(members, round(NOISE * len(members)), replace=False)
        if kind == "symmetric":
            given[flipped] = (target + rng.integers(1, len(AUDITED), len(flipped))) % len(AUDITED)
        else:
            given[flipped] = AUDITED.index(LOOKALIKE[AUDITED[target]])
    return given


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count half), from the rank sum."""
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores[np.diff(np.sort(scores), prepend=np.nan) == 0]):
        ranks[scores == value] = ranks[scores == value].mean()
    p, n = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - p * (p + 1) / 2) / (p * n))


def f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    hits = (predicted & truth).sum()
    return float(2 * hits / max(1, predicted.sum() + truth.sum()))


def quality(probabilities: np.ndarray, given: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    wrong = given != true
    suggested = probabilities.argmax(axis=1)
    return (float((suggested == true).mean()), auroc(1 - probabilities[np.arange(len(given)), given], wrong),
            f1(suggested != given, wrong))


def seconds(action) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """Wall and CPU seconds (all of this process's threads) of `action()`, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def throughput(backbone: Path, paths: list[Path], rounds: int) -> None:
    """Decoding in this process (no loader workers), so its CPU time covers all the work: on a shared machine
    CPU seconds vary far less than wall seconds. Runs alternate; the best of `rounds` is kept."""
    print(f"\n== throughput: classify.embed beside classify.predict, same network, same {len(paths)} JPEGs (32 px), "
          f"CPU, no loader workers, torch threads {torch.get_num_threads()}; best of {rounds} alternating runs ==")
    runs: dict[str, list[tuple[float, float]]] = {"classify predict": [], "classify embed (no cache)": []}
    for _ in range(rounds):
        wall, cpu, _ = seconds(lambda: classify.predict(backbone, paths, device="cpu", workers=0, progress=False))
        runs["classify predict"].append((wall, cpu))
        wall, cpu, _ = seconds(lambda: classify.embed(paths, backbone, device="cpu", workers=0, progress=False))
        runs["classify embed (no cache)"].append((wall, cpu))
    print(f"{'':28}{'img/s':>8}{'img/CPU-s':>11}")
    for name, values in runs.items():
        print(f"{name:28}{len(paths) / min(w for w, _ in values):>8.0f}{len(paths) / min(c for _, c in values):>11.0f}")
    (predict_wall, predict_cpu), (embed_wall, embed_cpu) = (
        (min(w for w, _ in values), min(c for _, c in values)) for values in runs.values())
    print(f"ratio embed/predict: {predict_wall / embed_wall:.2f} by wall time, {predict_cpu / embed_cpu:.2f} by CPU time")


def audit_time(backbone: Path, paths: list[Path], labels: np.ndarray, cache: Path, workers: int) -> np.ndarray:
    """The probe audit as `curate --audit` calls it, with every embedding cached (the cache is filled first)."""
    names = [AUDITED[i] for i in labels]
    fill, _, _ = seconds(lambda: classify.embed(paths, backbone, cache=cache, device="cpu", workers=workers,
                                                progress=False))
    print(f"\n== probe audit of {len(paths)} images with every embedding cached (K=4, L2 strength chosen among "
          f"{len(REGULARISATIONS)}); filling the cache took {fill:.0f} s ==")
    lookup, lookup_cpu, _ = seconds(lambda: classify.embed(paths, backbone, cache=cache, progress=False))
    wall, cpu, result = seconds(lambda: classify.cross_validate(
        paths, names, list(AUDITED), backbone=backbone, cache=cache, device="cpu", workers=workers, progress=False))
    fold = assign_folds(result.labels, 4, 0)
    print(f"whole audit: classify.cross_validate    {wall:6.1f} s wall  {cpu:6.1f} s CPU   goal < 10 s on 2 CPU cores")
    print(f"  hashing files + cache lookup alone    {lookup:6.1f} s wall  {lookup_cpu:6.1f} s CPU")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        took, took_cpu, _ = seconds(lambda: _probe_folds(result.embeddings, result.labels, len(AUDITED), fold,
                                                        None, False))
        print(f"  probe alone, torch threads {threads}          {took:6.1f} s wall  {took_cpu:6.1f} s CPU")
    print(f"chosen L2 strength {result.regularisation}; load average now {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    return result.embeddings


def regularisation_table(features: np.ndarray, labels: np.ndarray, seeds: list[int]) -> None:
    print("\n== probe L2 strength, K=4: out-of-sample accuracy vs true labels / AUROC of 1-p(given) for wrong labels"
          " / F1 of argmax != given / log loss on the given labels (what the choice minimises); mean over seeds ==")
    for kind in ("symmetric", "asymmetric"):
        rows: dict[str, list[tuple[float, ...]]] = {}
        chosen = []
        for seed in seeds:
            given = noisy(labels, kind, seed)
            fold = assign_folds(given, 4, seed)
            for strength in STRENGTHS:
                probabilities, _ = probe_folds(features, given, len(AUDITED), fold, strength)
                rows.setdefault(f"{strength:g}", []).append((*quality(probabilities, given, labels),
                                                             log_loss(probabilities, given)))
            probabilities, strength = probe_folds(features, given, len(AUDITED), fold, None)
            rows.setdefault("chosen", []).append((*quality(probabilities, given, labels),
                                                  log_loss(probabilities, given)))
            chosen.append(strength)
        print(f"-- {kind} 20% noise; chosen per seed: {', '.join(f'{c:g}' for c in chosen)}")
        for name, values in rows.items():
            accuracy, area, score, loss = np.mean(values, axis=0)
            print(f"   L2 {name:>7}   accuracy {accuracy:.3f}   AUROC {area:.3f}   F1 {score:.3f}   log loss {loss:.4f}",
                  flush=True)


def folds_table(features: np.ndarray, labels: np.ndarray, seeds: list[int], choices: list[int]) -> None:
    print("\n== K, the number of folds (L2 strength chosen per audit): same scores, and the probe's time ==")
    for kind in ("symmetric", "asymmetric"):
        print(f"-- {kind} 20% noise")
        for folds in choices:
            values, times = [], []
            for seed in seeds:
                given = noisy(labels, kind, seed)
                took, _, (probabilities, _) = seconds(lambda: probe_folds(
                    features, given, len(AUDITED), assign_folds(given, folds, seed), None))  # noqa: B023
                values.append(quality(probabilities, given, labels))
                times.append(took)
            accuracy, area, score = np.mean(values, axis=0)
            print(f"   K {folds:>2}   accuracy {accuracy:.3f}   AUROC {area:.3f}   F1 {score:.3f}   "
                  f"probe {np.mean(times):5.1f} s wall", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="audited images (CIFAR-10 train photos)")
    parser.add_argument("--throughput-images", type=int, default=500, help="images for embed vs predict")
    parser.add_argument("--seeds", default="0,1", help="noise seeds, comma-separated")
    parser.add_argument("--folds", default="2,3,4,5,10", help="values of K to compare, comma-separated")
    parser.add_argument("--backbone", type=Path, help="a model.pt to use instead of training the stand-in")
    parser.add_argument("--backbone-per-class", type=int, default=1000, help="stand-in training photos per class")
    parser.add_argument("--backbone-epochs", type=int, default=4, help="stand-in training epochs")
    parser.add_argument("--workers", type=int, default=1, help="image loader workers while filling the cache")
    parser.add_argument("--tables", action=argparse.BooleanOptionalAction, default=True,
                        help="the L2 and K tables (--no-tables: throughput and audit time only)")
    parser.add_argument("--work", type=Path, default=Path("data/probe_bench"), help="where everything is cached")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each table line as it is measured, also into a file
    cifar = extract(args.work)
    backbone = args.backbone or stand_in(cifar, args.work, args.backbone_per_class, args.backbone_epochs)
    paths, labels = audited_files(cifar, args.images)
    print(f"backbone {backbone}; audited set: {len(paths)} CIFAR-10 photos of {', '.join(AUDITED)}")
    throughput(backbone, paths[::max(1, len(paths) // args.throughput_images)][:args.throughput_images], 3)
    features = audit_time(backbone, paths, labels, args.work / "features.sqlite", args.workers)
    if not args.tables:
        return
    seeds = [int(seed) for seed in args.seeds.split(",")]
    regularisation_table(features, labels, seeds)
    folds_table(features, labels, seeds, [int(k) for k in args.folds.split(",")])


if __name__ == "__main__":
    main()
