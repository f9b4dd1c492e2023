"""How well and how fast `curate` finds duplicates and bad files, chosen on one set, confirmed on others, side by
side with imagededup's PHash.

Sets (bench/curate_sets.py): CIFAR-10 photos upscaled to 128-400 px with copies made by eleven recipes ("graded":
resize, upscale, JPEG, grayscale, crops, brightness, watermarks, rotations, mirror; "other": other scales, contrast,
corner crops, diagonal watermark, white-filled rotation, mirror plus resize / JPEG / crop; "fresh": frames,
captions, blur, saturation, stretch, 12% crops, rotation plus crop, mirror plus tone / corner crop / WebP; "unseen":
bars, padding, meme and title bars, frames with resize or mirror, hue, gamma, noise, sharpening; "blind":
thumbnails, mirror plus crop and resize, phone filters, vignette, sepia, posterize, median filter, stamp, corner
logo, instant-photo frame, blurred square backdrop; "candid": 15% crops, mirror plus corner crop or resize, rotation
plus crop, narrowed aspect, colour cast, coloured banner, page screenshot, halved and sharpened, grain, sticker;
"feeds": centred squares as is, as thumbnails, mirrored, captioned or in WebP, off-centre squares, 4:5 and 1.91:1
crops; "shapes": squares anywhere, small, mirrored or brighter, 4:5 and 1.91:1 cuts off centre, small or mirrored,
16:9, 9:16 and 3:2 cuts; "offsets": crops of 7-12% anywhere, resized, sharpened, grey or at JPEG 60, mirrors cropped
anywhere, resized, as WebP or in another tone, a side trimmed, a rotation then a crop; "bands": 3:2, 2:3, 16:9,
1.91:1, 2:1, 5:4, 4:5, square and 9:16 cuts near the centre or off it, small, mirrored or as WebP; "places": every
cut shape at a place drawn anywhere along the picture, small, brighter, mirrored, halved or as WebP), copies across
splits and across classes, bad files and valid odd files (flat, white, near-black 16-bit, dark, CMYK, palette,
animated). Every matching option is scored with `curate`'s own `decide` on the first set (graded, seed 0, 4,000
photos: chance matches between different photos grow with the square of a set's size); the best one (removal
precision >= 99%, no odd file lost, the issue's mirror and 10%-crop recall, fast enough for a million images; of
those, the fewest photos lost, then the best F1) is then reported on the held-out sets (graded seed 1, other seed 2,
fresh seed 3, unseen seed 4, blind seed 5, candid seed 6, feeds seed 7, shapes seed 8, offsets seed 9, bands seed
10, places seed 11) beside the previous default rule and imagededup's PHash at its defaults
(`find_duplicates_to_remove`), run in its own interpreter (`--imagededup-python`) on the same files.

Speed: images/s of inspect_image against the tutorial `imagehash.phash(Image.open(path))` and imagededup's
encoder in pools of `--workers` processes; grouping time on a speed set against all-pairs comparison; and one
million synthetic pictures (one hash per view, random plus planted near copies) grouped.

    python bench/curate_bench.py [--originals 1500] [--selection-originals 4000] [--speed-size 20000]
                                 [--million 1000000] [--imagededup-python /tmp/dedupvenv/bin/python]
                                 [--cache data/curate_bench]

Quick run: --originals 600 --selection-originals 1000 --speed-size 5000 --speed-steps 1000,5000 --million 100000.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from itertools import combinations
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.curate_sets import (
    EXACT_KINDS,
    QualitySet,
    build_quality_set,
    extract_cifar,
    same_photo,
    speed_jobs,
    speed_photo,
)
from collector.curate.decide import (
    SLIDE_MARGIN,
    DecideOptions,
    Decisions,
    Item,
    Probe,
    decide,
    is_probed,
    ordered_views,
    probes,
    slide_families,
    view_pairs,
)
from collector.curate.inspect import CONTENT, LOSSLESS_VIEWS, SIDES, VIEWS, Inspection, InspectOptions, inspect_image
from collector.curate.layout import Entry
from collector.curate.neighbours import cross_pairs, union_groups
from collector.curate.run import CurateOptions

CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
# The first selects, the others confirm.
SETS = (("graded", 0), ("graded", 1), ("other", 2), ("fresh", 3), ("unseen", 4), ("blind", 5), ("candid", 6),
        ("feeds", 7), ("shapes", 8), ("offsets", 9), ("bands", 10), ("places", 11))
MIN_REMOVAL_PRECISION = 0.99
MIN_MIRROR_RECALL, MIN_CROP_RECALL = 0.95, 0.5  # the goals for mirrors and 10% crops
THRESHOLDS = (6, 8, 10, 12)  # pHash distances between photos are even: 32 of its 64 bits are ones
SIMILARITIES = (None, 0.5, 0.6, 0.7, 0.8, 0.9)
VIEW_CHOICES = ((), ("mirror",), ("mirror", "centre"), VIEWS)
MARGINS = (0, 2)
# Correlations a pair through a crop or the margins at the edge of the threshold (beyond threshold - margin) may
# match at instead of not being searched.
VIEW_SIMILARITIES = (None, 0.85, 0.9, 0.95)
# Seconds near_pairs + union_groups took on a million pictures per (hashes per picture, threshold), random hashes, on
# this shared 2-core machine, the tables searched on its 2 threads (2026-12-02, one after the other, /tmp script;
# 2026-12-01, with planted copies: 1.6, 10.4, 4.7, 28.2, 9.2, 48.6, 39.1 and 240.0 s). A cut (inspect.SHAPES) is one
# search of its own of about one hash per picture; a side (inspect.SIDES) one of three: itself and both lossless views
# of every picture.
# A rule is "fast" when its searches add up to SEARCH_BUDGET or less: a tenth of what inspecting the million
# pictures takes at the 300 images/s on 2 processes (55 minutes), so that grouping never dominates a run.
MILLION_SEARCH_SECONDS = {(1, 6): 1.3, (1, 8): 8.3, (2, 6): 3.5, (2, 8): 19.5, (3, 6): 6.2, (3, 8): 36.4,
                          (9, 6): 38.5, (9, 8): 226.6}
SEARCH_BUDGET = 333.0
# The cuts at every place (slides.py): how many a picture has of each shape, in the mean over 500 of the selection
# set's originals (3:4 to 4:3), and the seconds cross_pairs took per million places against the whole and mirror of
# SHAPE_SHARE of a million pictures (200,000 hashes) within 4 bits (random hashes, 20M places: 7.6 s, 2026-12-02).
SLIDE_PLACES = {"a square": 6.2, "4:5": 10.0, "2:3": 17.9, "9:16": 26.8, "5:4": 10.4, "3:2": 18.5, "16:9": 27.4,
                "1.91:1": 31.8}
MILLION_SLIDE_SECONDS_PER_MILLION_PLACES = 0.38
# Share of the million pictures given margins, so that their content view is a hash of its own: twice the 2.6% of
# the selection set's originals that have them (a flat sky or backdrop at an edge).
FRAMED_SHARE = 0.05
# Share of the million pictures of each shape of inspect.SHAPES, so that their whole picture is searched against that
# shape's view of every picture: each such search is of about one hash per picture whatever the share.
SHAPE_SHARE = 0.1
# Twins (same_photo) are looked for in groups of up to this many members only: a loose rule chains many unrelated
# photos into one group, whose pairs are too many to check one by one (the sweep stalled on them).
TWIN_GROUP_LIMIT = 16
# The rule before this bench's sets: pHash <= 8 OR dHash <= 7, as is only, no verification, largest copy kept.
PREVIOUS = "phash<=8 OR dhash<=7 (previous default)"


@dataclass(frozen=True)
class Config:
    """One way of matching: pHash threshold, the views compared besides the whole picture, the verification."""

    threshold: int
    views: tuple[str, ...]
    similarity: float | None
    margin: int = 0
    view_similarity: float | None = None

    def options(self) -> DecideOptions:
        return DecideOptions(threshold=self.threshold, views=self.views, min_similarity=self.similarity,
                             view_margin=self.margin, view_similarity=self.view_similarity)

    @property
    def search_margin(self) -> int:
        return self.options().search_margin

    @property
    def ordered(self) -> tuple[str, ...]:
        """The whole picture and the views, in the order view_pairs takes them."""
        return ordered_views(self.views)

    @property
    def lossless(self) -> int:
        """How many of the ordered views are compared at the full threshold."""
        return sum(view in LOSSLESS_VIEWS for view in self.ordered)

    @property
    def probed(self) -> list[int]:
        """Positions in `ordered` of the views searched on their own (`decide.probes`)."""
        return [index for index, view in enumerate(self.ordered) if is_probed(view)]

    def searches(self) -> list[tuple[int, int]]:
        """(hashes per picture, threshold) of each near_pairs search view_pairs runs: a side is searched against the
        lossless views of every picture, a cut against those of the pictures of its shape (about one hash per
        picture)."""
        plain = len(self.ordered) - len(self.probed)
        narrowed = self.threshold - self.search_margin
        probed = [(1 + self.lossless if self.ordered[index] in SIDES else 1,
                   self.threshold - self.options().probe_margin) for index in self.probed]
        if self.lossless == plain or not self.search_margin:
            return [(plain, self.threshold), *probed]
        return [(plain, narrowed), (self.lossless, self.threshold), *probed]

    @property
    def slides(self) -> list[str]:
        """The shapes whose cut is searched at every place (decide.slide_families)."""
        return slide_families(self.options())

    def slide_seconds(self) -> float:
        """What searching the slides' places of a million pictures takes, by the measured cost per place."""
        return sum(SLIDE_PLACES[name] for name in self.slides) * MILLION_SLIDE_SECONDS_PER_MILLION_PLACES

    @property
    def fast(self) -> bool:
        seconds = [MILLION_SEARCH_SECONDS.get(search) for search in self.searches()]
        return None not in seconds and sum(seconds) + self.slide_seconds() <= SEARCH_BUDGET

    def __str__(self) -> str:
        views = "".join(f" +{view}" for view in self.views)
        cropped = self.lossless < len(self.ordered) and self.margin
        margin = f" (crops <={self.threshold - self.margin})" if cropped else ""
        if cropped and self.view_similarity is not None:
            margin = (f" (crops <={self.threshold - self.margin}, up to {self.threshold} at "
                      f"corr>={self.view_similarity:g})")
        check = f", corr>={self.similarity:g}" if self.similarity is not None else ""
        return f"phash<={self.threshold}{views}{margin}{check}"


