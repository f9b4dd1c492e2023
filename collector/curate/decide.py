"""What happens to each file, decided from the inspections alone: no disk, so every rule is tested in isolation.

Rules, in order: broken files leave for their reason; with `reject_quality`, poor images leave as `quality-<flag>`;
the rest are grouped (same decoded pixels, or perceptual hashes within the threshold, joined by union-find).
In each group the best member stays; the others leave as `duplicate`. A group spanning classes is a label
conflict and leaves whole (`label-conflict`) unless `keep_conflicts`, which keeps the best of each class but
only in the split of the group's best member, so no near pair is ever left across splits (leakage).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .inspect import Inspection
from .layout import Entry
from .neighbours import near_pairs, union_groups

QUALITY_FLAGS = ("dark", "bright", "blurry", "low-information", "grayscale", "odd-size")
# Keeping the larger file of two copies is the first concern; among equals, train keeps its copy over val.
SPLIT_PREFERENCE = {"train": 3, "": 3, "val": 2, "test": 1}
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
    pairs = similar_pairs([items[i].inspection for i in candidates], options.hash_kinds, options.thresholds(),
                          match_any=options.match_any)
    local_groups = union_groups(len(candidates), pairs[0], pairs[1])
    for number, local in enumerate(local_groups, start=1):
        group = decide_group(number, [candidates[k] for k in local], items, options)
        decisions.groups.append(group)
        for member in group.members:
            if member.reason:
                decisions.reasons[member.index] = member.reason
    decisions.leakage_pairs_fixed = count_leakage_fixed(items, candidates, pairs, decisions.reasons)
    return decisions


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


def similar_pairs(
    inspections: Sequence[Inspection], hash_kinds: tuple[str, ...], thresholds: tuple[int, ...], *,
    match_any: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of duplicates: same pixels, or within the threshold on every hash kind (on any one with
    `match_any`).

    AND searches on the kind with the smallest threshold (fewest candidates) and filters with the others;
    OR searches every kind and merges the pairs.
    """
    n = len(inspections)
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    values = {kind: np.array([ins.hashes[kind] for ins in inspections], dtype=np.uint64) for kind in hash_kinds}
    if match_any:
        found = [near_pairs(values[kind], threshold)[:2] for kind, threshold in zip(hash_kinds, thresholds,
                                                                                        strict=True)]
        keys = np.unique(np.concatenate([a.astype(np.int64) * n + b.astype(np.int64) for a, b in found]))
        i, j = keys // n, keys % n
    else:
        order = sorted(range(len(hash_kinds)), key=lambda k: thresholds[k])
        i, j, _ = near_pairs(values[hash_kinds[order[0]]], thresholds[order[0]])
        i, j = i.astype(np.int64), j.astype(np.int64)
        for k in order[1:]:
            close = np.bitwise_count(values[hash_kinds[k]][i] ^ values[hash_kinds[k]][j]) <= thresholds[k]
            i, j = i[close], j[close]
    exact_i, exact_j = same_pixel_pairs(inspections)
    known = set(zip(i.tolist(), j.tolist(), strict=True))
    extra = [(a, b) for a, b in zip(exact_i, exact_j, strict=True) if (a, b) not in known]
    if extra:
        i = np.concatenate([i, np.array([a for a, _ in extra], dtype=np.int64)])
        j = np.concatenate([j, np.array([b for _, b in extra], dtype=np.int64)])
    return i, j


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


def rank(item: Item) -> tuple:
    """Sort key of the best copy: highest resolution, then largest file, then train over val, then path order."""
    ins = item.inspection
    return (-ins.width * ins.height, -ins.size, -SPLIT_PREFERENCE.get(item.entry.split, 0), item.entry.path)


def decide_group(number: int, indices: list[int], items: Sequence[Item], options: DecideOptions) -> Group:
    ordered = sorted(indices, key=lambda k: rank(items[k]))
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
    reference = items[best].inspection
    members = tuple(
        Member(k, distance(reference, items[k].inspection, options.hash_kinds[0]), k in keep,
               None if k in keep else leave_reason)
        for k in ordered
    )
    kind = "exact" if len(digests) == 1 else "near"
    return Group(number, kind, conflict, len(splits) > 1, members)


def distance(a: Inspection, b: Inspection, kind: str) -> int:
    if a.pixel_digest is not None and a.pixel_digest == b.pixel_digest:
        return 0
    return (a.hashes[kind] ^ b.hashes[kind]).bit_count()


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
