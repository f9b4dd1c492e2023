"""What happens to each file, decided from the inspections alone: no disk, so every rule is tested in isolation.

Rules, in order: broken files leave for their reason; with `reject_quality`, poor images leave as `quality-<flag>`;
the rest are grouped (same decoded pixels, or perceptual hashes within the threshold, joined by union-find). Hashes
are compared across views (as is, mirrored, the centre, the corners and the middle of each side, the mirrored
centre, the picture inside its margins, the cuts feeds, prints and previews make: 1:1, 4:5, 2:3, 9:16, 5:4, 3:2,
16:9 and 1.91:1, at a few named places and, within 4 bits less, at every place along the picture: `slide_pairs`),
so a mirrored, slightly rotated, cropped, framed, captioned or feed-cut copy is found; a pair must then look alike
on small grey copies of the matched views (`min_similarity`; a pair through a crop or the margins at the edge of the
threshold, `view_similarity`), and a picture with no structure to hash (`min_structure`) matches only by its pixels.
In each group the least-edited member stays; the others leave as `duplicate`, each only as a direct match of a
member that stays (`stars`: a member that merely chains to it stays too). A group spanning classes is a label
conflict and leaves whole (`label-conflict`) unless `keep_conflicts`, which keeps the best of each class but only in
the split of the group's best member, so no near pair is ever left across splits (leakage).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from operator import itemgetter

import numpy as np

from .inspect import CONTENT, LOSSLESS_VIEWS, MIRROR_OF, SIDES, VIEWS, WHOLE, Inspection
from .layout import Entry
from .neighbours import cross_pairs, near_pairs, union_groups
from .slides import FAMILIES, SHAPES, THUMBNAIL_SIDE, Shape

QUALITY_FLAGS = ("dark", "bright", "blurry", "low-information", "grayscale", "odd-size")
# Among otherwise equal copies, train keeps its copy over val.
SPLIT_PREFERENCE = {"train": 3, "": 3, "val": 2, "test": 1}
# Grey-level spread under which a picture's hash is noise. Measured: the least spread of 5,000 CIFAR-10 photos is
# 6.8 (so 2.0 keeps them even at 30% exposure); the bench's flat, white, blank-scan and near-black 16-bit files
# measure 0.0, its dark frames (12% exposure) 5.2-6.5.
MIN_STRUCTURE = 2.0
# Colourfulness under which a copy counts as grey (QualityThresholds.grayscale): a grey copy of a colour photo is
# an edit, the reverse is not.
GREY_COLOUR = 0.02
# Recompression traces (recompression.py) over which a JPEG counts as edited from an earlier JPEG: just above the
# highest of 937 originals (CIFAR-10 photos upscaled, JPEG 90) of the selection set, where they measured at most
# 0.0095 and 16.9; 53% of mirrored and 16-29% of brightened copies made from those files cross them.
MIRROR_TRACE = 0.01
SCALING_TRACE = 17.0
# Bits closer than the pHash threshold a cut at one of its places (slides.py) must come to the whole of a picture
# of its shape. A copy cut anywhere lies within half a step of a place: on the shapes and bands sets (where the
# places were tried), 96.5-98.5% of the cuts came within 4 bits of one, 99.6-99.9% within 6; but 2 million places
# against 200,000 wholes took cross_pairs 15.5 s within 6 bits against 2.9 s within 4, and a million pictures have
# 149 million places (bench/curate_bench.py: 62 s within 4).
SLIDE_MARGIN = 4
# Groups larger than this (a placeholder picture saved thousands of times) skip the all-pairs centrality.
CENTRALITY_LIMIT = 64
# Detail compared in steps of this many octaves (a factor of 1.19): finer differences are noise between equals.
DETAIL_STEP = 0.25
# Grayscale only stands out in a colour dataset: when at least this share of images is grayscale, none is flagged.
GRAYSCALE_DATASET_SHARE = 0.5


@dataclass(frozen=True)
class Item:
    entry: Entry
    inspection: Inspection


@dataclass(frozen=True)
class DecideOptions:
    hash_kinds: tuple[str, ...] = ("phash",)
    match_any: bool = False  # with several kinds: near on any one (OR) instead of on every one (AND)
    threshold: int | tuple[int, ...] = 8  # Hamming bits: one for every kind, or one per kind
    keep_conflicts: bool = False
    reject_quality: bool = False
    views: tuple[str, ...] = VIEWS  # views compared besides the whole picture
    view_margin: int = 0  # bits closer than the threshold a pair must be when it involves another view...
    view_similarity: float | None = None  # ...unless its small grey copies correlate this much (None: no unless)
    min_similarity: float | None = None  # correlation of the small grey copies a hash match must also reach
    min_structure: float = MIN_STRUCTURE  # below this grey-level spread, only identical pixels match

    @property
    def search_margin(self) -> int:
        """How many bits closer than the threshold a pair through another view must be to be searched at all: none
        when `view_similarity` lets the pairs beyond `view_margin` in after a stricter check."""
        return 0 if self.view_similarity is not None else self.view_margin

    @property
    def probe_margin(self) -> int:
        """How many bits closer than the threshold a probed view (a side or a cut) must match: the view margin, even
        where `view_similarity` lets the crops further, since at the full threshold a cut's search costs a million
        pictures 14 s against 2.4 s within 2 bits less, a side's 36 s against 6, about 4.5 minutes more for all
        seventeen."""
        return self.view_margin

    def thresholds(self) -> tuple[int, ...]:
        """One threshold per kind, in the order of `hash_kinds`; a single value stands for every kind."""
        given = (self.threshold,) if isinstance(self.threshold, int) else tuple(self.threshold)
        return given * len(self.hash_kinds) if len(given) == 1 else given


@dataclass(frozen=True)
class Member:
    index: int
    distance: int  # Hamming distance to the kept (or best) member, 0 for identical pixels
    kept: bool
    reason: str | None  # why it leaves: duplicate or label-conflict; None when kept
    match: str | None  # how it matches the kept (or best) member (see `relation`); None for that member
    lost_on: str | None  # why it ranked below the kept member (RANK_REASONS); None when kept or in a label conflict


@dataclass(frozen=True)
class Group:
    id: int
    kind: str  # exact (every member has the same pixels) or near
    label_conflict: bool
    leakage: bool  # the group spanned splits before curation
    members: tuple[Member, ...]


@dataclass
class Decisions:
    reasons: dict[int, str] = field(default_factory=dict)  # index -> quarantine reason, for every file that leaves
    groups: list[Group] = field(default_factory=list)
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)  # index -> flags of accepted images
    leakage_pairs_fixed: int = 0

    @property
    def label_conflicts(self) -> int:
        return sum(group.label_conflict for group in self.groups)


def decide(items: Sequence[Item], options: DecideOptions) -> Decisions:
    """Every file's fate under the rules in this module's docstring; indices refer to `items`."""
    decisions = Decisions()
    accepted = [i for i, item in enumerate(items) if item.inspection.ok]
    for i, item in enumerate(items):
        if item.inspection.reason is not None:
            decisions.reasons[i] = item.inspection.reason
    decisions.flags = effective_flags(items, accepted)
    if options.reject_quality:
        for i, flags in decisions.flags.items():
            quality = [flag for flag in flags if flag in QUALITY_FLAGS]
            if quality:
                decisions.reasons[i] = f"quality-{quality[0]}"
    candidates = [i for i in accepted if i not in decisions.reasons]
    pairs = similar_pairs([items[i].inspection for i in candidates], options)
    decisions.groups = pair_groups(candidates, *pairs, items, options)
    for group in decisions.groups:
        for member in group.members:
            if member.reason:
                decisions.reasons[member.index] = member.reason
    decisions.leakage_pairs_fixed = count_leakage_fixed(items, candidates, pairs, decisions.reasons)
    return decisions


def pair_groups(indices: Sequence[int], first: np.ndarray, second: np.ndarray, items: Sequence[Item],
                options: DecideOptions) -> list[Group]:
    """The groups that the pairs (`indices[first[k]]`, `indices[second[k]]`) join, numbered from 1: connected
    pictures, split around the members that stay (`stars`). With `keep_conflicts` a group spanning classes stays
    whole: it keeps a member per class, and split, one of those could match a member that stays in another part."""
    near: dict[int, set[int]] = defaultdict(set)
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        near[indices[a]].add(indices[b])
        near[indices[b]].add(indices[a])

    def matched(a: int, b: int) -> bool:
        return b in near[a] or items[a].inspection.pixel_digest == items[b].inspection.pixel_digest

    groups: list[Group] = []
    for local in union_groups(len(indices), first, second):
        members = [indices[k] for k in local]
        keys = rank_keys(members, items, options)
        ordered = sorted(members, key=keys.__getitem__)
        whole = options.keep_conflicts and len({items[k].entry.class_name for k in members}) > 1
        for part in [ordered] if whole else stars(ordered, matched):
            if len(part) > 1:  # a lone part matched only members that left with another: nothing to decide
                groups.append(decide_group(len(groups) + 1, part, items, options, keys))
    return groups


def effective_flags(items: Sequence[Item], accepted: list[int]) -> dict[int, tuple[str, ...]]:
    """Each accepted image's flags, without `grayscale` when the dataset is mostly grayscale (MNIST, X-rays)."""
    grey = sum("grayscale" in items[i].inspection.flags for i in accepted)
    colour_dataset = grey < GRAYSCALE_DATASET_SHARE * len(accepted)
    flags = {}
    for i in accepted:
        kept = tuple(f for f in items[i].inspection.flags if colour_dataset or f != "grayscale")
        if kept:
            flags[i] = kept
    return flags


