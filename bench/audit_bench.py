"""How well `curate --audit` finds wrong labels, off-topic images and the copies hashes miss, side by side with
cleanlab's `find_label_issues` and in-sample top losses (the fastai way), on the same out-of-sample probabilities.

No pretrained weights can be downloaded here, so the bench makes its own STAND-IN backbone and says so: a resnet18
trained from scratch by `classify train` at 32 px on the CIFAR-10 classes the audited sets do not contain
(airplane, bird, deer, frog, horse, ship). The audited sets: CIFAR-10 JPEG photos (upscaled to 128-400 px as a
crawl's pictures, as the curate bench does) of automobile, cat, dog and truck in train/ and val/, with
  - symmetric noise: 20% of each class's labels flipped to another class at random;
  - asymmetric noise: 20% flipped to the look-alike class (automobile<->truck, cat<->dog);
  - 5% off-topic photos (from the stand-in's classes, test photos it never saw) filed under a random class;
  - hash-missed copies of some photos in the other split (leaks): mirror, 10% crop, 8 degree rotation.
Every figure is measured on several seeds. Probabilities come from `classify.cross_validate` (probe: a linear
classifier per fold on the stand-in's embeddings; fine-tune: `classify train` per fold, from scratch), the
findings from the curator's audit functions, cleanlab from its own interpreter (`--cleanlab-python`) on the same
probabilities saved as .npy. Retraining: `classify train` from the stand-in's weights on the noisy set and on the
audited set (label issues and off-topic images removed), tested on clean CIFAR-10 test photos of the four classes.

    python bench/audit_bench.py [--seeds 0,1] [--per-class 400] [--cleanlab-python /tmp/cleanlabvenv/bin/python]

cleanlab: python3 -m venv /tmp/cleanlabvenv && /tmp/cleanlabvenv/bin/pip install cleanlab (never a project
dependency). Everything generated is cached under --cache (default data/audit_bench).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from curate_bench import cifar_files, crop, encode, upscaled, write

import classify

CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
AUDITED = ("automobile", "cat", "dog", "truck")
LOOKALIKE = {"automobile": "truck", "truck": "automobile", "cat": "dog", "dog": "cat"}
BACKBONE_CLASSES = ("airplane", "bird", "deer", "frog", "horse", "ship")
NOISE_KINDS = ("symmetric", "asymmetric")
COPY_KINDS = ("mirror", "crop-10", "rotate-8")
SPLITS = ("train", "val")
IMAGE_SIZE = 32  # the stand-in sees CIFAR's own resolution: a 2-core CPU trains it in minutes


# ---------------------------------------------------------------------------------------------------------------
# The stand-in backbone


def stand_in_backbone(extracted: Path, cache: Path, per_class: int, epochs: int) -> Path:
    """model.pt of a resnet18 trained from scratch on the classes the audited sets lack (once, then cached)."""
    run = cache / "runs" / f"stand-in-{per_class}-{epochs}"
    model = run / "model.pt"
    if model.is_file():
        return model
    data = cache / f"backbone-{per_class}"
    for subset, split, count in (("train", "train", per_class), ("test", "val", max(100, per_class // 5))):
        for label, source in cifar_files(extracted, subset):
            if label in BACKBONE_CLASSES and int(source.stem) < count:
                target = data / split / label / source.name
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.hardlink_to(source)
    print(f"training the STAND-IN backbone (resnet18 from scratch, {IMAGE_SIZE} px, {per_class} photos of each of "
          f"{', '.join(BACKBONE_CLASSES)}, {epochs} epochs) once into {run}", file=sys.stderr)
    result = classify.train(data, model="resnet18", weights="none", image_size=IMAGE_SIZE, epochs=epochs,
                            batch_size=128, label_smoothing=0.0, augment="light", workers=1, patience=epochs,
                            runs=str(cache / "runs"), name=run.name)
    print(f"stand-in backbone: validation accuracy {result.best_val_acc:.1%} on its own six classes",
          file=sys.stderr)
    return result.run_dir / "model.pt"


# ---------------------------------------------------------------------------------------------------------------
# The audited sets


@dataclass(frozen=True)
class AuditedSet:
    """An ImageFolder tree and the truth about each of its files (paths relative to `root`)."""

    root: Path
    paths: list[str]
    given: list[str]  # the class folder each file is in
    true: list[str | None]  # the class it shows; None for off-topic photos
    copies: dict[str, tuple[str, str]]  # copy path -> (original path, copy kind)

    @property
    def classes(self) -> list[str]:
        return sorted(AUDITED)

    def label_issue_truth(self) -> np.ndarray:
        return np.array([t is not None and t != g for g, t in zip(self.given, self.true, strict=True)])

    def off_topic_truth(self) -> np.ndarray:
        return np.array([t is None for t in self.true])


def flipped_label(label: str, noise: str, rng: random.Random) -> str:
    if noise == "asymmetric":
        return LOOKALIKE[label]
    return rng.choice([other for other in AUDITED if other != label])


def make_copy(kind: str, image: Image.Image, rng: random.Random) -> bytes:
    """A copy perceptual hashes miss: mirrored, 10% cropped, or rotated by 8 degrees."""
    match kind:
        case "mirror":
            changed = ImageOps.mirror(image)
        case "crop-10":
            changed = crop(image, 0.10, rng)
        case "rotate-8":
            changed = image.rotate(rng.choice((-8, 8)), Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
        case _:
            raise ValueError(f"unknown copy kind {kind}")
    return encode(changed, quality=90)


def build_audited_set(extracted: Path, cache: Path, noise: str, seed: int, per_class: int, noise_rate: float,
                      off_topic_rate: float, copy_rate: float) -> AuditedSet:
    """Generate (once per settings) the audited ImageFolder tree; its truth is kept in truth.json beside it."""
    folder = cache / "sets" / f"{noise}-{per_class}-{noise_rate}-{off_topic_rate}-{copy_rate}-{seed}"
    truth_file = folder / "truth.json"
    if truth_file.is_file():
        data = json.loads(truth_file.read_text())
        return AuditedSet(folder / "data", data["paths"], data["given"], data["true"],
                          {k: tuple(v) for k, v in data["copies"].items()})
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(f"{noise}-{seed}")
    train = cifar_files(extracted, "train")
    paths, given, true = [], [], []
    copies: dict[str, tuple[str, str]] = {}
    number = 0
    for label in AUDITED:
        chosen = rng.sample([source for name, source in train if name == label], per_class)
        flipped = set(rng.sample(range(per_class), round(per_class * noise_rate)))
        for index, source in enumerate(chosen):
            folder_label = flipped_label(label, noise, rng) if index in flipped else label
            split = "train" if rng.random() < 0.8 else "val"
            image = upscaled(source, rng)
            path = f"{split}/{folder_label}/a{number:05d}.jpg"
            write(folder / "data" / path, encode(image, quality=90))
            paths.append(path), given.append(folder_label), true.append(label)
            if rng.random() < copy_rate:
                kind = COPY_KINDS[len(copies) % len(COPY_KINDS)]
                copy_path = f"{SPLITS[1 - SPLITS.index(split)]}/{folder_label}/a{number:05d}c.jpg"
                write(folder / "data" / copy_path, make_copy(kind, image, rng))
                paths.append(copy_path), given.append(folder_label), true.append(label)
                copies[copy_path] = (path, kind)
            number += 1
    outside = [source for name, source in cifar_files(extracted, "test") if name in BACKBONE_CLASSES]
    for source in rng.sample(outside, round(len(paths) * off_topic_rate / (1 - off_topic_rate))):
        folder_label = rng.choice(AUDITED)
        path = f"{rng.choice(SPLITS)}/{folder_label}/o{number:05d}.jpg"
        write(folder / "data" / path, encode(upscaled(source, rng), quality=90))
        paths.append(path), given.append(folder_label), true.append(None)
        number += 1
    truth_file.write_text(json.dumps({"paths": paths, "given": given, "true": true, "copies": copies}))
    return AuditedSet(folder / "data", paths, given, true, copies)


def clean_test_set(extracted: Path, cache: Path, per_class: int) -> Path:
    """CIFAR-10 test photos of the audited classes, upscaled like the sets: the retrained models' exam."""
    folder = cache / f"test-{per_class}"
    done = folder / ".done"
    if not done.exists():
        rng = random.Random("test")
        for label, source in cifar_files(extracted, "test"):
            if label in AUDITED and int(source.stem) < per_class:
                write(folder / "test" / label / source.name, encode(upscaled(source, rng), quality=90))
        done.touch()
    return folder


