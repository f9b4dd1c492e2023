"""How well and how fast `curate` finds duplicates and bad files, side by side with imagededup's PHash.

Quality set: CIFAR-10 photos from ../shared/datasets/cifar10-jpg.tar.gz, upscaled to 128-400 px (JPEG q90) into
an ImageFolder tree (train/val, ten classes). Two thirds of them get one copy each, made by one transform of graded
difficulty (exact bytes, same pixels as PNG, resize, JPEG recompression, crop, brightness, watermark, rotation,
grayscale, mirror; mild and strong), half of the copies in the other split (leakage); plus every bad-file kind
`curate` must reject. Truth: the pairs (photo, its copy). Predicted pairs: every pair inside a group after
union-find (what curate moves), for curate at each hash kind / combination and threshold, and for imagededup's
PHash at its default threshold, run in its own interpreter (`--imagededup-python`) on the same files.

Speed: images/s of inspect_image (the pipeline's per-file work) against imagededup's encoder and the tutorial
`imagehash.phash(Image.open(path))`, all in pools of `--workers` processes; a speed set of 50,000 upscaled photos
(generated once into the cache) for images/s and grouping time at growing sizes against all-pairs comparison; and
one million synthetic hashes (random plus planted near copies) grouped.

    python bench/curate_bench.py [--originals 3000] [--speed-size 50000] [--million 1000000]
                                 [--imagededup-python /tmp/dedupvenv/bin/python] [--cache data/curate_bench]

Quick run: --originals 600 --speed-size 5000 --speed-steps 1000,5000 --million 100000.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.curate.inspect import HASHERS, Inspection, InspectOptions, inspect_image
from collector.curate.neighbours import near_pairs, union_groups

CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
SPLITS = ("train", "val")
KINDS = tuple(HASHERS)
MAX_THRESHOLD = 20
MIN_PRECISION = 0.98
# Seconds near_pairs + union_groups took on one million random hashes on this shared 2-core machine, per threshold
# (measured 2026-11-23 while other jobs ran; 9 not measured, 10 took 153 s). A rule may be chosen only when its
# searches add up to SEARCH_BUDGET, leaving room under the 60 s for the rest; slower ones are only scored.
MILLION_SEARCH_SECONDS = {6: 11.8, 7: 13.6, 8: 29.6}
SEARCH_LIMIT = max(MILLION_SEARCH_SECONDS)
SEARCH_BUDGET = 45.0

# Every copy kind: (name, difficulty). Exact kinds are found by the pixel digest, the rest by perceptual hashes.
TRANSFORMS = (
    ("exact-bytes", "exact"), ("exact-png", "exact"),
    ("resize-mild", "easy"), ("jpeg-mild", "easy"), ("grayscale", "easy"),
    ("resize-strong", "medium"), ("jpeg-strong", "medium"), ("crop-mild", "medium"),
    ("brightness-mild", "medium"), ("watermark-mild", "medium"), ("rotate-mild", "medium"),
    ("crop-strong", "hard"), ("brightness-strong", "hard"), ("watermark-strong", "hard"),
    ("rotate-strong", "hard"), ("mirror", "hard"),
)
DIFFICULTY = dict(TRANSFORMS)
GRADES = ("exact", "easy", "medium", "hard")


# ---------------------------------------------------------------------------------------------------------------
# Data


def extract_cifar(archive: Path, cache: Path) -> Path:
    """The archive extracted once into the cache; later runs reuse it."""
    target = cache / "cifar10-jpg"
    done = cache / ".cifar-extracted"
    if not done.exists():
        if not archive.is_file():
            raise SystemExit(f"error: {archive} not found; pass --cifar PATH to cifar10-jpg.tar.gz")
        print(f"extracting {archive} into {cache} (once)", file=sys.stderr)
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
        done.touch()
    return target


def cifar_files(extracted: Path, subset: str) -> list[tuple[str, Path]]:
    """(class, path) of every photo of a subset, in a fixed order."""
    return [(folder.name, path) for folder in sorted((extracted / subset).iterdir()) if folder.is_dir()
            for path in sorted(folder.iterdir())]


def upscaled(source: Path, rng: random.Random) -> Image.Image:
    """A CIFAR photo as a crawled picture: 128-400 px on its long side, aspect between 3:4 and 4:3."""
    with Image.open(source) as image:
        image = image.convert("RGB")
    long_side = rng.randint(128, 400)
    short = max(128, round(long_side * rng.uniform(0.75, 1.0)))
    size = (long_side, short) if rng.random() < 0.5 else (short, long_side)
    return image.resize(size, Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def watermark(image: Image.Image, strong: bool, rng: random.Random) -> Image.Image:
    """Stock-photo style: a small corner credit (mild), or a translucent band with big text across (strong)."""
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width, height = base.size
    if strong:
        top = rng.randint(height // 4, height // 2)
        draw.rectangle((0, top, width, top + height // 5), fill=(255, 255, 255, 110))
        font = ImageFont.load_default(size=max(12, height // 7))
        draw.text((width // 10, top + height // 40), "STOCKPHOTO", font=font, fill=(20, 20, 20, 200))
    else:
        font = ImageFont.load_default(size=max(9, height // 16))
        text = "© photo.example"
        box = draw.textbbox((0, 0), text, font=font)
        x, y = width - (box[2] - box[0]) - 6, height - (box[3] - box[1]) - 8
        draw.text((x, y), text, font=font, fill=(255, 255, 255, 190))
    return Image.alpha_composite(base, layer).convert("RGB")


def crop(image: Image.Image, fraction: float, rng: random.Random) -> Image.Image:
    """Remove `fraction` of the width and of the height, split at random between the two sides."""
    width, height = image.size
    cut_w, cut_h = round(width * fraction), round(height * fraction)
    left, top = rng.randint(0, cut_w), rng.randint(0, cut_h)
    return image.crop((left, top, left + width - cut_w, top + height - cut_h))


def make_copy(kind: str, image: Image.Image, original: bytes, rng: random.Random) -> tuple[bytes, str]:
    """(bytes, extension) of one copy of `image` (whose file holds `original`)."""
    sign = rng.choice((-1, 1))
    jpeg = {"quality": 90}
    match kind:
        case "exact-bytes":
            return original, "jpg"
        case "exact-png":
            with Image.open(io.BytesIO(original)) as decoded:
                return encode(decoded.convert("RGB"), "PNG"), "png"
        case "resize-mild" | "resize-strong":
            scale = 0.7 if kind == "resize-mild" else 0.35
            size = (round(image.width * scale), round(image.height * scale))
            return encode(image.resize(size, Image.Resampling.LANCZOS), **jpeg), "jpg"
        case "jpeg-mild" | "jpeg-strong":
            return encode(image, quality=50 if kind == "jpeg-mild" else 15), "jpg"
        case "grayscale":
            return encode(image.convert("L"), **jpeg), "jpg"
        case "crop-mild" | "crop-strong":
            return encode(crop(image, 0.06 if kind == "crop-mild" else 0.15, rng), **jpeg), "jpg"
        case "brightness-mild" | "brightness-strong":
            factor = 1 + sign * (0.2 if kind == "brightness-mild" else 0.45)
            return encode(ImageEnhance.Brightness(image).enhance(factor), **jpeg), "jpg"
        case "watermark-mild" | "watermark-strong":
            return encode(watermark(image, kind == "watermark-strong", rng), **jpeg), "jpg"
        case "rotate-mild" | "rotate-strong":
            angle = sign * (3 if kind == "rotate-mild" else 8)
            return encode(image.rotate(angle, Image.Resampling.BICUBIC, fillcolor=(0, 0, 0)), **jpeg), "jpg"
        case "mirror":
            return encode(ImageOps.mirror(image), **jpeg), "jpg"
    raise ValueError(f"unknown copy kind {kind}")


def bad_files(photo: Image.Image, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(name, expected reason, bytes) of one file of every kind curate must reject, built from a real photo."""
    jpeg = encode(photo, quality=90)
    png = encode(photo, "PNG")
    huffman = jpeg.find(b"\xff\xc4")
    noise = rng.randbytes(rng.randint(500, 20_000))
    words = " ".join(rng.choice(("cat", "dog", "photo", "image", "lorem", "ipsum")) for _ in range(200))
    return [
        ("empty.jpg", "empty", b""),
        ("page.jpg", "not-image", b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>" +
         words.encode() + b"</body></html>"),
        ("drawing.svg", "not-image", (b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">'
                                      b'<rect width="200" height="200" fill="teal"/></svg>')),
        ("notes.jpg", "not-image", words.encode()),
        ("noise.jpg", "not-image", b"\x00" + noise),
        ("half.jpg", "truncated", jpeg[: len(jpeg) // 2]),
        ("most.jpg", "truncated", jpeg[: int(len(jpeg) * 0.9)]),
        ("half.png", "truncated", png[: len(png) // 2]),
        ("corrupt.jpg", "undecodable", jpeg[: huffman + 5] + b"\xff" * 16 + jpeg[huffman + 21:]),
        ("bomb.png", "too-many-pixels", encode(Image.new("1", (9000, 9000)), "PNG")),
        ("tiny.jpg", "too-small", encode(photo.resize((24, 24)), quality=90)),
        ("banner.jpg", "extreme-aspect", encode(photo.resize((600, 60)), quality=90)),
    ]


@dataclass(frozen=True)
class QualitySet:
    root: Path
    photos: list[str]  # relative paths of every good image (originals and copies)
    copies: dict[str, tuple[str, str]]  # copy path -> (original path, transform)
    bad: dict[str, str]  # bad file path -> expected reason


def build_quality_set(extracted: Path, cache: Path, originals: int, bad_per_kind: int, seed: int) -> QualitySet:
    """Generate (once per size and seed) the labelled ImageFolder tree; labels in labels.json beside it."""
    folder = cache / f"quality-{originals}-{bad_per_kind}-{seed}"
    labels = folder / "labels.json"
    if labels.is_file():
        data = json.loads(labels.read_text())
        return QualitySet(folder / "data", data["photos"], {k: tuple(v) for k, v in data["copies"].items()},
                          data["bad"])
    rng = random.Random(seed)
    pool = cifar_files(extracted, "train") + cifar_files(extracted, "test")
    chosen = rng.sample(pool, originals)
    root = folder / "data"
    shutil.rmtree(folder, ignore_errors=True)
    photos: list[str] = []
    copies: dict[str, tuple[str, str]] = {}
    copy_kinds = [name for name, _ in TRANSFORMS]
    for number, (label, source) in enumerate(tqdm(chosen, desc="quality set", unit="img", file=sys.stderr)):
        image = upscaled(source, rng)
        split = "train" if rng.random() < 0.8 else "val"
        original_path = f"{split}/{label}/q{number:05d}.jpg"
        original = encode(image, quality=90)
        write(root / original_path, original)
        photos.append(original_path)
        if number % 3 == 2:
            continue
        kind = copy_kinds[(number - number // 3) % len(copy_kinds)]
        data, extension = make_copy(kind, image, original, rng)
        copy_split = split if rng.random() < 0.5 else SPLITS[1 - SPLITS.index(split)]
        copy_path = f"{copy_split}/{label}/q{number:05d}c.{extension}"
        write(root / copy_path, data)
        photos.append(copy_path)
        copies[copy_path] = (original_path, kind)
    bad: dict[str, str] = {}
    for number in range(bad_per_kind):
        label, source = rng.choice(pool)
        for name, reason, data in bad_files(upscaled(source, rng), rng):
            path = f"{rng.choice(SPLITS)}/{label}/bad{number:03d}_{name}"
            write(root / path, data)
            bad[path] = reason
    labels.write_text(json.dumps({"photos": photos, "copies": copies, "bad": bad}))
    return QualitySet(root, photos, copies, bad)


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _speed_photo(job: tuple[Path, Path, int]) -> None:
    source, target, seed = job
    write(target, encode(upscaled(source, random.Random(seed)), quality=90))


def build_speed_set(extracted: Path, cache: Path, size: int, workers: int) -> list[Path]:
    """`size` distinct upscaled CIFAR photos (the whole archive holds 60,000), generated once into the cache."""
    folder = cache / "speed"
    pool = cifar_files(extracted, "train") + cifar_files(extracted, "test")
    if size > len(pool):
        raise SystemExit(f"error: --speed-size {size} is over the {len(pool)} photos in the archive")
    jobs = [(source, folder / label / f"s{number:05d}.jpg", number) for number, (label, source) in
            enumerate(pool[:size])]
    missing = [job for job in jobs if not job[1].exists()]
    if missing:
        with ProcessPoolExecutor(workers) as executor:
            for _ in tqdm(executor.map(_speed_photo, missing, chunksize=64), total=len(missing), desc="speed set",
                          unit="img", file=sys.stderr):
                pass
    return [job[1] for job in jobs]


# ---------------------------------------------------------------------------------------------------------------
# Running the contenders


def _inspect(job: tuple[Path, InspectOptions]) -> Inspection:
    return inspect_image(*job)


def _tutorial_phash(path: Path) -> int | None:
    try:
        with Image.open(path) as image:
            return int(str(imagehash.phash(image)), 16)
    except Exception:  # noqa: BLE001 - the tutorial loop skips what it cannot hash
        return None


def timed_pool(function: Callable, jobs: list, workers: int, desc: str) -> tuple[list, float]:
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as executor:
        results = list(tqdm(executor.map(function, jobs, chunksize=32), total=len(jobs), desc=desc, unit="img",
                            file=sys.stderr))
    return results, time.perf_counter() - start


def timed_rounds(contenders: dict[str, tuple[Callable, list]], workers: int, rounds: int = 3
                 ) -> dict[str, tuple[list, float]]:
    """Each contender over the same files, in alternating rounds of a slice each, so that the load of other
    processes on this shared machine falls on all of them alike. Returns {name: (results, total seconds)}."""
    done: dict[str, tuple[list, float]] = {name: ([], 0.0) for name in contenders}
    for k in range(rounds):
        for name, (function, jobs) in contenders.items():
            part = jobs[k * len(jobs) // rounds:(k + 1) * len(jobs) // rounds]
            results, seconds = timed_pool(function, part, workers, f"{name} {k + 1}/{rounds}")
            done[name] = (done[name][0] + results, done[name][1] + seconds)
    return done


IMAGEDEDUP_SCRIPT = r"""
import json, sys, time, logging, warnings
logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")
from imagededup.methods import PHash
root, workers = sys.argv[1], int(sys.argv[2])
hasher = PHash(verbose=False)
start = time.perf_counter()
encodings = hasher.encode_images(image_dir=root, recursive=True, num_enc_workers=workers)
encoded = time.perf_counter()
duplicates = hasher.find_duplicates(encoding_map=encodings)
searched = time.perf_counter()
import imagededup
print(json.dumps({"version": imagededup.__version__, "encoded": sorted(encodings),
                  "duplicates": {k: sorted(v) for k, v in duplicates.items() if v},
                  "encode_s": encoded - start, "search_s": searched - encoded}))
"""


def run_imagededup(python: Path, root: Path, workers: int) -> dict | str:
    """imagededup's PHash at its defaults on `root`, or why it could not run."""
    if not python.exists():
        return f"{python} not found (python3 -m venv /tmp/dedupvenv && /tmp/dedupvenv/bin/pip install imagededup)"
    print(f"running imagededup PHash with {python}", file=sys.stderr)
    done = subprocess.run([str(python), "-c", IMAGEDEDUP_SCRIPT, str(root), str(workers)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        return f"imagededup failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------------
# Scoring


@dataclass
class Score:
    tp: Counter  # grade or transform -> true pairs found
    fp: Counter  # transform of a copy in a false pair (or "photos") -> false pairs
    fp_total: int
    truth: Counter  # grade or transform -> true pairs

    def near(self) -> tuple[float, float, float]:
        """Precision, recall, F1 over near-duplicate pairs (exact copies left out of both sides)."""
        tp = sum(self.tp[g] for g in GRADES if g != "exact")
        truth = sum(self.truth[g] for g in GRADES if g != "exact")
        return prf(tp, tp + self.fp_total, truth)

    def overall(self) -> tuple[float, float, float]:
        tp = sum(self.tp[g] for g in GRADES)
        return prf(tp, tp + self.fp_total, sum(self.truth[g] for g in GRADES))

    def grade(self, grade: str) -> tuple[float, float]:
        """Precision and recall of one difficulty: false pairs count against a grade when they involve its copies."""
        fp = sum(self.fp[name] for name, g in TRANSFORMS if g == grade)
        return safe(self.tp[grade], self.tp[grade] + fp), safe(self.tp[grade], self.truth[grade])


def prf(tp: int, predicted: int, truth: int) -> tuple[float, float, float]:
    precision, recall = safe(tp, predicted), safe(tp, truth)
    return precision, recall, safe(2 * precision * recall, precision + recall)


def safe(a: float, b: float) -> float:
    return a / b if b else 0.0


class Truth:
    """The labelled pairs of a quality set, indexed by position in a list of paths."""

    def __init__(self, qs: QualitySet, paths: list[str]) -> None:
        index = {path: k for k, path in enumerate(paths)}
        self.pairs: dict[tuple[int, int], str] = {}
        self.kind_of = {}
        for copy, (original, kind) in qs.copies.items():
            a, b = sorted((index[copy], index[original]))
            self.pairs[(a, b)] = kind
            self.kind_of[index[copy]] = kind
        self.counts = Counter()
        for kind in self.pairs.values():
            self.counts[kind] += 1
            self.counts[DIFFICULTY[kind]] += 1

    def score(self, groups: Iterable[list[int]], with_fp_kinds: bool = True) -> Score:
        tp, fp = Counter(), Counter()
        fp_total = 0
        for members in groups:
            members = sorted(members)
            found = 0
            size = len(members)
            if size <= 200:
                for x in range(size):
                    for y in range(x + 1, size):
                        kind = self.pairs.get((members[x], members[y]))
                        if kind:
                            tp[kind] += 1
                            tp[DIFFICULTY[kind]] += 1
                            found += 1
                        elif with_fp_kinds:
                            for end in (members[x], members[y]):
                                fp[self.kind_of.get(end, "photos")] += 1
            else:
                inside = set(members)
                for (a, b), kind in self.pairs.items():
                    if a in inside and b in inside:
                        tp[kind] += 1
                        tp[DIFFICULTY[kind]] += 1
                        found += 1
            fp_total += size * (size - 1) // 2 - found
        return Score(tp, fp, fp_total, self.counts)


@dataclass(frozen=True)
class Rule:
    """When two images count as near duplicates, from their Hamming distances on one or two hash kinds.

    single: d1 <= t; and: d1 <= t1 and d2 <= t2; or: d1 <= t1 or d2 <= t2; sum: d1 + d2 <= t (the distance of the
    two hashes side by side as one 128-bit hash). Each is found exactly by near_pairs searches listed by `search`.
    """

    op: str
    kinds: tuple[str, ...]
    thresholds: tuple[int, ...]

    def accept(self, d: dict[str, np.ndarray]) -> np.ndarray:
        first = d[self.kinds[0]]
        if self.op == "single":
            return first <= self.thresholds[0]
        second = d[self.kinds[1]]
        if self.op == "and":
            return (first <= self.thresholds[0]) & (second <= self.thresholds[1])
        if self.op == "or":
            return (first <= self.thresholds[0]) | (second <= self.thresholds[1])
        return first + second <= self.thresholds[0]

    def search(self) -> list[tuple[str, int]]:
        """The (kind, threshold) near_pairs searches whose union holds every accepted pair (pigeonhole for sum)."""
        if self.op == "single":
            return [(self.kinds[0], self.thresholds[0])]
        if self.op == "and":
            t, kind = min(zip(self.thresholds, self.kinds, strict=True))
            return [(kind, t)]
        if self.op == "or":
            return list(zip(self.kinds, self.thresholds, strict=True))
        return [(kind, self.thresholds[0] // 2) for kind in self.kinds]

    @property
    def search_threshold(self) -> int:
        return max(t for _, t in self.search())

    @property
    def fast(self) -> bool:
        """Whether its searches group a million images within SEARCH_BUDGET, by the measured cost per threshold."""
        if self.search_threshold > SEARCH_LIMIT:
            return False
        return sum(MILLION_SEARCH_SECONDS.get(max(t, 6), 0.0) for _, t in self.search()) <= SEARCH_BUDGET

    def __str__(self) -> str:
        if self.op == "sum":
            return f"{'+'.join(self.kinds)}<={self.thresholds[0]}"
        joiner = {"single": "", "and": " AND ", "or": " OR "}[self.op]
        return joiner.join(f"{k}<={t}" for k, t in zip(self.kinds, self.thresholds, strict=True))


def rules() -> list[Rule]:
    """Every rule the sweep scores: each kind alone, and every pair of kinds under AND, OR and sum."""
    found = [Rule("single", (kind,), (t,)) for kind in KINDS for t in range(MAX_THRESHOLD + 1)]
    for first, second in combinations(KINDS, 2):
        kinds = (first, second)
        found += [Rule("or", kinds, (a, b)) for a in range(SEARCH_LIMIT + 1) for b in range(SEARCH_LIMIT + 1)]
        found += [Rule("sum", kinds, (t,)) for t in range(2 * SEARCH_LIMIT + 2)]
        found += [Rule("and", kinds, (a, b)) for a in range(MAX_THRESHOLD + 1) for b in range(MAX_THRESHOLD + 1)
                  if min(a, b) <= SEARCH_LIMIT]
    return found


def find_pairs(values: dict[str, np.ndarray], rule: Rule) -> tuple[np.ndarray, np.ndarray]:
    """The pairs `rule` accepts, as curate would find them: the rule's near_pairs searches, then the rule."""
    n = len(next(iter(values.values())))
    keys = [near_pairs(values[kind], t) for kind, t in rule.search()]
    codes = np.unique(np.concatenate([i.astype(np.int64) * n + j for i, j, _ in keys]))
    i, j = codes // n, codes % n
    d = {kind: np.bitwise_count(values[kind][i] ^ values[kind][j]) for kind in rule.kinds}
    keep = rule.accept(d)
    return i[keep], j[keep]


class Candidates:
    """Every pair within MAX_THRESHOLD on some kind, with its distance on every kind: the sweep scores rules on it."""

    def __init__(self, inspections: list[Inspection]) -> None:
        self.n = len(inspections)
        self.values = {kind: np.array([ins.hashes[kind] for ins in inspections], dtype=np.uint64) for kind in KINDS}
        codes = np.unique(np.concatenate([
            i.astype(np.int64) * self.n + j for i, j, _ in (near_pairs(v, MAX_THRESHOLD) for v in self.values.values())
        ]))
        self.i, self.j = codes // self.n, codes % self.n
        self.d = {kind: np.bitwise_count(v[self.i] ^ v[self.j]) for kind, v in self.values.items()}
        by_digest = defaultdict(list)
        for k, ins in enumerate(inspections):
            by_digest[ins.pixel_digest].append(k)
        same = [(members[0], other) for members in by_digest.values() for other in members[1:]]
        self.same_i = np.array([a for a, _ in same], dtype=np.int64)
        self.same_j = np.array([b for _, b in same], dtype=np.int64)

    def groups(self, rule: Rule) -> list[list[int]]:
        """Groups as curate forms them: same decoded pixels, or accepted by the rule, joined by union-find."""
        keep = rule.accept(self.d)
        return union_groups(self.n, np.concatenate([self.i[keep], self.same_i]),
                            np.concatenate([self.j[keep], self.same_j]))


def sweep(candidates: Candidates, truth: Truth) -> list[dict]:
    """Near-duplicate precision, recall and F1 of every rule."""
    rows = []
    for rule in tqdm(rules(), desc="sweep", unit="rule", file=sys.stderr):
        precision, recall, f1 = truth.score(candidates.groups(rule), with_fp_kinds=False).near()
        rows.append({"rule": rule, "precision": precision, "recall": recall, "f1": f1})
    return rows


def choose(rows: list[dict]) -> dict:
    """Best near F1 with precision >= MIN_PRECISION among rules curate can run (sum rules are only scored) that are
    fast enough for a million images; ties go to the simplest rule (one kind), then the lowest thresholds."""
    eligible = [r for r in rows if r["precision"] >= MIN_PRECISION and r["rule"].fast and cli_flags(r["rule"])]
    return max(eligible, key=lambda r: (round(r["f1"], 4), -len(r["rule"].kinds), -sum(r["rule"].thresholds)))


# ---------------------------------------------------------------------------------------------------------------
# Grouping speed


def cli_flags(rule: Rule) -> list[str] | None:
    """The curate options for a rule (AND: the kind with the lower threshold first, it is searched); None for sum."""
    if rule.op == "sum":
        return None
    ordered = sorted(zip(rule.thresholds, rule.kinds, strict=True)) if rule.op == "and" else list(
        zip(rule.thresholds, rule.kinds, strict=True))
    joiner = "+" if rule.op == "and" else ","
    return ["--hash", joiner.join(kind for _, kind in ordered), "--threshold", ",".join(str(t) for t, _ in ordered)]


def run_curate_cli(root: Path, flags: list[str], workers: int) -> tuple[dict, float]:
    """The real `curate --dry-run --json` on the quality set: its report and its wall time."""
    command = [sys.executable, "-c", "from collector.cli import curate; curate()", str(root), "--dry-run", "--json",
               "-q", "--workers", str(workers), *flags]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: curate failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout), seconds


def all_pairs(values: dict[str, np.ndarray], rule: Rule, rows: int = 512) -> int:
    """The baseline: compare every image with every later one, a block of rows at a time; count accepted pairs."""
    n = len(next(iter(values.values())))
    found = 0
    for start in range(0, n, rows):
        d = {kind: np.bitwise_count(v[start:start + rows, None] ^ v[None, start:]) for kind, v in values.items()}
        found += int(np.triu(rule.accept(d), 1).sum())
    return found


def timed(function: Callable, *args) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def group(values: dict[str, np.ndarray], rule: Rule) -> tuple[int, list[list[int]]]:
    i, j = find_pairs(values, rule)
    return len(i), union_groups(len(next(iter(values.values()))), i, j)


def planted_hashes(n: int, rule: Rule, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """n random hashes per kind, about 5% of them in clusters of 2-4 whose copies the rule accepts against the first.

    Returns the hashes and each one's cluster number (-1 for the random ones)."""
    rng = np.random.default_rng(seed)
    reach = rule.thresholds if rule.op in ("single", "and", "or") else (rule.thresholds[0] // 2,) * 2
    values = {kind: rng.integers(0, 2**64, size=n, dtype=np.uint64) for kind in rule.kinds}
    cluster = np.full(n, -1, dtype=np.int64)
    position = 0
    for number in range(n // 20 // 3):
        size = int(rng.integers(2, 5))
        cluster[position:position + size] = number
        for k in range(1, size):
            for kind, limit in zip(rule.kinds, reach, strict=True):
                flips = rng.choice(64, size=int(rng.integers(0, limit + 1)), replace=False)
                values[kind][position + k] = values[kind][position] ^ np.uint64(sum(1 << int(b) for b in flips))
        position += size
    order = rng.permutation(n)
    return {kind: v[order] for kind, v in values.items()}, cluster[order]


# ---------------------------------------------------------------------------------------------------------------
# Report


def pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).rjust(w) if k else str(c).ljust(w) for k, (c, w) in
                        enumerate(zip(row, widths, strict=True))) for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cifar", type=Path, default=CIFAR, help="cifar10-jpg.tar.gz")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "curate_bench",
                        help="where the extracted archive and generated sets are kept between runs")
    parser.add_argument("--originals", type=int, default=3000, help="photos in the quality set (before copies)")
    parser.add_argument("--bad-per-kind", type=int, default=5, help="files of each bad kind in the quality set")
    parser.add_argument("--speed-size", type=int, default=50_000, help="photos in the speed set (0: skip)")
    parser.add_argument("--speed-steps", default="5000,20000,50000", help="sizes at which grouping is timed")
    parser.add_argument("--speed-hash-sample", type=int, default=0,
                        help="hash only this many speed-set photos for images/s (0: all)")
    parser.add_argument("--million", type=int, default=1_000_000, help="synthetic hashes to group (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="processes for hashing, as curate uses")
    parser.add_argument("--imagededup-python", type=Path, default=Path("/tmp/dedupvenv/bin/python"),
                        help="interpreter with imagededup installed (its column is skipped when absent)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "cpus": os.cpu_count()}

    extracted = extract_cifar(args.cifar, args.cache)
    qs = build_quality_set(extracted, args.cache, args.originals, args.bad_per_kind, args.seed)
    paths = qs.photos + sorted(qs.bad)
    files = [qs.root / p for p in paths]
    print(f"\nquality set: {len(qs.photos)} photos ({len(qs.copies)} copies of {len(qs.photos) - len(qs.copies)} "
          f"originals), {len(qs.bad)} bad files, in {qs.root}")

    # Speed on the quality set, the three contenders one after the other on the same files.
    default = InspectOptions()
    every_kind = InspectOptions(hash_kinds=KINDS)
    timings = timed_rounds({"curate": (_inspect, [(f, default) for f in files]),
                            "curate 4 hashes": (_inspect, [(f, every_kind) for f in files]),
                            "tutorial": (_tutorial_phash, files)}, args.workers)
    seconds_default = timings["curate"][1]
    inspected, seconds_all = timings["curate 4 hashes"]
    seconds_tutorial = timings["tutorial"][1]
    dedup = run_imagededup(args.imagededup_python, qs.root, args.workers)
    speed_rows = [
        ["curate inspect_image (phash; digest, quality)", f"{len(files) / seconds_default:.0f}", "1.00"],
        ["curate inspect_image (all four hashes)", f"{len(files) / seconds_all:.0f}",
         f"{seconds_default / seconds_all:.2f}"],
        ["tutorial imagehash.phash(Image.open(p))", f"{len(files) / seconds_tutorial:.0f}",
         f"{seconds_default / seconds_tutorial:.2f}"],
    ]
    if isinstance(dedup, dict):
        rate = len(files) / dedup["encode_s"]
        speed_rows.append([f"imagededup {dedup['version']} PHash encode_images", f"{rate:.0f}",
                           f"{seconds_default / dedup['encode_s']:.2f}"])
    results["quality_set_speed"] = {row[0]: float(row[1]) for row in speed_rows}

    # Duplicate quality.
    good = inspected[: len(qs.photos)]
    missing = [p for p, ins in zip(qs.photos, good, strict=True) if not ins.ok]
    if missing:
        print(f"warning: {len(missing)} generated photos were rejected by curate, e.g. {missing[:3]}")
    truth = Truth(qs, qs.photos)
    candidates = Candidates(good)
    rows = sweep(candidates, truth)
    chosen = choose(rows)
    rule: Rule = chosen["rule"]
    # The rule as curate would run it finds the very groups the sweep scored.
    i, j = find_pairs(candidates.values, rule)
    direct = union_groups(len(good), np.concatenate([i, candidates.same_i]), np.concatenate([j, candidates.same_j]))
    assert direct == candidates.groups(rule), "find_pairs and the sweep disagree"
    single = max((r for r in rows if r["rule"].op == "single" and r["precision"] >= MIN_PRECISION
                  and r["rule"].fast),
                 key=lambda r: (round(r["f1"], 4), r["rule"].kinds == ("phash",)))
    shown = [rule, Rule("single", ("phash",), (8,)), single["rule"]]
    contenders: list[tuple[str, Score]] = []
    for candidate in dict.fromkeys(shown):
        contenders.append((f"curate {candidate}", truth.score(candidates.groups(candidate))))
    flags = cli_flags(rule)
    cli_report: dict | None = None
    if flags:
        cli_report, cli_seconds = run_curate_cli(qs.root, flags, args.workers)
        position = {p: k for k, p in enumerate(qs.photos)}
        cli_groups = [[position[m["path"]] for m in g["members"]] for g in cli_report["groups"]]
        contenders.append((f"curate CLI {' '.join(flags)}", truth.score(cli_groups)))
        rate = len(files) / cli_seconds
        speed_rows.insert(0, [f"curate --dry-run end to end ({' '.join(flags)})", f"{rate:.0f}",
                              f"{seconds_default / cli_seconds:.2f}"])
    if isinstance(dedup, dict):
        index = {Path(p).name: k for k, p in enumerate(qs.photos)}
        i, j = [], []
        for key, others in dedup["duplicates"].items():
            for other in others:
                if Path(key).name in index and Path(other).name in index:
                    i.append(index[Path(key).name])
                    j.append(index[Path(other).name])
        groups = union_groups(len(qs.photos), np.array(i, dtype=np.int64), np.array(j, dtype=np.int64))
        contenders.append(("imagededup PHash (default max_distance_threshold)", truth.score(groups)))
    else:
        print(f"\nimagededup column skipped: {dedup}")

    # Bad files.
    bad_inspections = inspected[len(qs.photos):]
    caught = Counter()
    right = Counter()
    bad_kinds = Counter()
    for path, ins in zip(sorted(qs.bad), bad_inspections, strict=True):
        kind = path.split("_", 1)[1]
        bad_kinds[kind] += 1
        caught[kind] += not ins.ok
        right[kind] += ins.reason == qs.bad[path]
    cli_caught = Counter()
    if cli_report:
        rejected = {item["path"] for item in cli_report["rejected"]}
        for path in qs.bad:
            cli_caught[path.split("_", 1)[1]] += path in rejected
    dedup_caught = Counter()
    if isinstance(dedup, dict):
        encoded = {Path(p).name for p in dedup["encoded"]}
        for path in qs.bad:
            dedup_caught[path.split("_", 1)[1]] += Path(path).name not in encoded

    # Print quality.
    print("\n== Duplicate pairs on the quality set (pairs inside one group after union-find) ==")
    headers = ["grade / transform", "pairs"] + [name for name, _ in contenders]
    lines = []
    for grade in GRADES:
        lines.append([f"[{grade}]", str(truth.counts[grade])] +
                     [f"P {pct(s.grade(grade)[0])} R {pct(s.grade(grade)[1])}" for _, s in contenders])
        for name, g in TRANSFORMS:
            if g == grade:
                lines.append([f"  {name}", str(truth.counts[name])] +
                             [f"R {pct(safe(s.tp[name], truth.counts[name]))}" for _, s in contenders])
    for label, getter in (("near dups", Score.near), ("all dups", Score.overall)):
        lines.append([f"{label}: precision", ""] + [pct(getter(s)[0]) for _, s in contenders])
        lines.append([f"{label}: recall", ""] + [pct(getter(s)[1]) for _, s in contenders])
        lines.append([f"{label}: F1", ""] + [pct(getter(s)[2]) for _, s in contenders])
    lines.append(["false pairs", ""] + [str(s.fp_total) for _, s in contenders])
    print(table(headers, lines))
    results["contenders"] = {name: {"near_prf": s.near(), "all_prf": s.overall(), "false_pairs": s.fp_total,
                                    "recall_by_transform": {n: safe(s.tp[n], truth.counts[n]) for n, _ in TRANSFORMS}}
                             for name, s in contenders}

    print(f"\n== Sweep: best near-duplicate F1 per rule family with precision >= {MIN_PRECISION:.0%}; 'fast' = its "
          f"near_pairs searches group a million hashes in about {SEARCH_BUDGET:.0f} s or less ==")
    best_rows = []
    results["sweep_best"] = {}
    for op, kinds in sorted({(r["rule"].op, r["rule"].kinds) for r in rows}):
        for fast in (True, False):
            eligible = [r for r in rows if (r["rule"].op, r["rule"].kinds) == (op, kinds)
                        and r["precision"] >= MIN_PRECISION and r["rule"].fast == fast]
            if eligible:
                best = max(eligible, key=lambda r: (round(r["f1"], 4), -sum(r["rule"].thresholds)))
                best_rows.append([str(best["rule"]), "fast" if fast else "slow", pct(best["precision"]),
                                  pct(best["recall"]), pct(best["f1"])])
                results["sweep_best"][str(best["rule"])] = {k: v for k, v in best.items() if k != "rule"}
    best_rows.sort(key=lambda r: r[4], reverse=True)
    print(table(["rule", "search", "precision", "recall", "F1"], best_rows[:24]))
    for kind in KINDS:
        print(f"\n{kind} alone by threshold:")
        print(table(["threshold", "precision", "recall", "F1"],
                    [[str(r["rule"].thresholds[0]), pct(r["precision"]), pct(r["recall"]), pct(r["f1"])]
                     for r in rows if r["rule"].op == "single" and r["rule"].kinds == (kind,)
                     and 4 <= r["rule"].thresholds[0] <= 14]))
    print(f"\nchosen by measurement: {rule} (near duplicates: precision {pct(chosen['precision'])}, recall "
          f"{pct(chosen['recall'])}, F1 {pct(chosen['f1'])}); best single kind: {single['rule']} "
          f"(F1 {pct(single['f1'])})")
    results["chosen"] = {"rule": str(rule), **{k: v for k, v in chosen.items() if k != "rule"}}
    flags = cli_flags(rule)
    print(f"as curate options: {' '.join(flags) if flags else 'not expressible (sum rule)'}")
    results["chosen"]["flags"] = flags

    print("\n== Bad files: caught (rejected) / right reason (inspect_image), rejected by the curate CLI run, skipped "
          "by imagededup ==")
    bad_rows = [[kind, str(n), f"{caught[kind]}/{n}", f"{right[kind]}/{n}",
                 f"{cli_caught[kind]}/{n}" if cli_report else "-",
                 f"{dedup_caught[kind]}/{n}" if isinstance(dedup, dict) else "-"]
                for kind, n in sorted(bad_kinds.items())]
    total = sum(bad_kinds.values())
    bad_rows.append(["all", str(total), pct(sum(caught.values()) / total), pct(sum(right.values()) / total),
                     pct(sum(cli_caught.values()) / total) if cli_report else "-",
                     pct(sum(dedup_caught.values()) / total) if isinstance(dedup, dict) else "-"])
    print(table(["kind", "files", "inspect caught", "right reason", "curate CLI", "imagededup skipped"], bad_rows))
    results["bad_recall"] = {"curate": sum(caught.values()) / total, "curate_reason": sum(right.values()) / total,
                             "curate_cli": sum(cli_caught.values()) / total if cli_report else None,
                             "imagededup": sum(dedup_caught.values()) / total if isinstance(dedup, dict) else None}

    print(f"\n== Hashing speed on the quality set ({len(files)} files, {args.workers} processes, curate and tutorial "
          "in alternating rounds, imagededup after them; shared machine, noisy: compare the ratios) ==")
    print(table(["hasher", "images/s", "vs curate"], speed_rows))

    if args.speed_size:
        speed_set(args, extracted, rule, results)
    if args.million:
        million(args.million, rule, args.seed, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


def speed_set(args: argparse.Namespace, extracted: Path, rule: Rule, results: dict) -> None:
    files = build_speed_set(extracted, args.cache, args.speed_size, args.workers)
    sample = files[: args.speed_hash_sample] if args.speed_hash_sample else files
    options = InspectOptions(hash_kinds=rule.kinds)
    inspected, seconds = timed_pool(_inspect, [(f, options) for f in sample], args.workers, "speed set inspect")
    rate = len(sample) / seconds
    print(f"\n== Speed set: {len(files)} photos 128-400 px; grouping with {rule} ==")
    print(f"curate inspect_image ({', '.join(rule.kinds)}), {args.workers} processes: {len(sample)} images in "
          f"{seconds:.1f} s = {rate:.0f} images/s")
    results["speed_set"] = {"images": len(sample), "seconds": seconds, "images_per_s": rate, "grouping": {}}
    values = {kind: np.array([ins.hashes.get(kind, 0) for ins in inspected], dtype=np.uint64) for kind in rule.kinds}
    steps = [int(s) for s in args.speed_steps.split(",") if int(s) <= len(sample)]
    rows = []
    for n in steps:
        head = {kind: v[:n] for kind, v in values.items()}
        (pairs, groups), ours = timed(group, head, rule)
        baseline_pairs, baseline = timed(all_pairs, head, rule)
        assert baseline_pairs == pairs, f"near_pairs found {pairs} pairs, all-pairs {baseline_pairs}"
        rows.append([str(n), str(pairs), str(len(groups)), f"{ours:.3f}", f"{baseline:.3f}", f"{baseline / ours:.1f}x"])
        results["speed_set"]["grouping"][n] = {"seconds": ours, "all_pairs_seconds": baseline, "pairs": pairs}
    print(table(["images", "pairs", "groups", "find_pairs+union s", "all-pairs s", "speed-up"], rows))


def million(n: int, rule: Rule, seed: int, results: dict) -> None:
    values, cluster = planted_hashes(n, rule, seed)
    (pairs, groups), seconds = timed(group, values, rule)
    group_of = np.full(n, -1, dtype=np.int64)
    for number, members in enumerate(groups):
        group_of[members] = number
    planted = cluster >= 0
    clusters = int(cluster.max()) + 1
    # Every planted cluster must end up whole in one group: one distinct group number per cluster.
    split = np.unique(np.stack([cluster[planted], group_of[planted]]), axis=1)
    whole = bool(len(split[0]) == clusters and (split[1] >= 0).all())
    sample = min(n, 20_000)
    _, sample_seconds = timed(all_pairs, {kind: v[:sample] for kind, v in values.items()}, rule)
    extrapolated = sample_seconds * (n / sample) ** 2
    print(f"\n== {n:,} synthetic hashes ({clusters:,} planted clusters of 2-4), {rule} ==")
    print(f"find_pairs + union_groups: {seconds:.1f} s, {pairs:,} pairs, {len(groups):,} groups, every planted "
          f"cluster whole: {whole}; all-pairs: {extrapolated:,.0f} s extrapolated from {sample:,} hashes in "
          f"{sample_seconds:.2f} s ({extrapolated / seconds:,.0f}x)")
    results["million"] = {"n": n, "rule": str(rule), "seconds": seconds, "pairs": pairs, "groups": len(groups),
                          "clusters_whole": whole, "all_pairs_extrapolated_s": extrapolated}


if __name__ == "__main__":
    main()