def similar_pairs(inspections: Sequence[Inspection], options: DecideOptions) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i < j, of duplicates: same pixels, or near on the hashes of some pair of their views and
    alike on their small grey copies.

    Every view of every picture with structure is one hash; near pairs among them are searched at once, and a pair
    of two views of the same picture is dropped. With several kinds, AND searches on the kind with the smallest
    threshold and checks the others on the same views; OR merges every kind's pairs. A pair through a crop or the
    margins more than `threshold - view_margin` bits apart is a weaker match: with `view_similarity` it must look
    more alike, without it it is not searched at all (several times faster on a million pictures). The side views
    and the cuts are searched apart, each against the whole pictures it may match (`probes`).
    """
    hashed = np.array([k for k, ins in enumerate(inspections) if has_structure(ins, options)], dtype=np.int64)
    pictures = [inspections[k] for k in hashed]
    views = ordered_views(options.views)
    values = {kind: np.array([view_hash(ins, view, kind) for view in views for ins in pictures], dtype=np.uint64)
              for kind in options.hash_kinds}
    lossless = sum(view in LOSSLESS_VIEWS for view in views)
    widened = options.search_margin < options.view_margin
    first, second = view_pairs(values, len(hashed), options.thresholds(), match_any=options.match_any,
                               view_margin=options.search_margin, lossless=lossless,
                               probes=probes(pictures, views, options))
    if first.size and (options.min_similarity is not None or widened):
        needed = np.full(len(first), -np.inf if options.min_similarity is None else options.min_similarity)
        if widened:
            edge = _edge_pairs(values, first, second, len(hashed) * lossless, options)
            needed[edge] = np.maximum(needed[edge], options.view_similarity)
        thumbs = view_thumbnails(pictures, views)
        alike = np.einsum("ij,ij->i", thumbs[first], thumbs[second]) >= needed
        first, second = first[alike], second[alike]
    m = max(len(hashed), 1)
    slid_a, slid_b = slide_pairs(pictures, options)
    a = np.concatenate([hashed[first % m], hashed[slid_a]])
    b = np.concatenate([hashed[second % m], hashed[slid_b]])
    keys = np.unique(np.minimum(a, b) * len(inspections) + np.maximum(a, b))
    exact_i, exact_j = same_pixel_pairs(inspections)
    n = max(len(inspections), 1)
    exact = np.array(exact_i, dtype=np.int64) * n + np.array(exact_j, dtype=np.int64)
    keys = np.union1d(keys, exact)
    return keys // n, keys % n


def slide_families(options: DecideOptions) -> list[str]:
    """The shapes (names of slides.FAMILIES) whose cut is searched at every place: those with a named view among
    `options.views`, when the pHash decides a match (alone, or as one of kinds joined by OR)."""
    kinds = options.hash_kinds
    if "phash" not in kinds or (len(kinds) > 1 and not options.match_any):
        return []
    return shape_names(options.views)


def shape_names(views: Sequence[str]) -> list[str]:
    """The shapes (names of slides.FAMILIES) that have a named view among `views`, in their order."""
    return list(dict.fromkeys(SHAPES[view].name for view in views if view in SHAPES))


def slide_pairs(inspections: Sequence[Inspection], options: DecideOptions) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) pairs, as indices into `inspections`, of a cut of picture i at some place near the whole picture j (as
    is, or mirrored with the mirror view) of its shape: within the pHash threshold less SLIDE_MARGIN bits, and with
    `min_similarity` their small grey copies alike."""
    found_a, found_b = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    families = slide_families(options)
    if not families or len(inspections) < 2:
        return found_a[0], found_b[0]
    threshold = options.thresholds()[options.hash_kinds.index("phash")] - SLIDE_MARGIN
    mirrored = "mirror" in options.views
    for name in families:
        fits = np.flatnonzero(of_shape(inspections, FAMILIES[name]))
        if not fits.size:
            continue
        owners, places, values = _places(inspections, name)
        targets = [np.array([inspections[k].hashes["phash"] for k in fits], dtype=np.uint64)]
        if mirrored:
            targets.append(np.array([inspections[k].views["mirror"]["phash"] for k in fits], dtype=np.uint64))
        query, target = cross_pairs(values, np.concatenate(targets), max(0, threshold))
        a, b, flipped = owners[query], fits[target % fits.size], target >= fits.size
        apart = a != b
        a, b, flipped, place = a[apart], b[apart], flipped[apart], places[query][apart]
        if options.min_similarity is not None and a.size:
            alike = _slide_similarity(inspections, name, a, place, b, flipped) >= options.min_similarity
            a, b = a[alike], b[alike]
        found_a.append(a)
        found_b.append(b)
    return np.concatenate(found_a), np.concatenate(found_b)


