"""How well `curate --audit` finds wrong labels, off-topic images and the copies hashes miss, side by side with
cleanlab's `find_label_issues` and in-sample top losses (the fastai way), on the same out-of-sample probabilities.

No pretrained weights can be downloaded here, so the bench makes its own STAND-IN backbone and says so: a resnet18
trained from scratch by `classify train` (48 px, all 5,000 training photos of each class, 12 epochs, on one thread:
about 45 minutes on the shared 2-core CPU) on the CIFAR-10 classes the audited sets do not contain (airplane, bird,
deer, frog, horse, ship). The audited sets: CIFAR-10 JPEG photos (upscaled to 128-400 px as a crawl's pictures, as
the curate bench does) of automobile, cat, dog and truck in train/ and val/, with
  - symmetric noise: 20% of each class's labels flipped to another class at random;
  - asymmetric noise: 20% flipped to the look-alike class (automobile<->truck, cat<->dog);
  - 5% off-topic photos (from the stand-in's classes, test photos it never saw) filed under a random class;
  - hash-missed copies of some photos in the other split (leaks): mirror, 10% crop, 8 degree rotation.
Every figure is measured on several seeds. Probabilities come from `classify.cross_validate` (probe: a linear
classifier per fold on the stand-in's embeddings; fine-tune: `classify train` per fold, from scratch), the
findings from the curator's audit functions at their defaults, cleanlab from its own interpreter
(`--cleanlab-python`) on the same probabilities saved as .npy. Copies count as found by the audit when it pairs them
(embedding neighbours whose grey copies correlate), and as found by curate --audit when the hash pass or the audit
does; an audit pair that is not a planted copy is wrong, except that pairs of one CIFAR-10 photo twice (its own
near-duplicates, `same_photo`) are also counted apart. Retraining: a linear probe, and with --retrain-epochs
`classify train` from the stand-in's weights, on the noisy set and on the audited set (label issues and off-topic
images removed), tested on clean CIFAR-10 test photos of the four classes. The thresholds the audit uses were
chosen by bench/audit_thresholds.py on the symmetric seed-0 set; every other set is held out.

    python bench/audit_bench.py [--seeds 0,1] [--per-class 400] [--cleanlab-python /tmp/cleanlabvenv/bin/python]

With real weights, `--backbone resnet50 --weights DEFAULT` (or a model.pt) replaces the stand-in.
cleanlab: python3 -m venv /tmp/cleanlabvenv && /tmp/cleanlabvenv/bin/pip install cleanlab (never a project
dependency). Everything generated is cached under --cache (default data/audit_bench).
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import classify
from bench.curate_bench import pct, table
from bench.curate_sets import cifar_files, crop, encode, extract_cifar, same_photo, upscaled, write
from classify import ModelFile
from classify.crossval import one_thread
from classify.embedding import load_backbone
from classify.probe import fit_probe
from collector.curate.audit.confident import find_label_issues
from collector.curate.audit.judge import AuditRules
from collector.curate.audit.offtopic import find_off_topic
from collector.curate.audit.semantic import NEIGHBOURS, copy_pairs, grey_copies, instance_vectors
from collector.curate.decide import similar_pairs as hash_similar_pairs
from collector.curate.inspect import Inspection, InspectOptions, inspect_image
from collector.curate.options import CurateOptions
from tests.curate.conftest import make_photo

CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
MNIST = ROOT.parent / "shared" / "datasets" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
AUDITED = ("automobile", "cat", "dog", "truck")
LOOKALIKE = {"automobile": "truck", "truck": "automobile", "cat": "dog", "dog": "cat"}
BACKBONE_CLASSES = ("airplane", "bird", "deer", "frog", "horse", "ship")
NOISE_KINDS = ("symmetric", "asymmetric")
COPY_KINDS = ("mirror", "crop-10", "rotate-8")
# Pixel similarities (best correlation of the grey copies) at which the copies are also scored, beside the default.
SIMILARITY_SWEEP = (0.85, 0.9, 0.95, 0.97)
SPLITS = ("train", "val")
IMAGE_SIZE = 32  # finetune mode's models see CIFAR's own resolution: a 2-core CPU trains them in minutes


@dataclass(frozen=True)
class StandIn:
    """How the stand-in backbone is trained: photos per class, epochs, image size."""

    per_class: int
    epochs: int
    image_size: int


# All 5,000 training photos of each class at 48 px for 12 epochs: about 45 minutes on the shared 2-core machine.
STAND_IN = StandIn(5000, 12, 48)


# ---------------------------------------------------------------------------------------------------------------
# The stand-in backbone


def stand_in_backbone(extracted: Path, cache: Path, per_class: int, epochs: int, image_size: int) -> Path:
    """model.pt of a resnet18 trained from scratch on the classes the audited sets lack (once, then cached)."""
    run = cache / "runs" / f"stand-in-{per_class}-{epochs}-{image_size}px"
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
    print(f"training the STAND-IN backbone (resnet18 from scratch, {image_size} px, {per_class} photos of each of "
          f"{', '.join(BACKBONE_CLASSES)}, {epochs} epochs) once into {run}", file=sys.stderr)
    with one_thread():  # on the shared 2-core machine one thread trained 4.2-6.5x faster than two (measured)
        result = classify.train(data, model="resnet18", weights="none", image_size=image_size, epochs=epochs,
                                batch_size=128, label_smoothing=0.0, augment="light", workers=0, patience=epochs,
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
    sources: list[str]  # the CIFAR-10 photo each file was made from (subset/class/name); "" for off-topic pictures

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


def outside_pictures(extracted: Path, source: str, count: int, rng: random.Random) -> list[Image.Image]:
    """`count` off-topic pictures at a crawl's sizes: photos of the stand-in's classes (CIFAR-10 test photos it
    never saw), MNIST digits, or generated shapes over gradients."""
    if source == "cifar":
        outside = [path for name, path in cifar_files(extracted, "test") if name in BACKBONE_CLASSES]
        return [upscaled(path, rng) for path in rng.sample(outside, count)]
    if source == "mnist":
        with gzip.open(MNIST) as stream:
            digits = np.frombuffer(stream.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
        pictures = [Image.fromarray(digits[k]).convert("RGB") for k in rng.sample(range(len(digits)), count)]
        return [picture.resize((side, side), Image.Resampling.BICUBIC)
                for picture, side in zip(pictures, [rng.randint(128, 400) for _ in pictures], strict=True)]
    if source == "shapes":
        return [make_photo(rng.randint(128, 400), rng.randint(128, 400), rng.randrange(2**31)) for _ in range(count)]
    raise ValueError(f"unknown off-topic source {source}")


def build_audited_set(extracted: Path, cache: Path, noise: str, seed: int, per_class: int, noise_rate: float,
                      off_topic_rate: float, copy_rate: float, outside: str = "cifar") -> AuditedSet:
    """Generate (once per settings) the audited ImageFolder tree; its truth is kept in truth.json beside it. The
    photos of the classes, their labels and copies depend on noise and seed only; `outside` picks the off-topic
    pictures (see `outside_pictures`)."""
    folder = cache / "sets" / f"{noise}-{outside}-{per_class}-{noise_rate}-{off_topic_rate}-{copy_rate}-{seed}"
    truth_file = folder / "truth.json"
    if truth_file.is_file():
        data = json.loads(truth_file.read_text())
        return AuditedSet(folder / "data", data["paths"], data["given"], data["true"],
                          {k: tuple(v) for k, v in data["copies"].items()}, data["sources"])
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(f"{noise}-{seed}")
    train = cifar_files(extracted, "train")
    paths, given, true, sources = [], [], [], []
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
            paths.append(path), given.append(folder_label), true.append(label), sources.append(f"train/{label}/{source.name}")
            if rng.random() < copy_rate:
                kind = COPY_KINDS[len(copies) % len(COPY_KINDS)]
                copy_path = f"{SPLITS[1 - SPLITS.index(split)]}/{folder_label}/a{number:05d}c.jpg"
                write(folder / "data" / copy_path, make_copy(kind, image, rng))
                paths.append(copy_path), given.append(folder_label), true.append(label), sources.append(sources[-1])
                copies[copy_path] = (path, kind)
            number += 1
    for picture in outside_pictures(extracted, outside, round(len(paths) * off_topic_rate / (1 - off_topic_rate)),
                                    rng):
        folder_label = rng.choice(AUDITED)
        path = f"{rng.choice(SPLITS)}/{folder_label}/o{number:05d}.jpg"
        write(folder / "data" / path, encode(picture, quality=90))
        paths.append(path), given.append(folder_label), true.append(None), sources.append("")
        number += 1
    truth_file.write_text(json.dumps({"paths": paths, "given": given, "true": true, "copies": copies,
                                      "sources": sources}))
    return AuditedSet(folder / "data", paths, given, true, copies, sources)


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
    regularisation: float | None
    seconds: float


def out_of_sample(audited: AuditedSet, mode: str, backbone: ModelFile, folds: int, seed: int, cache: Path,
                  finetune_epochs: int) -> Probabilities:
    """Out-of-sample probabilities of every image by K-fold cross-validation, as the audit computes them."""
    classes = audited.classes
    paths = [audited.root / p for p in audited.paths]
    labels = [classes.index(g) for g in audited.given]
    options: dict = {"backbone": backbone, "cache": str(cache / "features.sqlite")}
    if mode == "finetune":
        options = {"model": "resnet18", "weights": "none", "image_size": IMAGE_SIZE, "epochs": finetune_epochs,
                   "augment": "light"}
    start = time.perf_counter()
    oos = classify.cross_validate(paths, labels, classes, mode=mode, folds=folds, seed=seed, progress=True,
                                  **options)
    seconds = time.perf_counter() - start
    if oos.failures:
        raise SystemExit(f"error: {len(oos.failures)} generated images failed to decode, e.g. {oos.failures[0]}")
    if [Path(p) for p in oos.paths] != paths:
        raise SystemExit("error: cross_validate answered in another order than the set's files")
    return Probabilities(np.asarray(oos.labels), np.asarray(oos.probabilities, dtype=np.float32),
                         None if oos.embeddings is None else np.asarray(oos.embeddings, dtype=np.float32),
                         oos.regularisation, seconds)


CLEANLAB_SCRIPT = """
import json, sys
import numpy as np
import cleanlab
from cleanlab.filter import find_label_issues
labels, probabilities = np.load(sys.argv[1]), np.load(sys.argv[2])
issues = find_label_issues(labels, probabilities)
print(json.dumps({"version": cleanlab.__version__, "issues": issues.tolist()}))
"""


def run_cleanlab(python: Path, labels: np.ndarray, probabilities: np.ndarray, work: Path
                 ) -> tuple[np.ndarray, str] | str:
    """cleanlab's `find_label_issues` at its defaults (flags, cleanlab's version), in its own interpreter, or why
    it could not run."""
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
    return np.array(answer["issues"], dtype=bool), answer["version"]


def in_sample_top_losses(embeddings: np.ndarray, labels: np.ndarray, classes: int, regularisation: float,
                         count: int) -> np.ndarray:
    """The fastai way: the `count` highest losses of a model on the very images it was fitted to (here the audit's
    own linear probe, at the strength cross-validation chose, fitted once on every image)."""
    probabilities = fit_probe(embeddings, labels, classes, regularisation).probabilities(embeddings)
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


# ---------------------------------------------------------------------------------------------------------------
# Copies: what curate's hash pass finds, what embedding similarity adds


def _inspect(job: tuple[Path, InspectOptions]) -> Inspection:
    return inspect_image(*job)


def inspect_set(audited: AuditedSet, workers: int) -> list[Inspection]:
    """curate's inspection of every file of a set, kept beside the set."""
    return inspect_files([audited.root / p for p in audited.paths], workers, audited.root.parent / "inspections.pkl")