def previous_options() -> DecideOptions:
    return DecideOptions(hash_kinds=("phash", "dhash"), match_any=True, threshold=(8, 7), views=(),
                         min_structure=float("-inf"))


# ---------------------------------------------------------------------------------------------------------------
# Scoring one outcome


@dataclass
class Outcome:
    """What one contender did to one set, in the issue's terms."""

    found: Counter = field(default_factory=Counter)  # kind -> true pairs inside one group
    truth: Counter = field(default_factory=Counter)  # kind -> true pairs
    false_pairs: int = 0
    twice_pairs: int = 0  # grouped pairs of one CIFAR-10 photo twice (same_photo): neither right nor wrong
    removed: int = 0
    removed_right: int = 0
    photos_lost: int = 0  # photos with no copy that were removed
    twice_removed: int = 0  # photos with no planted copy removed from a group holding the same CIFAR-10 photo
    odd_lost: int = 0
    leaks: int = 0  # cross-split true pairs with both files left
    leaks_found_left: int = 0  # of those, pairs the contender had grouped
    cross_split: int = 0
    conflicts_cleared: int = 0
    cross_class_found: int = 0
    cross_class: int = 0
    kept: Counter = field(default_factory=Counter)  # kind -> same-class pairs where only the original stays
    decided: Counter = field(default_factory=Counter)  # kind -> same-class pairs where exactly one stays
    kept_before: Counter = field(default_factory=Counter)  # kind -> pairs the previous rank would keep the original
    # kind -> the keep rule (decide.RANK_REASONS) each original lost on, in same-class pairs where its copy stayed
    lost_on: defaultdict = field(default_factory=lambda: defaultdict(Counter))
    previous_keep: bool = False  # report kept_before: the contender keeps copies by the previous rule

    def near(self) -> tuple[float, float, float]:
        """Pair precision, recall and F1 over near copies (exact copies left out)."""
        tp = sum(n for kind, n in self.found.items() if kind not in EXACT_KINDS)
        truth = sum(n for kind, n in self.truth.items() if kind not in EXACT_KINDS)
        precision, recall = safe(tp, tp + self.false_pairs), safe(tp, truth)
        return precision, recall, safe(2 * precision * recall, precision + recall)

    def recall(self, match: Callable[[str], bool]) -> tuple[int, int]:
        return (sum(n for k, n in self.found.items() if match(k)), sum(n for k, n in self.truth.items() if match(k)))

    @property
    def removal_precision(self) -> float:
        return safe(self.removed_right, self.removed)

    def worst_kept(self) -> tuple[float, str]:
        """The lowest share of pairs that kept their original, over the edited kinds (exact copies are no edit)."""
        kept = self.kept_before if self.previous_keep else self.kept
        shares = [(safe(kept[k], self.decided[k]), k) for k in self.decided if k not in EXACT_KINDS]
        return min(shares) if shares else (0.0, "-")