def _places(inspections: Sequence[Inspection], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every place of the named cut on every picture: its picture, its number there, its pHash."""
    values = [ins.slides.values(name) if ins.slides else np.empty(0, dtype=np.uint64) for ins in inspections]
    counts = np.array([len(v) for v in values], dtype=np.int64)
    owners = np.repeat(np.arange(len(inspections)), counts)
    places = np.arange(owners.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return owners, places, np.concatenate(values) if values else np.empty(0, dtype=np.uint64)


def _slide_similarity(inspections: Sequence[Inspection], name: str, owners: np.ndarray, places: np.ndarray,
                      others: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """The correlation of each place's small grey copy with the whole picture it matched (flipped where mirrored)."""
    cuts = np.empty((owners.size, THUMBNAIL_SIDE, THUMBNAIL_SIDE), dtype=np.float32)
    for owner in np.unique(owners):
        here = np.flatnonzero(owners == owner)
        cuts[here] = inspections[owner].slides.thumbnails(name, places[here])
    wholes = np.array([np.frombuffer(inspections[k].thumbnails[WHOLE], np.uint8) for k in others.tolist()],
                      dtype=np.float32).reshape(-1, THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    wholes[flipped] = wholes[flipped][:, :, ::-1]
    return np.einsum("ij,ij->i", _unit_rows(cuts.reshape(owners.size, -1)), _unit_rows(wholes.reshape(owners.size, -1)))


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row less its mean, scaled to length 1: the dot product of two is their correlation."""
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)


def ordered_views(views: Sequence[str]) -> tuple[str, ...]:
    """The whole picture, then the other lossless views, then the rest, the probed views (sides, cuts) last: the
    order `view_pairs` takes them in."""
    return (WHOLE, *sorted(views, key=lambda view: (is_probed(view), view not in LOSSLESS_VIEWS)))


def is_probed(view: str) -> bool:
    """Whether a view is compared only with the whole picture (as is or mirrored) of other pictures."""
    return view in SIDES or view in SHAPES


@dataclass(frozen=True)
class Probe:
    """A view searched on its own: only against the lossless views of the pictures in `fits`, within `margin` bits
    less than the thresholds."""

    fits: np.ndarray
    margin: int


def probes(inspections: Sequence[Inspection], views: Sequence[str], options: DecideOptions) -> dict[int, Probe]:
    """Each probed view's position in `views` (ordered as `ordered_views` orders them) to its `Probe`."""
    return {index: Probe(fitting(inspections, view), options.probe_margin)
            for index, view in enumerate(views) if is_probed(view)}


def fitting(inspections: Sequence[Inspection], view: str) -> np.ndarray:
    """Which pictures a probed view may match the whole of: every picture for a side, those of its shape for a cut."""
    return np.ones(len(inspections), dtype=bool) if view in SIDES else of_shape(inspections, SHAPES[view])


def of_shape(inspections: Sequence[Inspection], shape: Shape) -> np.ndarray:
    """Which pictures are of `shape`: their width over height within its tolerance of its aspect, either way, give or
    take a pixel of their shorter side (a small cut's sides are rounded)."""
    width = np.array([ins.width for ins in inspections], dtype=np.float64)
    height = np.array([ins.height for ins in inspections], dtype=np.float64)
    slack = math.log(shape.tolerance) + 1 / np.minimum(width, height)
    return np.abs(np.log(width / height) - math.log(shape.aspect)) <= slack


def has_structure(inspection: Inspection, options: DecideOptions) -> bool:
    """Whether a picture's hashes say anything about it (see MIN_STRUCTURE)."""
    return inspection.metrics.get("structure", 0.0) >= options.min_structure


def _edge_pairs(values: dict[str, np.ndarray], first: np.ndarray, second: np.ndarray, lossless_end: int,
                options: DecideOptions) -> np.ndarray:
    """Which pairs involve a view past the lossless ones (positions from `lossless_end` on) and are not within
    `view_margin` bits less than the thresholds (on every kind; on any one with `match_any`)."""
    close = [np.bitwise_count(values[kind][first] ^ values[kind][second]) <= max(0, t - options.view_margin)
             for kind, t in zip(options.hash_kinds, options.thresholds(), strict=True)]
    within = np.logical_or.reduce(close) if options.match_any else np.logical_and.reduce(close)
    return ((first >= lossless_end) | (second >= lossless_end)) & ~within


def view_pairs(values: dict[str, np.ndarray], pictures: int, thresholds: tuple[int, ...], *,
               match_any: bool = False, view_margin: int = 0, lossless: int = 1,
               probes: Mapping[int, Probe] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Near pairs of positions view * pictures + k in `values` (one array per hash kind, the whole pictures first,
    then each other view), each of two different pictures; thresholds in the order of `values`.

    With `view_margin`, a pair involving a view past the first `lossless` ones (the whole picture, its mirror) must
    be that many bits closer: the search over every view then runs at a smaller threshold, which is several times
    faster on a million pictures, while a mirrored copy is matched exactly as an unflipped one. A view in `probes`
    (its index, after every other view, to its `Probe`) is compared only with the lossless views of the pictures it
    fits, in a search of its own: not one more view in the search of all against all.
    """
    empty = np.empty(0, dtype=np.int64)
    if pictures < 2:
        return empty, empty
    probes = probes or {}
    size = len(next(iter(values.values())))
    together = size - len(probes) * pictures  # the positions searched all against all
    plain = {kind: v[:together] for kind, v in values.items()}
    narrowed = tuple(max(0, t - view_margin) for t in thresholds)
    if together > lossless * pictures and view_margin:
        found = [_near(plain, narrowed, match_any),
                 _near({kind: v[:lossless * pictures] for kind, v in values.items()}, thresholds, match_any)]
    else:
        found = [_near(plain, thresholds, match_any)]
    found += [_probe_near(values, pictures, index, np.flatnonzero(probe.fits), lossless,
                          tuple(max(0, t - probe.margin) for t in thresholds), match_any)
              for index, probe in probes.items()]
    codes = np.unique(np.concatenate([first * size + second for first, second in found]))
    first, second = codes // size, codes % size
    apart = first % pictures != second % pictures
    return first[apart], second[apart]


def _probe_near(values: dict[str, np.ndarray], pictures: int, index: int, fitting: np.ndarray, lossless: int,
                thresholds: tuple[int, ...], match_any: bool) -> tuple[np.ndarray, np.ndarray]:
    """Near positions (view `index` of a picture, a lossless view of a picture in `fitting`)."""
    if not fitting.size:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    probed = index * pictures + np.arange(pictures)
    whole = (np.arange(lossless)[:, None] * pictures + fitting[None, :]).ravel()
    positions = np.concatenate([probed, whole])
    first, second = _near({kind: v[positions] for kind, v in values.items()}, thresholds, match_any)
    first, second = positions[first], positions[second]
    across = (first < index * pictures) != (second < index * pictures)
    return first[across], second[across]


def _near(values: dict[str, np.ndarray], thresholds: tuple[int, ...], match_any: bool
          ) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j) near on every kind (on any one with `match_any`): AND searches on the kind with the smallest
    threshold and checks the others; OR merges every kind's pairs."""
    kinds = tuple(values)
    if match_any:
        found = [near_pairs(values[kind], t)[:2] for kind, t in zip(kinds, thresholds, strict=True)]
        size = len(values[kinds[0]])
        codes = np.unique(np.concatenate([a.astype(np.int64) * size + b for a, b in found]))
        return codes // size, codes % size
    order = sorted(range(len(kinds)), key=lambda k: thresholds[k])
    first, second, _ = near_pairs(values[kinds[order[0]]], thresholds[order[0]])
    first, second = first.astype(np.int64), second.astype(np.int64)
    for k in order[1:]:
        close = np.bitwise_count(values[kinds[k]][first] ^ values[kinds[k]][second]) <= thresholds[k]
        first, second = first[close], second[close]
    return first, second


def view_hash(inspection: Inspection, view: str, kind: str) -> int:
    return inspection.hashes[kind] if view == WHOLE else inspection.views[view][kind]


def view_thumbnails(inspections: Sequence[Inspection], views: tuple[str, ...]) -> np.ndarray:
    """One row per (view, picture), in the order `similar_pairs` hashes them: the grey copy less its mean, scaled
    to length 1, so that a dot product is the correlation of two views. A mirrored view's copy is its source's
    flipped."""

    def grey(view: str) -> np.ndarray:
        source = MIRROR_OF.get(view, view)
        copies = np.array([np.frombuffer(ins.thumbnails[source], np.uint8) for ins in inspections], np.float32)
        copies = copies.reshape(-1, THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        return copies[:, :, ::-1] if view in MIRROR_OF else copies

    return _unit_rows(np.concatenate([grey(view).reshape(len(inspections), -1) for view in views]))


def same_pixel_pairs(inspections: Sequence[Inspection]) -> tuple[list[int], list[int]]:
    """(first, other) index pairs of images whose decoded pixels are identical: one star per digest suffices."""
    by_digest: dict[str, list[int]] = defaultdict(list)
    for k, ins in enumerate(inspections):
        if ins.pixel_digest:
            by_digest[ins.pixel_digest].append(k)
    left, right = [], []
    for members in by_digest.values():
        for other in members[1:]:
            left.append(members[0])
            right.append(other)
    return left, right


# Why a member ranks below another, by the first key of `rank` where they differ (in its order); least central:
# furthest, in summed Hamming distance, from the other members.
RANK_REASONS = ("least central", "grey", "neutral margin", "recompression traces", "less detail",
                "fewer pixels", "coarser JPEG", "larger file", "split order", "path order")


def rank(item: Item, centrality: int = 0) -> tuple:
    """Sort key of the least-edited copy: closest to the rest of its group, then in colour over a grey copy, then
    without a neutral margin over with (a frame, bars or a caption was added), then fewest recompression traces,
    then most detail, then most pixels inside the margins (a crop has fewer), then finest JPEG steps, then smallest
    file (with all of those equal, extra bytes are an overlay: text, a filled corner), then train over val, then
    path order.

    The traces (recompression.py) tell a JPEG edited from a decoded JPEG and saved again: mirrored (an earlier grid
    at another phase) or with its tones scaled (brightness, contrast: earlier steps scaled). They come before detail,
    which differs between such copies by noise. Their thresholds lie just above the highest value among the 937
    originals of bench/curate_keep_original.py's selection set, so a file compressed once is almost never taken
    for a copy; a mirror or tone edit of an uncompressed source leaves no trace, and then size decides by chance.
    """
    ins = item.inspection
    colourless = ins.metrics.get("colour", 1.0) < GREY_COLOUR
    return (centrality, colourless, framed(ins), edit_traces(ins), -detail_level(ins), -content_pixels(ins),
            ins.metrics.get("jpeg_step", 0.0), ins.size, -SPLIT_PREFERENCE.get(item.entry.split, 0), item.entry.path)


def edit_traces(inspection: Inspection) -> int:
    """How many recompression traces (a mirrored earlier grid, scaled earlier steps) are over their thresholds."""
    metrics = inspection.metrics
    return (metrics.get("mirror_trace", 0.0) > MIRROR_TRACE) + (metrics.get("scaling_trace", 0.0) > SCALING_TRACE)


def framed(inspection: Inspection) -> bool:
    """Whether the picture has a white, grey or black margin (see `inspect.Margin`), as an added frame, bars or a
    caption bar make. A photo has one only where its own edge is a flat pale sky or backdrop (54 of the 2,667
    originals of the selection set), and then its copies mostly keep it too."""
    return inspection.metrics.get("frame", 0.0) > 0


def content_pixels(inspection: Inspection) -> int:
    """Pixels inside the picture's uniform margins: a frame added to a copy adds pixels, not picture."""
    return round(inspection.width * inspection.height * inspection.metrics.get("content", 1.0))


def detail_level(inspection: Inspection) -> int:
    """Content pixels weighted by how much of its finest octave a picture holds (see `inspect.measure_detail`), in
    steps of DETAIL_STEP octaves so that equal copies tie: an upscale has more pixels, not more detail, and each
    edit smooths the finest octave of the copy it makes."""
    weighted = content_pixels(inspection) * inspection.metrics.get("detail", 1.0)
    return round(math.log2(max(weighted, 1.0)) / DETAIL_STEP)


def rank_keys(indices: list[int], items: Sequence[Item], options: DecideOptions) -> dict[int, tuple]:
    """`rank` of each member of a group, its centrality summed over the whole group (see CENTRALITY_LIMIT)."""
    kind = options.hash_kinds[0]
    views = (WHOLE, *options.views)
    centrality = dict.fromkeys(indices, 0)
    if len(indices) <= CENTRALITY_LIMIT:
        for a, b in combinations(indices, 2):  # distance is symmetric: each pair once
            apart = distance(items[a].inspection, items[b].inspection, kind, views)
            centrality[a] += apart
            centrality[b] += apart
    return {k: rank(items[k], centrality[k]) for k in indices}


def stars(ordered: list[int], matched: Callable[[int, int], bool]) -> list[list[int]]:
    """A group, best member first, split around the members that stay: each member goes with the first staying
    member it matches directly, or stays. So nothing leaves for a chain of resemblances alone (a copy of a copy of
    ...: among 20,000 distinct photos, chains joined 75 photos, mostly different airliners on grass, and 53 small
    planes and birds against the sky into one label conflict), and no two staying members match."""
    parts: list[list[int]] = []
    for k in ordered:
        part = next((part for part in parts if matched(k, part[0])), None)
        if part is None:
            parts.append([k])
        else:
            part.append(k)
    return parts


def decide_group(number: int, ordered: list[int], items: Sequence[Item], options: DecideOptions,
                 keys: dict[int, tuple]) -> Group:
    """The group of `ordered`, best first by its `keys` (`rank_keys`): one member stays, or none in a label
    conflict, or the best of each class with `keep_conflicts`."""
    kind = options.hash_kinds[0]
    views = (WHOLE, *options.views)
    best = ordered[0]
    classes = {items[k].entry.class_name for k in ordered}
    splits = {items[k].entry.split for k in ordered}
    conflict = len(classes) > 1
    if conflict and not options.keep_conflicts:
        keep: set[int] = set()
    elif conflict:
        best_split = items[best].entry.split
        keep = set()
        for name in sorted(classes):
            same = [k for k in ordered if items[k].entry.class_name == name and items[k].entry.split == best_split]
            if same:
                keep.add(same[0])
    else:
        keep = {best}
    leave_reason = "label-conflict" if conflict and not options.keep_conflicts else "duplicate"
    digests = {items[k].inspection.pixel_digest for k in ordered}
    to_best = {k: closest(items[best].inspection, items[k].inspection, kind, views) for k in ordered}
    members = tuple(Member(k, to_best[k][0], k in keep, None if k in keep else leave_reason,
                           None if k == best else to_best[k][1],
                           None if conflict or k in keep else lost_on(keys[k], keys[best])) for k in ordered)
    group_kind = "exact" if len(digests) == 1 else "near"
    return Group(number, group_kind, conflict, len(splits) > 1, members)


def lost_on(loser: tuple, winner: tuple) -> str:
    """The RANK_REASONS entry of the first `rank` key on which `loser` comes after `winner`."""
    return next(reason for reason, mine, theirs in zip(RANK_REASONS, loser, winner, strict=True) if mine != theirs)


def distance(a: Inspection, b: Inspection, kind: str, views: tuple[str, ...] = (WHOLE,)) -> int:
    """Hamming distance of the closest pair of views that matching compares (`closest`), 0 for identical pixels."""
    return closest(a, b, kind, views)[0]


def closest(a: Inspection, b: Inspection, kind: str, views: tuple[str, ...] = (WHOLE,)) -> tuple[int, str]:
    """Hamming distance of the closest pair of views of `a` and `b` that matching compares (a side only with the
    whole picture or its mirror, a cut only with those of a picture of its shape), and how that pair relates them
    (`relation`); of equally close pairs, the first in `views` order (the whole picture first); (0, "identical") for
    identical pixels."""
    if a.pixel_digest is not None and a.pixel_digest == b.pixel_digest:
        return 0, "identical"
    fits = {view: fitting([a, b], view).tolist() for view in views if is_probed(view)}

    def compared(x: str, y: str) -> bool:
        if x in fits:
            return y in LOSSLESS_VIEWS and fits[x][1]
        return y not in fits or (x in LOSSLESS_VIEWS and fits[y][0])

    bits, first, second = min((((view_hash(a, x, kind) ^ view_hash(b, y, kind)).bit_count(), x, y)
                               for x in views for y in views if compared(x, y)), key=itemgetter(0))
    slid = closest_place(a, b, kind, views)
    return slid if slid is not None and slid[0] < bits else (bits, relation(first, second))


def closest_place(a: Inspection, b: Inspection, kind: str, views: tuple[str, ...]) -> tuple[int, str] | None:
    """The Hamming distance of the closest cut at a place (slides.py) of one picture to the whole of the other (as
    is, or mirrored with the mirror view), and the relation it makes ("cut to 9:16", "mirrored, cut to 9:16"); None
    without any."""
    if kind != "phash":
        return None
    found = []
    for name in shape_names(views):
        for cut, other in ((a, b), (b, a)):
            if cut.slides is None or not of_shape([other], FAMILIES[name])[0]:
                continue
            places = cut.slides.values(name)
            wholes = [("", other.hashes[kind])] + ([("mirrored, ", other.views["mirror"][kind])]
                                                   if "mirror" in views else [])
            found += [(int(np.bitwise_count(places ^ np.uint64(value)).min()), f"{how}cut to {name}")
                      for how, value in wholes if places.size]
    return min(found, key=itemgetter(0)) if found else None


def relation(first: str, second: str) -> str:
    """How a view of one picture matching a view of another relates the two, in the report's words: "as is",
    "mirrored", "cropped" (through a crop view: a crop, a small rotation), "inside margins" (a frame, bars or a
    caption around one of them), "cut to a square" (or to 4:5, 1.91:1 and the others of SHAPES: a feed's cut), or
    "mirrored, cropped" and the like. A mirror matching a mirror is "as is"."""
    sources = {MIRROR_OF.get(first, first), MIRROR_OF.get(second, second)}
    how = ["mirrored"] if (first in MIRROR_OF) != (second in MIRROR_OF) else []
    cut = next((SHAPES[view].name for view in (first, second) if view in SHAPES), None)
    if CONTENT in sources:
        how.append("inside margins")
    elif cut:
        how.append(f"cut to {cut}")
    elif sources != {WHOLE}:
        how.append("cropped")
    return ", ".join(how) or "as is"


def count_leakage_fixed(
    items: Sequence[Item], candidates: list[int], pairs: tuple[np.ndarray, np.ndarray], reasons: dict[int, str],
) -> int:
    """Duplicate pairs that spanned two splits and no longer do because one side left."""
    fixed = 0
    for a, b in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        first, second = candidates[a], candidates[b]
        if items[first].entry.split != items[second].entry.split and (first in reasons or second in reasons):
            fixed += 1
    return fixed