def inspect_files(files: list[Path], workers: int, kept: Path) -> list[Inspection]:
    """curate's inspection of `files` at its default options (hashes, views, grey copies), once: then read from
    `kept`."""
    if kept.is_file():
        return pickle.loads(kept.read_bytes())
    options = CurateOptions().inspect_options()
    with ProcessPoolExecutor(workers) as executor:
        inspections = list(tqdm(executor.map(_inspect, [(f, options) for f in files], chunksize=32),
                                total=len(files), desc="hash pass", unit="img", file=sys.stderr, leave=False))
    rejected = [f for f, ins in zip(files, inspections, strict=True) if not ins.ok]
    if rejected:
        raise SystemExit(f"error: curate rejected {len(rejected)} generated images, e.g. {rejected[0]}")
    kept.write_bytes(pickle.dumps(inspections))
    return inspections


def hash_pairs(inspections: list[Inspection]) -> set[tuple[int, int]]:
    """Index pairs curate's hash pass calls duplicates, at its default hashes and thresholds."""
    i, j = hash_similar_pairs(inspections, CurateOptions().decide_options())
    return set(zip(i.tolist(), j.tolist(), strict=True))


@dataclass(frozen=True)
class CopyScore:
    copies: dict[str, int]  # kind -> copies planted
    by_hash: dict[str, int]  # kind -> copies whose pair the hash pass found
    by_embedding: dict[str, int]  # kind -> copies whose pair the audit found (embedding neighbours, pixels agree)
    only_embedding: dict[str, int]  # kind -> found by the audit, missed by hashes
    embedding_pairs: int  # pairs the audit reported
    embedding_true_pairs: int  # of them, (photo, its planted copy)
    embedding_source_duplicates: int  # of the others, pairs of CIFAR-10's own near-duplicate photos

    @property
    def precision(self) -> float:
        """Share of the audit's pairs that are planted copies: every other pair counts as wrong."""
        return self.embedding_true_pairs / self.embedding_pairs if self.embedding_pairs else 0.0

    @property
    def precision_less_source_duplicates(self) -> float:
        """The same, leaving out the pairs of CIFAR-10's own near-duplicate photos (see `same_photo`)."""
        judged = self.embedding_pairs - self.embedding_source_duplicates
        return self.embedding_true_pairs / judged if judged else 0.0

    def recall(self, kinds: tuple[str, ...]) -> float:
        """Share of the planted copies of `kinds` the audit found."""
        planted = sum(self.copies[k] for k in kinds)
        return sum(self.by_embedding[k] for k in kinds) / planted if planted else 0.0

    def recall_with_hashes(self, kinds: tuple[str, ...]) -> float:
        """Share of the planted copies of `kinds` that the hash pass or the audit found: what curate --audit finds."""
        planted = sum(self.copies[k] for k in kinds)
        found = sum(self.by_hash[k] + self.only_embedding[k] for k in kinds)
        return found / planted if planted else 0.0