def safe(a: float, b: float) -> float:
    return a / b if b else 0.0


def share(counts: tuple[int, int]) -> float:
    return safe(*counts)


def old_rank_key(ins: Inspection, split: str) -> tuple:
    """The previous keep rule: most pixels, then largest file, then train over val."""
    return (-ins.width * ins.height, -ins.size, {"train": 0, "val": 1}.get(split, 2))


def score(qs: QualitySet, paths: list[str], inspections: list[Inspection], groups: Iterable[list[int]],
          removed: set[int]) -> Outcome:
    """The outcome of grouping `groups` and removing `removed` (indices into `paths`). Pairs of one CIFAR-10 photo
    twice (the set's own near duplicates, `same_photo`) are counted apart, as neither right nor wrong pairs, and
    removing one of them is right."""
    index = {path: k for k, path in enumerate(paths)}
    source = {index[path]: made_from for path, made_from in qs.sources.items()}
    out = Outcome()
    groups = list(groups)
    group_of: dict[int, int] = {}
    for number, members in enumerate(groups):
        for member in members:
            group_of[member] = number
    partners: set[int] = set()
    for pair in qs.pairs:
        a, b = index[pair.original], index[pair.copy]
        partners |= {a, b}
        split_a, class_a = pair.original.split("/")[:2]
        split_b, class_b = pair.copy.split("/")[:2]
        grouped = a in group_of and group_of.get(a) == group_of.get(b)
        out.truth[pair.kind] += 1
        out.found[pair.kind] += grouped
        left = a not in removed and b not in removed
        if split_a != split_b:
            out.cross_split += 1
            out.leaks += left
            out.leaks_found_left += left and grouped
        if class_a != class_b:
            out.cross_class += 1
            out.conflicts_cleared += a in removed and b in removed
            out.cross_class_found += grouped
            out.removed_right += (a in removed) + (b in removed)
        else:
            out.removed_right += (a in removed) or (b in removed)
            if (a in removed) != (b in removed):
                out.decided[pair.kind] += 1
                out.kept[pair.kind] += b in removed
                out.kept_before[pair.kind] += (old_rank_key(inspections[a], split_a)
                                               <= old_rank_key(inspections[b], split_b))
    planted = {frozenset((index[pair.original], index[pair.copy])) for pair in qs.pairs}

    def twice(a: int, b: int) -> bool:
        return one_photo(qs.extracted, source.get(a, ""), source.get(b, ""))

    out.false_pairs = sum(len(members) * (len(members) - 1) // 2 for members in groups) - sum(out.found.values())
    small = [members for members in groups if len(members) <= TWIN_GROUP_LIMIT]
    out.twice_pairs = sum(twice(a, b) for members in small for a, b in combinations(members, 2)
                          if {a, b} not in planted)
    out.false_pairs -= out.twice_pairs
    odd = {index[path] for path in qs.odd}
    lone = removed - partners - odd
    with_twin = {i for i in lone if i in group_of and len(groups[group_of[i]]) <= TWIN_GROUP_LIMIT
                 and any(twice(i, j) for j in groups[group_of[i]] if j != i)}
    out.removed = len(removed)
    out.removed_right += len(with_twin)
    out.odd_lost = len(removed & odd)
    out.photos_lost = len(lone - with_twin)
    out.twice_removed = len(with_twin)
    return out


@cache
def one_photo(extracted: Path, first: str, second: str) -> bool:
    """same_photo, remembered: the sweep asks about the same pairs for every rule."""
    return same_photo(extracted, first, second)


def items_of(paths: list[str], inspections: list[Inspection]) -> list[Item]:
    return [Item(Entry(path, *path.split("/")[:2]), ins) for path, ins in zip(paths, inspections, strict=True)]


def score_decisions(qs: QualitySet, paths: list[str], inspections: list[Inspection], decisions: Decisions
                    ) -> Outcome:
    groups = [[m.index for m in group.members] for group in decisions.groups]
    removed = {i for i, reason in decisions.reasons.items() if reason in ("duplicate", "label-conflict")}
    outcome = score(qs, paths, inspections, groups, removed)
    lost_on = {m.index: m.lost_on for group in decisions.groups for m in group.members if m.lost_on}
    index = {path: k for k, path in enumerate(paths)}
    for pair in qs.pairs:
        original, copy = index[pair.original], index[pair.copy]
        if original in lost_on and copy not in removed:
            outcome.lost_on[pair.kind][lost_on[original]] += 1
    return outcome


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
remove = hasher.find_duplicates_to_remove(encoding_map=encodings)
import imagededup
print(json.dumps({"version": imagededup.__version__, "encoded": sorted(encodings),
                  "duplicates": {k: sorted(v) for k, v in duplicates.items() if v}, "remove": sorted(remove),
                  "encode_s": encoded - start, "search_s": searched - encoded}))
"""


def inspect_files(files: list[Path], workers: int, desc: str) -> list[Inspection]:
    """Inspections for scoring: pHash and dHash (the previous default rule needs both)."""
    options = InspectOptions(hash_kinds=("phash", "dhash"))
    return timed_pool(_inspect, [(f, options) for f in files], workers, desc)[0]


def code_digest() -> str:
    """What the inspections of a set depend on: the code that makes them."""
    sources = [ROOT / "collector" / name for name in ("validate.py", "curate/inspect.py", "curate/rgb.py",
                                                       "curate/recompression.py", "curate/slides.py")]
    return hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:12]


def cached(path: Path, make: Callable[[], object]):  # type: ignore[no-untyped-def]
    """`make()`, kept in `path` for the next run (held-out sets only: the selection set is timed every run)."""
    if path.is_file():
        return pickle.loads(path.read_bytes())
    value = make()
    path.write_bytes(pickle.dumps(value))
    return value


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


def score_imagededup(qs: QualitySet, paths: list[str], inspections: list[Inspection], dedup: dict) -> Outcome:
    """imagededup's duplicates as groups (union-find) and its files to remove, by file name (unique in a set)."""
    index = {Path(p).name: k for k, p in enumerate(paths)}
    i, j = [], []
    for key, others in dedup["duplicates"].items():
        for other in others:
            if Path(key).name in index and Path(other).name in index:
                i.append(index[Path(key).name])
                j.append(index[Path(other).name])
    groups = union_groups(len(paths), np.array(i, dtype=np.int64), np.array(j, dtype=np.int64))
    removed = {index[Path(p).name] for p in dedup["remove"] if Path(p).name in index}
    return score(qs, paths, inspections, groups, removed)


def run_curate_cli(root: Path, workers: int) -> tuple[dict, float]:
    """The real `curate --dry-run --json` at its defaults: its report and its wall time."""
    command = [sys.executable, "-c", "from collector.curate.cli import curate; curate()", str(root), "--dry-run", "--json",
               "-q", "--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: curate failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout), seconds


# ---------------------------------------------------------------------------------------------------------------
# Report


def pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def ratio(pair: tuple[int, int]) -> str:
    return f"{pair[0]}/{pair[1]} = {pct(safe(*pair)).strip()}" if pair[1] else "-"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).rjust(w) if k else str(c).ljust(w) for k, (c, w) in
                        enumerate(zip(row, widths, strict=True))) for row in rows]
    return "\n".join(lines)


