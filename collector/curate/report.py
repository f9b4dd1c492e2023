"""What a curate run found and did, as typed records: what `curate()` returns, what the table and the HTML page
show, and (through `to_json`) what `curate_report.json` and `--json` hold, key for key."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import now
from .audit.judge import AUDIT_REASONS
from .decide import Decisions, Item
from .inspect import QualityThresholds
from .layout import Entry
from .options import CurateOptions

if TYPE_CHECKING:  # the audit's records build on Located, defined here
    from .audit.records import AuditReport

VERSION = 1
# A field with this metadata is written under another JSON key (`class` is a Python keyword).
CLASS_KEY = {"json": "class"}
# A field with this metadata is not part of the JSON: what one call did besides its report.
NOT_IN_JSON = {"json": None}

# Reasons whose files the report lists in their own sections (duplicate groups, the audit), not under `rejected`.
FOUND_IN_GROUPS_OR_AUDIT = ("duplicate", "label-conflict", *AUDIT_REASONS)

Counts = dict[str, dict[str, int]]  # split ("" in a flat layout) -> class -> images


@dataclass(frozen=True)
class Located:
    """Where a file of the dataset is: its path relative to ROOT, its split ("" in a flat layout) and class."""

    path: str
    split: str
    class_name: str = field(metadata=CLASS_KEY)


@dataclass(frozen=True)
class Rejected(Located):
    """A file that is not a usable image, or a quality-flagged one under `reject_quality`."""

    reason: str
    detail: str
    moved_to: str | None  # where it went (in a dry run: would go) in the quarantine


@dataclass(frozen=True)
class GroupMember(Located):
    width: int
    height: int
    size: int  # bytes
    distance: int  # Hamming bits to the kept (or best) member on the first hash kind, 0 for identical pixels
    match: str | None  # how it matches that member: identical, as is, mirrored, cropped, ... (decide.relation)
    lost_on: str | None  # why the kept member was preferred (less detail, larger file, ...); None when none was kept
    kept: bool
    moved_to: str | None


@dataclass(frozen=True)
class DuplicateGroup:
    id: int
    kind: str  # exact (every member has the same pixels) or near
    label_conflict: bool  # the group spans classes
    leakage: bool  # the group spanned splits before curation
    members: tuple[GroupMember, ...]


@dataclass(frozen=True)
class Flagged(Located):
    """An accepted image that looks poor (dark, blurry...); reported, moved only under `reject_quality`."""

    flags: tuple[str, ...]
    metrics: dict[str, float]
    moved_to: str | None


@dataclass(frozen=True)
class Normalized:
    """A kept image re-encoded by `normalize`: `output` takes its place, the original goes to `moved_to`."""

    path: str
    output: str
    format: str
    moved_to: str


@dataclass(frozen=True)
class Settings:
    hash: str
    threshold: tuple[int, ...]  # one per hash kind
    views: tuple[str, ...]
    view_margin: int
    view_similarity: float | None
    min_similarity: float | None
    min_side: int
    max_aspect: float
    keep_conflicts: bool
    reject_quality: bool
    normalize: bool
    quality: QualityThresholds


@dataclass(frozen=True)
class CountsBeforeAfter:
    before: Counts
    after: Counts


@dataclass(frozen=True)
class Totals:
    scanned: int
    accepted: int
    rejected: int
    duplicates_removed: int
    conflicts_removed: int
    flagged: int
    normalized: int


@dataclass(frozen=True)
class CurateReport:
    """One curate run. `to_json()` is the content of `curate_report.json`; the last three fields are not in it."""

    version: int
    root: Path
    dry_run: bool
    finished_at: str
    seconds: float
    settings: Settings
    counts: CountsBeforeAfter
    rejected: tuple[Rejected, ...]
    groups: tuple[DuplicateGroup, ...]
    leakage_pairs_fixed: int
    label_conflicts: int
    flags: tuple[Flagged, ...]
    normalized: tuple[Normalized, ...]
    totals: Totals
    audit: AuditReport | None = None  # with --audit: what the model-assisted pass found
    recovered: int = field(default=0, metadata=NOT_IN_JSON)  # moves of an interrupted run, rolled back first
    pending_rollback: int = field(default=0, metadata=NOT_IN_JSON)  # dry run: interrupted runs left to roll back
    written: tuple[Path, ...] = field(default=(), metadata=NOT_IN_JSON)  # the report files (none in a dry run)

    def to_json(self) -> dict:
        return to_json(self)


def to_json(value: object) -> Any:
    """Dataclasses as dicts (keys renamed or dropped as their fields' metadata says), tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.metadata.get("json", f.name): to_json(getattr(value, f.name))
                for f in dataclasses.fields(value) if f.metadata.get("json", f.name) is not None}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def build_report(root: Path, options: CurateOptions, items: Sequence[Item], decisions: Decisions,
                 moved_to: dict[str, str], normalized: Sequence[Normalized], seconds: float,
                 relabelled: dict[int, str] | None = None) -> CurateReport:
    """The report of a run that judged `items` as `decisions` says and moved files as `moved_to` says
    (source -> quarantine path); `relabelled` images (index -> class) count under their new class after."""
    entries = [item.entry for item in items]
    rejected = tuple(
        Rejected(*_where(entries[i]), reason=reason, detail=_detail(items[i], reason),
                 moved_to=moved_to.get(entries[i].path))
        for i, reason in sorted(decisions.reasons.items()) if reason not in FOUND_IN_GROUPS_OR_AUDIT
    )
    groups = tuple(
        DuplicateGroup(group.id, group.kind, group.label_conflict, group.leakage, tuple(
            GroupMember(*_where(entries[m.index]), width=items[m.index].inspection.width,
                        height=items[m.index].inspection.height, size=items[m.index].inspection.size,
                        distance=m.distance, match=m.match, lost_on=m.lost_on, kept=m.kept,
                        moved_to=moved_to.get(entries[m.index].path))
            for m in group.members))
        for group in decisions.groups
    )
    flags = tuple(
        Flagged(*_where(entries[i]), flags=tuple(found), metrics=items[i].inspection.metrics,
                moved_to=moved_to.get(entries[i].path))
        for i, found in sorted(decisions.flags.items())
    )
    reasons = Counter(decisions.reasons.values())
    return CurateReport(
        version=VERSION,
        root=root,
        dry_run=options.dry_run,
        finished_at=now().replace("+00:00", "Z"),
        seconds=round(seconds, 3),
        settings=Settings(hash=options.hash, threshold=options.thresholds, views=options.views,
                          view_margin=options.view_margin, view_similarity=options.view_similarity,
                          min_similarity=options.min_similarity,
                          min_side=options.min_side,
                          max_aspect=options.max_aspect, keep_conflicts=options.keep_conflicts,
                          reject_quality=options.reject_quality, normalize=options.normalize,
                          quality=options.quality),
        counts=CountsBeforeAfter(before=_counts(entries),
                                 after=_counts(_relabelled(e, (relabelled or {}).get(i))
                                               for i, e in enumerate(entries) if i not in decisions.reasons)),
        rejected=rejected,
        groups=groups,
        leakage_pairs_fixed=decisions.leakage_pairs_fixed,
        label_conflicts=decisions.label_conflicts,
        flags=flags,
        normalized=tuple(normalized),
        totals=Totals(scanned=len(items), accepted=len(items) - len(decisions.reasons), rejected=len(rejected),
                      duplicates_removed=reasons["duplicate"], conflicts_removed=reasons["label-conflict"],
                      flagged=len(flags), normalized=len(normalized)),
    )


def _relabelled(entry: Entry, new_class: str | None) -> Entry:
    return entry if new_class is None else dataclasses.replace(entry, class_name=new_class)


def _where(entry: Entry) -> tuple[str, str, str]:
    return entry.path, entry.split, entry.class_name


def _detail(item: Item, reason: str) -> str:
    ins = item.inspection
    if ins.detail:
        return ins.detail
    metrics = ", ".join(f"{name} {value:.1f}" for name, value in sorted(ins.metrics.items()))
    return f"flagged {reason.removeprefix('quality-')}: {metrics}"


def _counts(entries: Iterable[Entry]) -> Counts:
    counts: dict[str, Counter[str]] = {}
    for entry in entries:
        counts.setdefault(entry.split, Counter())[entry.class_name] += 1
    return {split: dict(sorted(per_class.items())) for split, per_class in sorted(counts.items())}