def copy_truth(audited: AuditedSet) -> dict[tuple[int, int], str]:
    """(photo, its planted copy) index pairs, smaller index first, with the kind of copy."""
    position = {path: k for k, path in enumerate(audited.paths)}
    return {tuple(sorted((position[copy], position[original]))): kind
            for copy, (original, kind) in audited.copies.items()}


def score_copies(audited: AuditedSet, extracted: Path, hashed: set[tuple[int, int]],
                 semantic: set[tuple[int, int]]) -> CopyScore:
    truth = copy_truth(audited)
    count = lambda found: {kind: sum(truth[p] == kind and p in found for p in truth) for kind in COPY_KINDS}
    others = semantic - set(truth)
    twice = sum(same_photo(extracted, audited.sources[a], audited.sources[b]) for a, b in others)
    return CopyScore({kind: sum(v == kind for v in truth.values()) for kind in COPY_KINDS}, count(hashed),
                     count(semantic), count(semantic - hashed), len(semantic), len(semantic & set(truth)), twice)


# ---------------------------------------------------------------------------------------------------------------
# Retraining: does the audit give back the accuracy the noise took?


def probe_accuracy(features: np.ndarray, labels: np.ndarray, keep: np.ndarray, regularisation: float,
                   test_features: np.ndarray, test_labels: np.ndarray) -> float:
    probe = fit_probe(features[keep], labels[keep], len(AUDITED), regularisation)
    return float((probe.probabilities(test_features).argmax(axis=1) == test_labels).mean())