def is_mirror(kind: str) -> bool:
    return kind.startswith("mirror")


def is_crop10(kind: str) -> bool:
    return kind.startswith("crop-10")


def is_rotate5(kind: str) -> bool:
    return kind.startswith("rotate-5")


def summary_rows(outcomes: list[Outcome]) -> list[list[str]]:
    """The issue's table, one column per contender."""
    rows = [
        ["near-duplicate recall"] + [pct(o.near()[1]) for o in outcomes],
        ["near-duplicate pair precision"] + [pct(o.near()[0]) for o in outcomes],
        ["near-duplicate F1"] + [pct(o.near()[2]) for o in outcomes],
        ["removal precision"] + [pct(o.removal_precision) for o in outcomes],
        ["recall: mirrors"] + [ratio(o.recall(is_mirror)) for o in outcomes],
        ["recall: 10% crops"] + [ratio(o.recall(is_crop10)) for o in outcomes],
        ["recall: 5-degree rotations"] + [ratio(o.recall(is_rotate5)) for o in outcomes],
        ["valid odd files lost"] + [f"{o.odd_lost}" for o in outcomes],
        ["photos without a copy removed"] + [f"{o.photos_lost}" for o in outcomes],
        ["  besides: one CIFAR-10 photo twice, one removed"] + [f"{o.twice_removed}" for o in outcomes],
        ["pairs of one CIFAR-10 photo twice (not scored)"] + [f"{o.twice_pairs}" for o in outcomes],
        ["train/val leaks left (of cross-split pairs)"] + [f"{o.leaks} of {o.cross_split}" for o in outcomes],
        ["  of them among pairs found"] + [f"{o.leaks_found_left}" for o in outcomes],
        ["cross-class conflicts cleared (of pairs)"] + [f"{o.conflicts_cleared} of {o.cross_class}" for o in outcomes],
        ["  cross-class pairs found"] + [f"{o.cross_class_found}" for o in outcomes],
        ["original kept, worst edited kind"] + [f"{pct(o.worst_kept()[0]).strip()} ({o.worst_kept()[1]})"
                                                for o in outcomes],
    ]
    return rows


def kind_rows(outcomes: list[Outcome]) -> list[list[str]]:
    """Per kind: recall, and how often the original stays (now and with the previous keep rule) per contender; for
    the first, the keep rules the originals that left lost on (the two most frequent)."""
    kinds = sorted(outcomes[0].truth)
    return [[kind, str(outcomes[0].truth[kind])] + [
        f"R {pct(safe(o.found[kind], o.truth[kind]))} kept "
        f"{(o.kept_before if o.previous_keep else o.kept)[kind]}/{o.decided[kind]}"
        + (f" (previous keep rule {o.kept_before[kind]}/{o.decided[kind]}){lost_on_text(o.lost_on[kind])}"
           if n == 0 else "")
        for n, o in enumerate(outcomes)] for kind in kinds]


def lost_on_text(reasons: Counter) -> str:
    return "; lost on " + ", ".join(f"{reason} {count}" for reason, count in reasons.most_common(2)) if reasons else ""