# ---------------------------------------------------------------------------------------------------------------
# The contenders on the same out-of-sample probabilities


@dataclass(frozen=True)
class Probabilities:
    """`classify.cross_validate`'s answer for every file of a set, in the set's order."""

    labels: np.ndarray
    probabilities: np.ndarray
    embeddings: np.ndarray | None
    seconds: float


def out_of_sample(audited: AuditedSet, mode: str, backbone: Path, folds: int, seed: int, cache: Path,
                  finetune_epochs: int) -> Probabilities:
    """Out-of-sample probabilities of every image by K-fold cross-validation, as the audit computes them."""
    classes = audited.classes
    paths = [audited.root / p for p in audited.paths]
    labels = [classes.index(g) for g in audited.given]
    options: dict = {"backbone": str(backbone), "cache": str(cache / "features.sqlite")}
    if mode == "finetune":
        options = {"model": "resnet18", "weights": "none", "image_size": IMAGE_SIZE, "epochs": finetune_epochs,
                   "augment": "light", "runs": str(cache / "runs" / "folds")}
    start = time.perf_counter()
    oos = classify.cross_validate(paths, labels, classes, mode=mode, folds=folds, seed=seed, progress=True,
                                  **options)
    seconds = time.perf_counter() - start
    if oos.failures:
        raise SystemExit(f"error: {len(oos.failures)} generated images failed to decode, e.g. {oos.failures[0]}")
    return Probabilities(np.asarray(oos.labels), np.asarray(oos.probabilities, dtype=np.float32),
                         None if oos.embeddings is None else np.asarray(oos.embeddings, dtype=np.float32), seconds)