def linked_set(audited: AuditedSet, target: Path, keep: np.ndarray, labels: list[str]) -> Path:
    """An ImageFolder of hard links to the kept files of a set, each filed under `labels[k]`, splits kept."""
    shutil.rmtree(target, ignore_errors=True)
    for k in np.flatnonzero(keep):
        split, _, name = audited.paths[k].split("/")
        link = target / split / labels[k] / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.hardlink_to(audited.root / audited.paths[k])
    return target


def finetune_accuracy(data: Path, backbone: ModelFile, weights: str, test: Path, epochs: int, cache: Path) -> float:
    """`classify train` from the backbone's weights on `data`, then `classify eval` on the clean test photos."""
    with one_thread():
        run = classify.train(data, model=backbone.arch, weights=weights, image_size=backbone.preprocess.crop,
                             epochs=epochs, freeze_epochs=1, batch_size=64, augment="light", workers=0,
                             patience=epochs, runs=str(cache / "runs" / "retrain"), name=data.name, progress=False)
    evaluation = classify.evaluate(run.run_dir / "model.pt", test, split="test", workers=1, progress=False,
                                   out=str(run.run_dir / "eval-test"))
    return float(evaluation.accuracy)


# ---------------------------------------------------------------------------------------------------------------
# One set, then the whole bench


@dataclass
class SetResult:
    name: str
    mode: str  # probe or finetune
    images: int
    label_issues: int
    prf: dict[str, tuple[float, float, float]]  # contender -> label-issue precision, recall, F1
    flagged: dict[str, int]
    cross_validate_s: float
    off_topic: tuple[float, float, float] | None = None  # probe only: finetune gives no embeddings
    off_topic_truth: int = 0
    copies: CopyScore | None = None
    accuracy: dict[str, float] = field(default_factory=dict)  # probe retrain on noisy/audited/true labels
    finetune_accuracy: dict[str, float] = field(default_factory=dict)  # the same with classify train
    similarity_sweep: dict[float, CopyScore] = field(default_factory=dict)  # threshold -> copies found


def label_issue_contenders(args: argparse.Namespace, name: str, oos: Probabilities) -> dict[str, np.ndarray]:
    """Ours and cleanlab's flags on the same out-of-sample probabilities."""
    ours = np.zeros(len(oos.labels), dtype=bool)
    ours[find_label_issues(oos.labels, oos.probabilities).indices] = True
    flagged = {"ours": ours}
    cleanlab = run_cleanlab(args.cleanlab_python, oos.labels, oos.probabilities, args.cache / "cleanlab" / name)
    if isinstance(cleanlab, str):
        print(f"cleanlab column skipped: {cleanlab}", file=sys.stderr)
    else:
        flagged[f"cleanlab {cleanlab[1]}"] = cleanlab[0]
    return flagged