def _crop_resistant(path: Path) -> imagehash.ImageMultiHash:
    with Image.open(path) as image:
        return imagehash.crop_resistant_hash(image.convert("RGB"))


def crop_resistant_table(qs: QualitySet, inspected: list[Inspection], paths: list[str], chosen: Config,
                         workers: int, sample: int) -> list[list[str]]:
    """imagehash's crop_resistant_hash at its defaults (a match: one region within 25% of its bits) on the crop,
    rotation and mirror pairs of a set and on `sample` pairs of different photos, beside the chosen rule."""
    hard = [pair for pair in qs.pairs if pair.kind.startswith(("crop", "rotate", "mirror"))]
    originals = sorted({pair.original for pair in qs.pairs} | (set(qs.photos) - {p.copy for p in qs.pairs}))
    rng = np.random.default_rng(0)
    strangers = [tuple(originals[k] for k in rng.choice(len(originals), 2, replace=False)) for _ in range(sample)]
    needed = sorted({p for pair in hard for p in (pair.original, pair.copy)} | {p for pair in strangers for p in pair})
    hashes, seconds = cached(qs.root.parent / f"crop-resistant-{sample}.pickle", partial(
        timed_pool, _crop_resistant, [qs.root / p for p in needed], workers, "crop_resistant_hash"))
    of = dict(zip(needed, hashes, strict=True))
    index = {path: k for k, path in enumerate(paths)}
    groups = decide(items_of(paths, inspected), chosen.options()).groups
    group_of = {m.index: g.id for g in groups for m in g.members}
    rows = []
    for kind in sorted({pair.kind for pair in hard}):
        pairs = [pair for pair in hard if pair.kind == kind]
        theirs = sum(of[p.original].matches(of[p.copy]) for p in pairs)
        ours = sum(group_of.get(index[p.original], -1) == group_of.get(index[p.copy], -2) for p in pairs)
        rows.append([kind, str(len(pairs)), pct(safe(theirs, len(pairs))), pct(safe(ours, len(pairs)))])
    theirs = sum(of[a].matches(of[b]) for a, b in strangers)
    ours = sum(group_of.get(index[a], -1) == group_of.get(index[b], -2) for a, b in strangers)
    rows.append(["different photos (false match)", str(sample), pct(safe(theirs, sample)), pct(safe(ours, sample))])
    rows.append(["images/s", "", f"{len(needed) / seconds:.0f}", "see speed table"])
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Speed


def timed(function: Callable, *args) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def group(values: np.ndarray, pictures: int, config: Config, probed: dict[int, Probe]
          ) -> tuple[int, list[list[int]]]:
    """What `decide` does with hashes: near pairs over every view of every picture, then union-find; `probed` maps
    each of `config.probed` to its `Probe`."""
    first, second = view_pairs({"phash": values}, pictures, (config.threshold,), view_margin=config.search_margin,
                               lossless=config.lossless, probes=probed)
    return len(first), union_groups(pictures, first % pictures, second % pictures)


def all_pairs(values: np.ndarray, pictures: int, config: Config, probed: dict[int, Probe], rows: int = 512
              ) -> int:
    """The baseline: every view against every later one, a block of rows at a time; pairs of two pictures, a probed
    view's only with a lossless view of a picture it fits."""
    found = 0
    owner = np.arange(len(values)) % pictures
    plain = (len(config.ordered) - len(probed)) * pictures
    lossless = config.lossless * pictures
    narrowed = config.threshold - config.search_margin
    for start in range(0, plain, rows):
        block = np.arange(start, min(start + rows, plain))
        full = (block[:, None] < lossless) & (np.arange(start, plain)[None, :] < lossless)
        near = np.bitwise_count(values[block, None] ^ values[None, start:plain]) <= np.where(full, config.threshold,
                                                                                               narrowed)
        near &= owner[block, None] != owner[None, start:plain]
        found += int(np.triu(near, 1).sum())
    for index, probe in probed.items():
        targets = (np.arange(config.lossless)[:, None] * pictures + np.flatnonzero(probe.fits)[None, :]).ravel()
        for start in range(0, pictures, rows):
            block = index * pictures + np.arange(start, min(start + rows, pictures))
            near = np.bitwise_count(values[block, None] ^ values[None, targets]) <= config.threshold - probe.margin
            found += int((near & (owner[block, None] != owner[None, targets])).sum())
    return found


def view_values(inspections: list[Inspection], config: Config) -> np.ndarray:
    return np.array([ins.hashes["phash"] if view == "whole" else ins.views[view]["phash"]
                     for view in config.ordered for ins in inspections], dtype=np.uint64)


def speed_set(args: argparse.Namespace, extracted: Path, config: Config, results: dict) -> None:
    jobs = speed_jobs(extracted, args.cache, args.speed_size)
    missing = [job for job in jobs if not job[1].exists()]
    if missing:
        with ProcessPoolExecutor(args.workers) as executor:
            for _ in tqdm(executor.map(speed_photo, missing, chunksize=64), total=len(missing), desc="speed set",
                          unit="img", file=sys.stderr):
                pass
    files = [job[1] for job in jobs]
    inspected, seconds = timed_pool(_inspect, [(f, InspectOptions()) for f in files], args.workers,
                                    "speed set inspect")
    rate = len(files) / seconds
    print(f"\n== Speed set: {len(files)} photos 128-400 px; grouping with {config} ==")
    print(f"curate inspect_image, {args.workers} processes: {len(files)} images in {seconds:.1f} s = {rate:.0f} "
          "images/s")
    results["speed_set"] = {"images": len(files), "seconds": seconds, "images_per_s": rate, "grouping": {}}
    rows = []
    for n in [int(s) for s in args.speed_steps.split(",") if int(s) <= len(files)]:
        values, probed = view_values(inspected[:n], config), probes(inspected[:n], config.ordered, config.options())
        (pairs, groups), ours = timed(group, values, n, config, probed)
        baseline_pairs, baseline = timed(all_pairs, values, n, config, probed)
        assert baseline_pairs == pairs, f"view_pairs found {pairs} pairs, all-pairs {baseline_pairs}"
        rows.append([str(n), str(pairs), str(len(groups)), f"{ours:.3f}", f"{baseline:.3f}", f"{baseline / ours:.1f}x"])
        results["speed_set"]["grouping"][n] = {"seconds": ours, "all_pairs_seconds": baseline, "pairs": pairs}
    print(table(["images", "view pairs", "groups", "view_pairs+union s", "all-pairs s", "speed-up"], rows))
    distinct_photos_removed(extracted, args.cache, jobs, inspected, config, results)