CLEANLAB_SCRIPT = """
import json, sys
import numpy as np
import cleanlab
from cleanlab.filter import find_label_issues
labels, probabilities = np.load(sys.argv[1]), np.load(sys.argv[2])
issues = find_label_issues(labels, probabilities)
print(json.dumps({"version": cleanlab.__version__, "issues": issues.tolist()}))
"""


def run_cleanlab(python: Path, labels: np.ndarray, probabilities: np.ndarray, work: Path) -> np.ndarray | str:
    """cleanlab's `find_label_issues` at its defaults, in its own interpreter, or why it could not run."""
    if not python.is_file():
        return f"{python} not found (python3 -m venv /tmp/cleanlabvenv && /tmp/cleanlabvenv/bin/pip install cleanlab)"
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / "labels.npy", labels.astype(np.int64))
    np.save(work / "probabilities.npy", probabilities.astype(np.float64))
    done = subprocess.run([str(python), "-c", CLEANLAB_SCRIPT, str(work / "labels.npy"),
                           str(work / "probabilities.npy")], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"cleanlab failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    answer = json.loads(done.stdout)
    CLEANLAB_VERSION[0] = answer["version"]
    return np.array(answer["issues"], dtype=bool)


CLEANLAB_VERSION = ["?"]


def fit_linear(features: np.ndarray, labels: np.ndarray, classes: int, steps: int = 300,
               weight_decay: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """A multinomial logistic regression fitted by full-batch L-BFGS: the baselines' linear model."""
    import torch

    x = torch.from_numpy(features)
    y = torch.from_numpy(labels.astype(np.int64))
    weight = torch.zeros(features.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight + bias, y) + weight_decay * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach().numpy(), bias.detach().numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def in_sample_top_losses(embeddings: np.ndarray, labels: np.ndarray, classes: int, count: int) -> np.ndarray:
    """The fastai way: the `count` highest losses of a model on the very images it was fitted to (here the same
    linear classifier on the same embeddings as the probe, fitted once on every image)."""
    weight, bias = fit_linear(embeddings, labels, classes)
    probabilities = softmax(embeddings @ weight + bias)
    losses = -np.log(probabilities[np.arange(len(labels)), labels] + 1e-12)
    flagged = np.zeros(len(labels), dtype=bool)
    flagged[np.argsort(-losses, kind="stable")[:count]] = True
    return flagged


# ---------------------------------------------------------------------------------------------------------------
# Scores


def prf(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = int((predicted & truth).sum())
    precision = tp / predicted.sum() if predicted.sum() else 0.0
    recall = tp / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[k])) for row in [headers, *rows]) for k in range(len(headers))]
    line = lambda row: "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