def audit_probe(args: argparse.Namespace, audited: AuditedSet, name: str, backbone: ModelFile,
                test: tuple[np.ndarray, np.ndarray], test_folder: Path) -> SetResult:
    oos = out_of_sample(audited, "probe", backbone, args.folds, args.seed, args.cache, 0)
    labels, probabilities, embeddings = oos.labels, oos.probabilities, oos.embeddings
    assert embeddings is not None and oos.regularisation is not None
    off_truth = audited.off_topic_truth()
    issue_truth = audited.label_issue_truth()
    pool = ~off_truth  # label issues are scored on the images that show one of the classes
    flagged = label_issue_contenders(args, name, oos)
    ours = flagged["ours"]
    flagged["in-sample top losses"] = in_sample_top_losses(embeddings, labels, len(AUDITED), oos.regularisation,
                                                           int(ours.sum()))
    off = np.zeros(len(labels), dtype=bool)
    off[find_off_topic(embeddings, labels, probabilities).indices] = True

    inspections = inspect_set(audited, args.workers)
    hashed = hash_pairs(inspections)
    i, j, similarity = copy_pairs(instance_vectors(embeddings, labels), *grey_copies(inspections), NEIGHBOURS,
                                  min(SIMILARITY_SWEEP))
    sweep = {threshold: score_copies(audited, args.extracted, hashed, {(a, b) for a, b, c in zip(i.tolist(), j.tolist(),
                                                                                similarity.tolist(), strict=True)
                                                       if c >= threshold})
             for threshold in sorted({*SIMILARITY_SWEEP, AuditRules().similarity})}

    true_labels = np.array([audited.classes.index(t) if t else -1 for t in audited.true])
    everything = np.ones(len(labels), dtype=bool)
    kept = ~ours & ~off
    accuracy = {
        "noisy": probe_accuracy(embeddings, labels, everything, oos.regularisation, *test),
        "audited": probe_accuracy(embeddings, labels, kept, oos.regularisation, *test),
        "clean": probe_accuracy(embeddings, true_labels, pool, oos.regularisation, *test),
    }
    finetuned: dict[str, float] = {}
    if args.retrain_epochs and name.endswith(f"-{args.seeds[0]}"):
        work = args.cache / "retrain" / name
        for kind, keep, names in (("noisy", everything, audited.given), ("audited", kept, audited.given),
                                  ("clean", pool, [t or "" for t in audited.true])):
            data = linked_set(audited, work / kind, keep, names)
            weights = str(backbone.path) if backbone.path else args.weights or "DEFAULT"
            finetuned[kind] = finetune_accuracy(data, backbone, weights, test_folder, args.retrain_epochs, args.cache)
    return SetResult(name, "probe", len(labels), int(issue_truth.sum()),
                     {c: prf(mask[pool], issue_truth[pool]) for c, mask in flagged.items()},
                     {c: int(mask.sum()) for c, mask in flagged.items()}, oos.seconds, prf(off, off_truth),
                     int(off_truth.sum()), sweep[AuditRules().similarity], accuracy, finetuned, sweep)


def audit_finetune(args: argparse.Namespace, audited: AuditedSet, name: str, backbone: ModelFile) -> SetResult:
    """Label issues from `classify train` per fold, from scratch (no backbone, so no embeddings)."""
    oos = out_of_sample(audited, "finetune", backbone, args.folds, args.seed, args.cache, args.finetune_epochs)
    pool = ~audited.off_topic_truth()
    issue_truth = audited.label_issue_truth()
    flagged = label_issue_contenders(args, f"{name}-finetune", oos)
    return SetResult(name, "finetune", len(oos.labels), int(issue_truth.sum()),
                     {c: prf(mask[pool], issue_truth[pool]) for c, mask in flagged.items()},
                     {c: int(mask.sum()) for c, mask in flagged.items()}, oos.seconds)