def distinct_photos_removed(extracted: Path, cache: Path, jobs: list[tuple[Path, Path, int]],
                            inspected: list[Inspection], config: Config, results: dict) -> None:
    """What the rule removes from the speed set, distinct photos without planted copies: chance matches grow with
    the square of a set's size, so a rule precise on 1,500 photos may not be on 20,000. A removal is counted as
    lost unless a member of its group is the same CIFAR-10 photo (`same_photo`)."""
    source = {target: made_from.relative_to(extracted).as_posix() for made_from, target, _ in jobs}
    paths = ["train/" + target.relative_to(cache / "speed").as_posix() for _, target, _ in jobs]
    decisions = decide(items_of(paths, inspected), config.options())
    targets = [target for _, target, _ in jobs]
    removed = lost = 0
    for found in decisions.groups:
        members = [m.index for m in found.members]
        for member in found.members:
            if member.reason:
                removed += 1
                small = len(members) <= TWIN_GROUP_LIMIT
                lost += not (small and any(one_photo(extracted, source[targets[member.index]], source[targets[k]])
                                           for k in members if k != member.index))
    print(f"\n{len(jobs):,} distinct photos (no planted copies), {config}: {len(decisions.groups)} groups, {removed} "
          f"photos removed, {lost} of them without the same CIFAR-10 photo in their group (or in a group over "
          f"{TWIN_GROUP_LIMIT})")
    results["speed_set"]["distinct"] = {"groups": len(decisions.groups), "removed": removed, "lost": lost}


def planted_hashes(n: int, config: Config, seed: int) -> tuple[np.ndarray, np.ndarray, dict[int, Probe]]:
    """n pictures of 1 + len(views) random view hashes, the content view the whole picture's hash again where a
    picture has no margins, SHAPE_SHARE of them of each shape; about 5% of them in clusters of 2-4 whose copies' whole
    hash is near one view of the first's (closer by the margin for a crop, by the full margin for a side; a copy near
    a shaped view is of its shape). Returns the view hashes, each picture's cluster (-1 for the random ones) and the
    `Probe` of each probed view."""
    rng = np.random.default_rng(seed)
    views = 1 + len(config.views)
    values = rng.integers(0, 2**64, size=(views, n), dtype=np.uint64)
    if CONTENT in config.ordered:
        unframed = rng.random(n) >= FRAMED_SHARE
        values[config.ordered.index(CONTENT), unframed] = values[0, unframed]
    fits = {index: np.ones(n, dtype=bool) if config.ordered[index] in SIDES else rng.random(n) < SHAPE_SHARE
            for index in config.probed}
    margins = dict.fromkeys(config.probed, config.options().probe_margin)
    cluster = np.full(n, -1, dtype=np.int64)
    position = 0
    for number in range(n // 20 // 3):
        size = int(rng.integers(2, 5))
        cluster[position:position + size] = number
        for k in range(1, size):
            view = int(rng.integers(0, views))
            margin = margins.get(view, config.search_margin if view >= config.lossless else 0)
            flips = rng.choice(64, size=int(rng.integers(0, config.threshold - margin + 1)), replace=False)
            values[0, position + k] = values[view, position] ^ np.uint64(sum(1 << int(b) for b in flips))
            if view in fits:
                fits[view][position + k] = True
        position += size
    order = rng.permutation(n)
    return values[:, order].ravel(), cluster[order], {
        index: Probe(mask[order], margins[index]) for index, mask in fits.items()}


def million(n: int, config: Config, seed: int, results: dict) -> None:
    values, cluster, probed = planted_hashes(n, config, seed)
    (pairs, groups), seconds = timed(group, values, n, config, probed)
    group_of = np.full(n, -1, dtype=np.int64)
    for number, members in enumerate(groups):
        group_of[members] = number
    planted = cluster >= 0
    clusters = int(cluster.max()) + 1
    split = np.unique(np.stack([cluster[planted], group_of[planted]]), axis=1)
    whole = bool(len(split[0]) == clusters and (split[1] >= 0).all())
    print(f"\n== {n:,} synthetic pictures ({1 + len(config.views)} view hashes each, {clusters:,} planted clusters of "
          f"2-4), {config} ==")
    print(f"view_pairs + union_groups: {seconds:.1f} s, {pairs:,} view pairs, {len(groups):,} groups, every planted "
          f"cluster whole: {whole}")
    slid, slide_found = slide_searches(n, config, seed)
    places = sum(SLIDE_PLACES[name] for name in config.slides)
    print(f"the cuts at every place ({', '.join(config.slides) or 'none'}; {places:.0f} a picture): {slid:.1f} s, "
          f"every planted cut found: {slide_found}; {seconds + slid:.1f} s in all")
    results["million"] = {"n": n, "config": str(config), "seconds": seconds, "pairs": pairs, "groups": len(groups),
                          "clusters_whole": whole, "slide_seconds": slid, "slides_found": slide_found}


def slide_searches(n: int, config: Config, seed: int, planted: int = 1000) -> tuple[float, bool]:
    """Seconds cross_pairs takes on each shape's places of n pictures (SLIDE_PLACES a picture, random hashes) against
    the whole and mirror of SHAPE_SHARE of them, `planted` places of each made near a whole; and whether all of
    those were found."""
    rng = np.random.default_rng(seed)
    threshold = config.threshold - SLIDE_MARGIN
    seconds, found = 0.0, True
    for name in config.slides:
        queries = rng.integers(0, 2**64, size=round(SLIDE_PLACES[name] * n), dtype=np.uint64)
        targets = rng.integers(0, 2**64, size=2 * round(SHAPE_SHARE * n), dtype=np.uint64)
        near = rng.choice(queries.size, size=planted, replace=False)
        matched = rng.integers(0, targets.size, size=planted)
        for query, target in zip(near.tolist(), matched.tolist(), strict=True):
            flips = rng.choice(64, size=int(rng.integers(0, threshold + 1)), replace=False)
            queries[query] = targets[target] ^ np.uint64(sum(1 << int(bit) for bit in flips))
        (first, second), took = timed(cross_pairs, queries, targets, threshold)
        seconds += took
        codes = set((first.astype(np.int64) * targets.size + second).tolist())
        found &= all(query * targets.size + target in codes for query, target in zip(near.tolist(), matched.tolist(),
                                                                                       strict=True))
    return seconds, found


# ---------------------------------------------------------------------------------------------------------------


def add_set_options(parser: argparse.ArgumentParser) -> None:
    """The options that say where the sets come from and how big they are, shared by the benches built on them."""
    parser.add_argument("--cifar", type=Path, default=CIFAR, help="cifar10-jpg.tar.gz")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "curate_bench",
                        help="where the extracted archive and generated sets are kept between runs")
    parser.add_argument("--originals", type=int, default=1500, help="photos in each quality set (before copies)")
    parser.add_argument("--odd-sets", type=int, default=3, help="sets of odd files and of bad files per quality set")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_set_options(parser)
    parser.add_argument("--selection-originals", type=int, default=4000,
                        help="photos in the selection set (the others have --originals): larger, because chance "
                             "matches between different photos grow with the square of a set's size, and the "
                             "verification is chosen on them")
    parser.add_argument("--speed-size", type=int, default=20_000, help="photos in the speed set (0: skip)")
    parser.add_argument("--speed-steps", default="5000,20000", help="sizes at which grouping is timed")
    parser.add_argument("--million", type=int, default=1_000_000, help="synthetic pictures to group (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="processes for hashing, as curate uses")
    parser.add_argument("--imagededup-python", type=Path, default=Path("/tmp/dedupvenv/bin/python"),
                        help="interpreter with imagededup installed (its column is skipped when absent)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "cpus": os.cpu_count()}
    extracted = extract_cifar(args.cifar, args.cache)
    sets = [build_quality_set(extracted, args.cache, recipe, args.originals if number else args.selection_originals,
                              args.odd_sets, seed)
            for number, (recipe, seed) in enumerate(SETS)]

    inspected: dict[str, tuple[list[str], list[Inspection]]] = {}
    speed_rows: list[list[str]] = []
    dedups: dict[str, dict | str] = {}
    for number, qs in enumerate(sets):
        paths = qs.photos + qs.odd + sorted(qs.bad)
        files = [qs.root / p for p in paths]
        if number == 0:
            timings = timed_rounds({"curate": (_inspect, [(f, InspectOptions()) for f in files]),
                                    "tutorial": (_tutorial_phash, files)}, args.workers)
            seconds = timings["curate"][1]
            speed_rows = [[f"curate inspect_image ({1 + len(VIEWS)} views, digest, quality)",
                           f"{len(files) / seconds:.0f}", "1.00"],
                          ["tutorial imagehash.phash(Image.open(p))", f"{len(files) / timings['tutorial'][1]:.0f}",
                           f"{seconds / timings['tutorial'][1]:.2f}"]]
        inspections = cached(qs.root.parent / f"inspections-{code_digest()}.pickle", partial(
            inspect_files, files, args.workers, qs.name))
        inspected[qs.name] = (paths, inspections)
        dedups[qs.name] = cached(qs.root.parent / "imagededup.pickle", partial(
            run_imagededup, args.imagededup_python, qs.root, args.workers))
        dedup = dedups[qs.name]
        if number == 0 and isinstance(dedup, dict):
            speed_rows.append([f"imagededup {dedup['version']} PHash encode_images",
                               f"{len(files) / dedup['encode_s']:.0f}", f"{seconds / dedup['encode_s']:.2f}"])
        rejected = [p for p, ins in zip(paths, inspections, strict=True) if not ins.ok and p not in qs.bad]
        if rejected:
            print(f"warning: {qs.name}: {len(rejected)} valid files rejected, e.g. {rejected[:3]}")

    # Selection on the first set.
    selection = sets[0]
    paths, inspections = inspected[selection.name]
    items = items_of(paths, inspections)
    configs = [Config(t, views, s, m, v) for views in VIEW_CHOICES for t in THRESHOLDS for s in SIMILARITIES
               for m in MARGINS for v in VIEW_SIMILARITIES
               if (set(views) - LOSSLESS_VIEWS or not m) and (v is None or (m and s is not None and v > s))]
    scored = [(config, score_decisions(selection, paths, inspections, decide(items, config.options())))
              for config in tqdm(configs, desc="sweep", unit="rule", file=sys.stderr)]
    eligible = [(c, o) for c, o in scored if o.removal_precision >= MIN_REMOVAL_PRECISION and o.odd_lost == 0
                and share(o.recall(is_mirror)) >= MIN_MIRROR_RECALL and share(o.recall(is_crop10)) >= MIN_CROP_RECALL
                and c.fast] or [(c, o) for c, o in scored if c.fast]
    chosen, _ = min(eligible, key=lambda co: (co[1].photos_lost, -round(co[1].near()[2], 4), co[0].threshold))
    print(table(["option", "pair P", "recall", "F1", "removal P", "odd lost", "photos lost"],
                [[str(c), pct(o.near()[0]), pct(o.near()[1]), pct(o.near()[2]), pct(o.removal_precision),
                  str(o.odd_lost), str(o.photos_lost)] for c, o in sorted(scored, key=lambda co: -co[1].near()[2])]))
    print(f"\n== Options side by side on the selection set {selection.name} ({len(selection.pairs)} copies): best "
          f"near F1 per option with removal precision >= {MIN_REMOVAL_PRECISION:.0%} and no odd file lost, fewest "
          "photos lost first ==")
    rows = []
    for views in VIEW_CHOICES:
        for verified in (False, True):
            fits = [(c, o) for c, o in scored if c.views == views and (c.similarity is not None) == verified
                    and o.removal_precision >= MIN_REMOVAL_PRECISION and o.odd_lost == 0]
            for fast in (True, False):
                pool = [(c, o) for c, o in fits if c.fast == fast]
                if pool:
                    c, o = min(pool, key=lambda co: (co[1].photos_lost, -round(co[1].near()[2], 4)))
                    p, r, f1 = o.near()
                    rows.append([str(c), "fast" if fast else "slow", pct(p), pct(r), pct(f1), pct(o.removal_precision),
                                 str(o.photos_lost), ratio(o.recall(is_mirror)), ratio(o.recall(is_crop10)),
                                 ratio(o.recall(is_rotate5))])
    print(table(["option", "1M search", "pair P", "recall", "F1", "removal P", "photos lost", "mirrors", "10% crops",
                 "5° rot"], rows))
    print(f"\nchosen on {selection.name}: {chosen}")
    results["chosen"] = str(chosen)
    default = CurateOptions()
    matches_default = (default.hash, default.thresholds, default.views, default.min_similarity,
                       default.view_margin, default.view_similarity) == (
        "phash", (chosen.threshold,), chosen.views, chosen.similarity, chosen.margin if chosen.views else 0,
        chosen.view_similarity)
    print(f"curate's defaults are this rule: {matches_default}")

    print(f"\n== imagehash crop_resistant_hash (defaults) vs the chosen rule on {selection.name}: share of pairs "
          "matched; it is a list of region hashes, so no Hamming index finds its pairs: all pairs are compared ==")
    print(table(["kind", "pairs", "crop_resistant_hash", f"curate {chosen}"],
                crop_resistant_table(selection, inspections, paths, chosen, args.workers, 300)))

    # Held-out sets.
    results["held_out"] = {}
    for qs in sets[1:]:
        paths, inspections = inspected[qs.name]
        items = items_of(paths, inspections)
        names = [f"curate {chosen}", PREVIOUS]
        outcomes = [score_decisions(qs, paths, inspections, decide(items, chosen.options())),
                    score_decisions(qs, paths, inspections, decide(items, previous_options()))]
        outcomes[1].previous_keep = True
        dedup = dedups[qs.name]
        if isinstance(dedup, dict):
            names.append(f"imagededup {dedup['version']} PHash defaults")
            outcomes.append(score_imagededup(qs, paths, inspections, dedup))
        else:
            print(f"imagededup column skipped: {dedup}")
        print(f"\n== Held-out set {qs.name}: {len(qs.photos)} photos, {len(qs.pairs)} copies, {len(qs.odd)} odd "
              f"files, {len(qs.bad)} bad files; rule chosen on {selection.name} ==")
        print(table(["", *names], summary_rows(outcomes)))
        print("\nper kind (recall R; kept: same-class pairs where the original stayed / pairs where one copy stayed; "
              "the previous keep rule, most pixels then largest file, shown on the same pairs; lost on: the keep "
              "rule the originals that left lost on):")
        print(table(["kind", "pairs", *names], kind_rows(outcomes)))
        results["held_out"][qs.name] = {name: {"near_prf": o.near(), "removal_precision": o.removal_precision,
                                               "odd_lost": o.odd_lost, "photos_lost": o.photos_lost,
                                               "twice_removed": o.twice_removed, "twice_pairs": o.twice_pairs,
                                               "leaks": o.leaks, "cross_split": o.cross_split,
                                               "conflicts_cleared": o.conflicts_cleared, "cross_class": o.cross_class,
                                               "worst_kept": o.worst_kept(), "found": dict(o.found),
                                               "truth": dict(o.truth), "kept": dict(o.kept),
                                               "decided": dict(o.decided)}
                                        for name, o in zip(names, outcomes, strict=True)}

    # The real command on the last held-out set finds the very groups decide scored.
    last = sets[-1]
    report, cli_seconds = run_curate_cli(last.root, args.workers)
    paths, inspections = inspected[last.name]
    expected = decide(items_of(paths, inspections), CurateOptions().decide_options())
    same = sorted(sorted(m["path"] for m in g["members"]) for g in report["groups"]) == sorted(
        sorted(paths[m.index] for m in g.members) for g in expected.groups)
    print(f"\ncurate --dry-run on {last.name}: {cli_seconds:.1f} s end to end, same groups as scored: {same}")

    bad_rows = []
    for qs in sets:
        paths, inspections = inspected[qs.name]
        reasons = dict(zip(paths, (ins.reason for ins in inspections), strict=True))
        right = sum(reasons[p] == reason for p, reason in qs.bad.items())
        bad_rows.append([qs.name, str(len(qs.bad)), f"{sum(reasons[p] is not None for p in qs.bad)}", str(right)])
    print("\n== Bad files: rejected by inspect_image, and for the right reason ==")
    print(table(["set", "files", "rejected", "right reason"], bad_rows))
    print(f"\n== Inspection speed on {selection.name} ({args.workers} processes; curate and tutorial in alternating "
          "rounds, imagededup after them; shared machine, noisy: compare the ratios) ==")
    print(table(["hasher", "images/s", "vs curate"], speed_rows))
    results["inspection_speed"] = {row[0]: float(row[1]) for row in speed_rows}
    if args.speed_size:
        speed_set(args, extracted, chosen, results)
    if args.million:
        million(args.million, chosen, 0, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