def test_embeddings(backbone: ModelFile, test_folder: Path, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    files = sorted((test_folder / "test").glob("*/*.jpg"))
    embedded = classify.embed(files, backbone=backbone, cache=str(cache / "features.sqlite"), progress=True)
    labels = np.array([sorted(AUDITED).index(path.parent.name) for path in embedded.paths])
    return np.asarray(embedded.vectors, dtype=np.float32), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar", type=Path, default=CIFAR, help="cifar10-jpg.tar.gz")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "audit_bench",
                        help="where the extracted photos, the generated sets, the stand-in and the features go")
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1],
                        help="one audited set per noise kind and seed")
    parser.add_argument("--per-class", type=int, default=400, help="photos of each of the four audited classes")
    parser.add_argument("--noise", type=float, default=0.2, help="share of each class's labels flipped")
    parser.add_argument("--off-topic", type=float, default=0.05, help="share of off-topic photos in each set")
    parser.add_argument("--copies", type=float, default=0.05, help="share of photos given a copy in the other split")
    parser.add_argument("--folds", type=int, default=4, help="K of the K-fold cross-validation")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    parser.add_argument("--backbone", help="a real backbone instead of the stand-in: a model.pt, or a torchvision "
                                               "model name (with --weights) as in classify train")
    parser.add_argument("--weights", help="with a torchvision --backbone: DEFAULT (downloads), a state dict, or none")
    parser.add_argument("--backbone-per-class", type=int, default=STAND_IN.per_class,
                        help="CIFAR-10 training photos of each stand-in class the stand-in learns from")
    parser.add_argument("--backbone-epochs", type=int, default=STAND_IN.epochs)
    parser.add_argument("--backbone-size", type=int, default=STAND_IN.image_size, help="the stand-in's image size")
    parser.add_argument("--test-per-class", type=int, default=500, help="clean test photos of each audited class")
    parser.add_argument("--retrain-epochs", type=int, default=0,
                        help="also fine-tune with `classify train` from the stand-in on the noisy, audited and clean "
                             "versions of each noise kind's first-seed set for this many epochs (0: probe only)")
    parser.add_argument("--finetune-epochs", type=int, default=0,
                        help="also audit each noise kind's first-seed set in finetune mode: `classify train` from "
                             "scratch per fold for this many epochs (0: probe only; slow on a CPU)")
    parser.add_argument("--speed-size", type=int, default=10_000,
                        help="photos of the speed check: a probe audit of this many with cached embeddings (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="processes for curate's hash pass")
    parser.add_argument("--cleanlab-python", type=Path, default=Path("/tmp/cleanlabvenv/bin/python"),
                        help="interpreter with cleanlab installed (its column is skipped when absent)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()

    extracted = args.extracted = extract_cifar(args.cifar, args.cache)
    if args.backbone:
        backbone = load_backbone(args.backbone, args.weights).model_file
    else:
        backbone = classify.load_model(stand_in_backbone(extracted, args.cache, args.backbone_per_class,
                                                         args.backbone_epochs, args.backbone_size))
    test_folder = clean_test_set(extracted, args.cache, args.test_per_class)
    test = test_embeddings(backbone, test_folder, args.cache)
    results: list[SetResult] = []
    for noise in NOISE_KINDS:
        for seed in args.seeds:
            audited = build_audited_set(extracted, args.cache, noise, seed, args.per_class, args.noise,
                                        args.off_topic, args.copies)
            results.append(audit_probe(args, audited, f"{noise}-{seed}", backbone, test, test_folder))
            if args.finetune_epochs and seed == args.seeds[0]:
                results.append(audit_finetune(args, audited, f"{noise}-{seed}", backbone))
    speed = speed_check(args, extracted, backbone) if args.speed_size else None
    report(args, backbone, results, speed)


@dataclass(frozen=True)
class Speed:
    images: int
    embed_cold_per_s: float  # classify.embed into an empty cache
    sample: int
    embed_per_s: float  # classify.embed without a cache, on the sample
    predict_per_s: float  # classify.predict of the same network, on the same sample
    audit_s: float  # cross_validate from the cache + label issues + off-topic + semantic pairs
    parts_s: dict[str, float]


def speed_check(args: argparse.Namespace, extracted: Path, backbone: ModelFile) -> Speed:
    """A probe audit of `--speed-size` CIFAR-10 photos whose embeddings are cached, and embedding throughput
    beside `classify predict`'s on the same network and files."""
    files = [(label, path) for label, path in cifar_files(extracted, "train") if label in AUDITED]
    if args.speed_size > len(files):
        raise SystemExit(f"error: --speed-size {args.speed_size} is over the {len(files)} photos of the classes")
    chosen = random.Random("speed").sample(files, args.speed_size)
    paths = [path for _, path in chosen]
    labels = [sorted(AUDITED).index(label) for label, _ in chosen]
    inspections = inspect_files(paths, args.workers, args.cache / f"speed-inspections-{len(paths)}.pkl")
    cache = args.cache / "speed-features.sqlite"
    cache.unlink(missing_ok=True)
    start = time.perf_counter()
    classify.embed(paths, backbone=backbone, cache=str(cache), progress=True)
    cold = time.perf_counter() - start
    sample = paths[: min(len(paths), 2000)]
    predict_s = embed_s = 0.0
    for start_at in range(0, len(sample), 500):  # alternating slices: the machine's other load falls on both alike
        part = sample[start_at : start_at + 500]
        start = time.perf_counter()
        classify.predict(backbone, part, top_k=1, progress=False)
        predict_s += time.perf_counter() - start
        start = time.perf_counter()
        classify.embed(part, backbone=backbone, cache=None, progress=False)
        embed_s += time.perf_counter() - start
    parts: dict[str, float] = {}
    start = time.perf_counter()
    oos = classify.cross_validate(paths, labels, sorted(AUDITED), mode="probe", folds=args.folds, seed=args.seed,
                                  backbone=backbone, cache=str(cache), progress=False)
    parts["cross_validate (cached embeddings)"] = time.perf_counter() - start
    mark = time.perf_counter()
    find_label_issues(oos.labels, oos.probabilities)
    parts["confident learning"] = time.perf_counter() - mark
    mark = time.perf_counter()
    find_off_topic(oos.embeddings, oos.labels, oos.probabilities)
    parts["off-topic"] = time.perf_counter() - mark
    mark = time.perf_counter()
    copy_pairs(instance_vectors(oos.embeddings, oos.labels), *grey_copies(inspections), NEIGHBOURS,
               AuditRules().similarity)
    parts["semantic copies"] = time.perf_counter() - mark
    return Speed(len(paths), len(paths) / cold, len(sample), len(sample) / embed_s, len(sample) / predict_s,
                 time.perf_counter() - start, parts)


def mean(values: list[float]) -> float:
    """The mean of the values that are numbers (a recovery is none when the noise cost nothing)."""
    numbers = [v for v in values if not np.isnan(v)]
    return float(np.mean(numbers)) if numbers else float("nan")


def recovery(accuracy: dict[str, float]) -> float:
    """Share of the accuracy the noise cost that the audited set gives back."""
    cost = accuracy["clean"] - accuracy["noisy"]
    return (accuracy["audited"] - accuracy["noisy"]) / cost if cost > 0 else float("nan")


def report(args: argparse.Namespace, backbone: ModelFile, results: list[SetResult], speed: Speed | None) -> None:
    if args.backbone:
        print(f"\nbackbone: {args.backbone} (weights {args.weights or 'DEFAULT'}).", end=" ")
    else:
        accuracy = backbone.metrics.get("evaluation", {}).get("accuracy", float("nan"))
        print(f"\nSTAND-IN backbone (no pretrained weights can be downloaded here): {backbone.path}, resnet18 trained "
              f"from scratch at {backbone.preprocess.crop} px on {', '.join(BACKBONE_CLASSES)}; validation accuracy on those "
              f"classes {accuracy:.1%}.", end=" ")
    print(f"Audited classes: {', '.join(AUDITED)}; "
          f"{args.per_class} photos each, {args.noise:.0%} label noise, {args.off_topic:.0%} off-topic, "
          f"{args.copies:.0%} copied into the other split; {args.folds}-fold probe; seeds {args.seeds}.")
    probes = [r for r in results if r.mode == "probe"]
    contenders = list(dict.fromkeys(c for r in results for c in r.prf))
    print("\n== Label issues on the same out-of-sample probabilities: precision / recall / F1 (images flagged) ==")
    print("(scored on the images that show one of the classes; top losses flag as many images as ours does)")

    def cell(r: SetResult, c: str) -> str:
        return f"{pct(r.prf[c][0])} / {pct(r.prf[c][1])} / {pct(r.prf[c][2])} ({r.flagged[c]})" if c in r.prf else "-"

    rows = [[r.name, r.mode, str(r.images), str(r.label_issues)] + [cell(r, c) for c in contenders] for r in results]
    for noise in NOISE_KINDS:
        mine = [r for r in probes if r.name.startswith(noise)]
        rows.append([f"{noise} mean", "probe", "", ""] +
                    [" / ".join(pct(mean([r.prf[c][k] for r in mine])) for k in range(3)) for c in contenders])
    print(table(["set", "mode", "images", "wrong labels"] + contenders, rows))

    print("\n== Off-topic images, and the copies across splits (leaks) the hash pass misses ==")
    rows = []
    for r in probes:
        assert r.copies is not None and r.off_topic is not None
        found = ", ".join(f"{k} {r.copies.by_hash[k]}/{r.copies.by_embedding[k]}/{r.copies.copies[k]}"
                          for k in COPY_KINDS)
        rows.append([r.name, str(r.off_topic_truth), pct(r.off_topic[0]), pct(r.off_topic[1]), found,
                     str(sum(r.copies.only_embedding.values())),
                     f"{r.copies.embedding_true_pairs}/{r.copies.embedding_pairs} = {pct(r.copies.precision)}",
                     f"{r.copies.embedding_source_duplicates}, {pct(r.copies.precision_less_source_duplicates)}"])
    print(table(["set", "off-topic", "precision", "recall", "copies found: hashes/embeddings/planted",
                 "only by the audit", "audit pairs true", "others: one CIFAR photo twice, precision without them"],
                rows))

    thresholds = sorted(probes[0].similarity_sweep)
    print(f"\n== Semantic copies by pixel similarity ({NEIGHBOURS} embedding neighbours each; mean over the probe "
          "sets) ==")
    print(table(["similarity", "mirror+crop found", "with hashes", "all copies found", "pairs true"],
                [[f"{t:.3f}" + (" (default)" if t == AuditRules().similarity else ""),
                  pct(mean([r.similarity_sweep[t].recall(("mirror", "crop-10")) for r in probes])),
                  pct(mean([r.similarity_sweep[t].recall_with_hashes(("mirror", "crop-10")) for r in probes])),
                  pct(mean([r.similarity_sweep[t].recall(COPY_KINDS) for r in probes])),
                  pct(mean([r.similarity_sweep[t].precision for r in probes]))] for t in thresholds]))

    print("\n== Retraining, tested on clean CIFAR-10 test photos of the four classes ==")
    rows = []
    for r in probes:
        rows.append([r.name, "probe"] + [pct(r.accuracy[k]) for k in ("noisy", "audited", "clean")] +
                    [pct(recovery(r.accuracy))])
        if r.finetune_accuracy:
            rows.append([r.name, f"classify train {args.retrain_epochs} ep"] +
                        [pct(r.finetune_accuracy[k]) for k in ("noisy", "audited", "clean")] +
                        [pct(recovery(r.finetune_accuracy))])
    print(table(["set", "model", "noisy labels", "audited", "true labels", "recovered"], rows))

    if speed:
        print(f"\n== Speed: probe audit of {speed.images:,} photos with cached embeddings; embedding beside "
              "classify predict (same network and files; shared 2-core CPU) ==")
        print(table(["step", "seconds"], [[k, f"{v:.2f}"] for k, v in speed.parts_s.items()] +
                    [["whole audit", f"{speed.audit_s:.2f}"]]))
        print(table(["", "images/s"], [[f"classify.embed, empty cache ({speed.images:,})",
                                        f"{speed.embed_cold_per_s:.0f}"],
                                       [f"classify.embed, no cache ({speed.sample:,})", f"{speed.embed_per_s:.0f}"],
                                       [f"classify.predict ({speed.sample:,})", f"{speed.predict_per_s:.0f}"],
                                       ["embed / predict", f"{speed.embed_per_s / speed.predict_per_s:.2f}"]]))

    ours = contenders[0]
    cleanlab = next((c for c in contenders if c.startswith("cleanlab")), None)
    by_noise = {n: [r for r in probes if r.name.startswith(n)] for n in NOISE_KINDS}
    goals: list[tuple[str, str, bool]] = []
    if cleanlab:
        worse = [r for r in results if r.prf[ours][2] < r.prf[cleanlab][2]]
        goals.append(("label-issue F1 >= cleanlab's on the same probabilities, every set and mode",
                      f"{len(results) - len(worse)}/{len(results)} sets", not worse))
    for noise, goal in (("symmetric", 0.80), ("asymmetric", 0.70)):
        value = mean([r.prf[ours][2] for r in by_noise[noise]])
        goals.append((f"label-issue F1 >= {goal:.2f} at 20% {noise} noise (mean)", pct(value), value >= goal))
    precision = mean([r.off_topic[0] for r in probes if r.off_topic])
    recall = mean([r.off_topic[1] for r in probes if r.off_topic])
    goals.append(("off-topic recall >= 0.90 at precision >= 0.90 (mean)", f"R {pct(recall)} at P {pct(precision)}",
                  recall >= 0.9 and precision >= 0.9))
    found = mean([r.copies.recall_with_hashes(("mirror", "crop-10")) for r in probes if r.copies])
    alone = mean([r.copies.recall(("mirror", "crop-10")) for r in probes if r.copies])
    pair_precision = mean([r.copies.precision for r in probes if r.copies])
    goal = "mirror and 10%-crop copies across splits: >= 0.95 found (hashes + audit), audit pairs precision >= 0.99"
    measured = f"found {pct(found)} (audit alone {pct(alone)}), precision {pct(pair_precision)}"
    goals.append((goal, measured, found >= 0.95 and pair_precision >= 0.99))
    probe_recovery = mean([recovery(r.accuracy) for r in probes])
    goals.append(("retraining on the audited set recovers >= half the accuracy the noise cost (probe, mean)",
                  pct(probe_recovery), probe_recovery >= 0.5))
    tuned = [recovery(r.finetune_accuracy) for r in probes if r.finetune_accuracy]
    if tuned:
        goals.append(("... the same with classify train (mean)", pct(mean(tuned)), mean(tuned) >= 0.5))
    if speed:
        goals.append((f"probe audit of {speed.images:,} images with cached embeddings under 10 s",
                      f"{speed.audit_s:.1f} s", speed.audit_s < 10 and speed.images >= 10_000))
    print("\n== Goals ==")
    print(table(["goal", "measured", "status"], [[g, m, "met" if ok else "MISSED"] for g, m, ok in goals]))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "sets": [asdict(r) for r in results],
                                         "speed": asdict(speed) if speed else None,
                                         "goals": [{"goal": g, "measured": m, "met": ok} for g, m, ok in goals]},
                                        indent=2, default=str))


if __name__ == "__main__":
    main()
