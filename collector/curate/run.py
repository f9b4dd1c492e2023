"""The `curate` pipeline: scan, inspect in a process pool, decide, move through the journal, record, report."""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from tqdm import tqdm

from ..errors import CollectorError
from .decide import VIEWS, DecideOptions, Decisions, Item, decide
from .html import render_report
from .inspect import HASHERS, Inspection, InspectOptions, QualityThresholds, inspect_image
from .journal import (
    STAGING,
    Journal,
    Operation,
    RowChange,
    UndoResult,
    clear_staging,
    interrupted_runs,
    quarantine_path,
    sha256_file,
    unused_name,
)
from .layout import Entry, LayoutError, check_root, scan
from .normalize import Encoded, normalize_image, output_path
from .provenance import ManifestRows, manifest_path, moved_row, replaced_row

REPORT_JSON = "curate_report.json"
REPORT_HTML = "curate_report.html"
# Chosen by bench/curate_bench.py on one set of 1,500 CIFAR-10 photos with 1,000 edited copies, confirmed on two
# held-out sets: pHash within 8 bits (6 through the mirrored or centre view), small grey copies correlated at 0.5 or
# more. Held out: recall 88.2% and 79.1%, pair precision 99.2% and 99.5%, removal precision 99.8% and 99.9%, no
# valid file lost (imagededup's PHash default: recall 80.8% and 54.5%, removal precision 96.9% and 96.4%).
DEFAULT_HASH = "phash"
DEFAULT_THRESHOLD = 8
DEFAULT_MIN_SIMILARITY = 0.5
DEFAULT_VIEW_MARGIN = 2


class CurateError(CollectorError):
    """The run cannot start or finish: bad options, or a ROOT that is not a usable dataset."""


@dataclass(frozen=True)
class CurateOptions:
    """Every setting of a curate run; the defaults are the command's."""

    min_side: int = 32
    max_aspect: float = 5.0
    hash: str = DEFAULT_HASH  # one of HASHERS; several joined by + (near on every one) or by , (near on any one)
    threshold: int | tuple[int, ...] = DEFAULT_THRESHOLD  # one for every hash kind, or one per kind
    views: tuple[str, ...] = VIEWS  # views compared besides the whole picture: mirror, centre
    view_margin: int = DEFAULT_VIEW_MARGIN  # bits closer than the threshold a pair involving another view must be
    min_similarity: float | None = DEFAULT_MIN_SIMILARITY  # correlation of small grey copies a match must reach
    keep_conflicts: bool = False
    reject_quality: bool = False
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    normalize: bool = False
    dry_run: bool = False
    workers: int | None = None  # processes that inspect files; None: one per CPU
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.hash_kinds if kind not in HASHERS]
        if unknown or not self.hash_kinds or ("+" in self.hash and "," in self.hash):
            raise CurateError(f"unknown hash {self.hash!r}; choose from {', '.join(HASHERS)}, or join them with + "
                              "(near on every kind) or with , (near on any kind)")
        thresholds = self.thresholds
        if len(thresholds) != len(self.hash_kinds) or not all(0 <= t <= 64 for t in thresholds):
            raise CurateError(f"threshold must be 0 to 64 bits, one value or one per hash kind, got {self.threshold}")
        if self.min_side < 1 or self.max_aspect < 1:
            raise CurateError("min side must be at least 1 px and max aspect at least 1")
        if self.workers is not None and self.workers < 1:
            raise CurateError("workers must be at least 1")

    @property
    def hash_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in self.hash.replace(",", "+").split("+") if kind)

    def inspect_options(self) -> InspectOptions:
        return InspectOptions(min_side=self.min_side, max_aspect=self.max_aspect, hash_kinds=self.hash_kinds,
                              quality=self.quality)

    @property
    def thresholds(self) -> tuple[int, ...]:
        """One Hamming threshold per hash kind, in the order of `hash_kinds`."""
        given = (self.threshold,) if isinstance(self.threshold, int) else tuple(self.threshold)
        return given * len(self.hash_kinds) if len(given) == 1 else given

    def decide_options(self) -> DecideOptions:
        return DecideOptions(hash_kinds=self.hash_kinds, match_any="," in self.hash, threshold=self.thresholds,
                             keep_conflicts=self.keep_conflicts, reject_quality=self.reject_quality,
                             views=self.views, view_margin=self.view_margin, min_similarity=self.min_similarity)


@dataclass
class CurateResult:
    report: dict
    recovered: int = 0  # files an interrupted earlier run had moved, put back before this run
    pending_rollback: int = 0  # dry run: interrupted runs the next real run will roll back first
    written: tuple[Path, ...] = ()  # report files written (none in a dry run)

    def to_json(self) -> dict:
        return self.report


def curate(root: Path | str, options: CurateOptions | None = None, **overrides: object) -> CurateResult:
    """Curate the dataset at `root`, as `curate ROOT` does; keyword arguments override CurateOptions fields."""
    options = options or CurateOptions()
    if overrides:
        options = replace(options, **overrides)  # type: ignore[arg-type]
    root = Path(root)
    started = time.monotonic()
    try:
        check_root(root)
        return _curate(root.resolve(), options, started)
    except LayoutError as error:
        raise CurateError(str(error)) from error


def _curate(root: Path, options: CurateOptions, started: float) -> CurateResult:
    manifest_file = manifest_path(root)
    manifest = ManifestRows(manifest_file, read_only=options.dry_run) if manifest_file else None
    journal = Journal(root) if not options.dry_run and Journal.exists(root) else None
    try:
        recovered = journal.recover(manifest) if journal else 0
        pending = interrupted_runs(root) if options.dry_run else 0
        entries = scan(root)
        if not entries:
            raise CurateError(f"no images under {root}: expected {root}/train/<class>/... or {root}/<class>/...")
        inspections = inspect_all(root, entries, options.inspect_options(), options.workers, options.progress)
        items = [Item(entry, ins) for entry, ins in zip(entries, inspections, strict=True)]
        decisions = decide(items, options.decide_options())
        plan = Plan(root)
        for index, reason in sorted(decisions.reasons.items()):
            plan.quarantine(entries[index].path, reason)
        if not options.dry_run:
            clear_staging(root)
        if options.normalize:
            kept = [item for i, item in enumerate(items) if i not in decisions.reasons]
            for item, encoded in normalize_all(root, kept, options.progress):
                plan.normalize(item.entry.path, encoded, stage=not options.dry_run)
        if manifest is not None:
            plan.attach_rows(manifest)
        run_id = None
        if not options.dry_run and plan.operations:
            journal = journal or Journal(root)
            run_id = execute(plan, journal, manifest, options.progress)
        report = build_report(root, options, items, decisions, plan, time.monotonic() - started)
        written = () if options.dry_run else write_reports(root, report)
        if journal is not None and run_id is not None:
            journal.note_reports(run_id, {path.name: sha256_file(path) for path in written})
        return CurateResult(report, recovered, pending, written)
    finally:
        if journal is not None:
            journal.close()
        if manifest is not None:
            manifest.close()


def execute(plan: Plan, journal: Journal, manifest: ManifestRows | None, progress: bool) -> int:
    """Record the plan durably, then move (new files are already staged): the order that makes a crash recoverable."""
    run_id = journal.record(plan.operations)
    with tqdm(total=len(plan.operations), desc="moving", unit="file", disable=not progress, leave=False) as bar:
        journal.apply(run_id, plan.operations, manifest, on_done=lambda: bar.update(1))
    return run_id


def undo(root: Path | str) -> UndoResult:
    """Put back everything the last curate run moved (or the interrupted run's moves), and its manifest rows."""
    root = Path(root)
    try:
        check_root(root)
    except LayoutError as error:
        raise CurateError(str(error)) from error
    root = root.resolve()
    if not Journal.exists(root):
        return UndoResult(None)
    manifest_file = manifest_path(root)
    manifest = ManifestRows(manifest_file) if manifest_file else None
    journal = Journal(root)
    try:
        return journal.undo_last(manifest)
    finally:
        journal.close()
        if manifest is not None:
            manifest.close()


def inspect_all(root: Path, entries: Sequence[Entry], options: InspectOptions, workers: int | None,
                progress: bool) -> list[Inspection]:
    """Inspect every file, in a pool of processes when more than one is allowed (decoding is CPU-bound)."""
    paths = [root / entry.path for entry in entries]
    workers = min(workers or usable_cpus(), len(paths))
    job = partial(inspect_image, options=options)
    with tqdm(total=len(paths), desc="inspecting", unit="img", disable=not progress, leave=False) as bar:
        if workers <= 1:
            return [_tick(bar, job(path)) for path in paths]
        chunk = max(1, min(64, len(paths) // (workers * 8)))
        # A Pool, not a ProcessPoolExecutor: leaving the block terminates the workers at once, so Ctrl-C does not
        # wait for every queued file. The workers are born ignoring SIGINT and leave it to this process.
        with _sigint_ignored():
            pool = multiprocessing.Pool(workers)
        with pool:
            return [_tick(bar, result) for result in pool.imap(job, paths, chunksize=chunk)]


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while child processes are forked, so they inherit that; only the main thread may do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def usable_cpus() -> int:
    """CPUs this process may run on (a container or taskset can allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _tick(bar: tqdm, result: Inspection) -> Inspection:
    bar.update(1)
    return result


def normalize_all(root: Path, items: Sequence[Item], progress: bool) -> Iterable[tuple[Item, Encoded]]:
    """Re-encoded bytes for the kept images that need them; one Pillow cannot re-encode (rare modes) stays as is."""
    for item in tqdm(items, desc="normalizing", unit="img", disable=not progress, leave=False):
        try:
            encoded = normalize_image(root / item.entry.path, item.entry.path)
        except (OSError, ValueError, SyntaxError):
            continue
        if encoded is not None:
            yield item, encoded


@dataclass(frozen=True)
class Replacement:
    """What a re-encoded file will be, for its manifest row (its bytes wait in the staging folder)."""

    format: str
    size: int
    width: int
    height: int


@dataclass
class Plan:
    """The operations of one run, with the names they take, before anything is written."""

    root: Path
    operations: list[Operation] = field(default_factory=list)
    moved_to: dict[str, str] = field(default_factory=dict)  # source -> quarantine path
    outputs: dict[str, Replacement] = field(default_factory=dict)  # normalized output path -> what it holds
    normalized: list[dict] = field(default_factory=list)
    _taken: set[str] = field(default_factory=set)

    def taken(self, path: str) -> bool:
        return path in self._taken or (self.root / path).exists()

    def quarantine(self, source: str, reason: str) -> None:
        target = quarantine_path(reason, source, self.taken)
        self._taken.add(target)
        self.moved_to[source] = target
        self.operations.append(Operation(reason, source, target))

    def normalize(self, source: str, encoded: Encoded, *, stage: bool) -> None:
        """Plan to replace `source` by its re-encoded bytes, written now to the staging folder when `stage`."""
        wanted = output_path(source, encoded.format)
        output = wanted if wanted == source else unused_name(wanted, self.taken)
        self._taken.add(output)
        target = quarantine_path("normalized", source, self.taken)
        self._taken.add(target)
        self.moved_to[source] = target
        self.outputs[output] = Replacement(encoded.format, len(encoded.data), encoded.width, encoded.height)
        staged = f"{STAGING}/{os.getpid()}-{len(self.operations)}.part" if stage else None
        if staged:
            (self.root / staged).parent.mkdir(parents=True, exist_ok=True)
            with (self.root / staged).open("xb") as file:  # not mkstemp: its files are private (0600)
                file.write(encoded.data)
        sha = hashlib.sha256(encoded.data).hexdigest()
        self.operations.append(Operation("normalized", source, target, output, sha, staged))
        self.normalized.append({"path": source, "output": output, "format": encoded.format, "moved_to": target})

    def attach_rows(self, manifest: ManifestRows) -> None:
        """Add to each operation the manifest rows of its file, before and after."""
        rows = manifest.rows_at(op.source for op in self.operations)
        attached = []
        for op in self.operations:
            changes = []
            for row in rows.get(op.source, []):
                if op.output:
                    new = self.outputs[op.output]
                    before, after = replaced_row(row, op.output, new.format, new.size, new.width, new.height)
                else:
                    before, after = moved_row(row, op.reason, op.target)
                changes.append(RowChange(row["id"], before, after))
            attached.append(Operation(op.reason, op.source, op.target, op.output, op.output_sha256, op.staged,
                                      tuple(changes)))
        self.operations = attached


def build_report(root: Path, options: CurateOptions, items: Sequence[Item], decisions: Decisions, plan: Plan,
                 seconds: float) -> dict:
    """The JSON report (schema in curate_design.md), also what html.py renders."""
    moved_to = plan.moved_to
    entry_of = [item.entry for item in items]
    rejected = [
        {**_where(entry_of[i]), "reason": reason, "detail": _detail(items[i], reason),
         "moved_to": moved_to.get(entry_of[i].path)}
        for i, reason in sorted(decisions.reasons.items()) if reason not in ("duplicate", "label-conflict")
    ]
    groups = [
        {"id": group.id, "kind": group.kind, "label_conflict": group.label_conflict, "leakage": group.leakage,
         "members": [
             {**_where(entry_of[m.index]), "width": items[m.index].inspection.width,
              "height": items[m.index].inspection.height, "size": items[m.index].inspection.size,
              "distance": m.distance, "kept": m.kept, "moved_to": moved_to.get(entry_of[m.index].path)}
             for m in group.members]}
        for group in decisions.groups
    ]
    flags = [
        {**_where(entry_of[i]), "flags": list(found), "metrics": items[i].inspection.metrics,
         "moved_to": moved_to.get(entry_of[i].path)}
        for i, found in sorted(decisions.flags.items())
    ]
    reasons = Counter(decisions.reasons.values())
    before = _counts(entry_of)
    after = _counts([e for i, e in enumerate(entry_of) if i not in decisions.reasons])
    return {
        "version": 1,
        "root": str(root),
        "dry_run": options.dry_run,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "seconds": round(seconds, 3),
        "settings": {"hash": options.hash, "threshold": list(options.thresholds), "views": list(options.views),
                     "view_margin": options.view_margin,
                     "min_similarity": options.min_similarity, "min_side": options.min_side,
                     "max_aspect": options.max_aspect, "keep_conflicts": options.keep_conflicts,
                     "reject_quality": options.reject_quality, "normalize": options.normalize,
                     "quality": asdict(options.quality)},
        "counts": {"before": before, "after": after},
        "rejected": rejected,
        "groups": groups,
        "leakage_pairs_fixed": decisions.leakage_pairs_fixed,
        "label_conflicts": decisions.label_conflicts,
        "flags": flags,
        "normalized": plan.normalized,
        "totals": {"scanned": len(items), "accepted": len(items) - len(decisions.reasons),
                   "rejected": len(rejected), "duplicates_removed": reasons["duplicate"],
                   "conflicts_removed": reasons["label-conflict"], "flagged": len(flags),
                   "normalized": len(plan.normalized)},
    }


def _where(entry: Entry) -> dict:
    return {"path": entry.path, "split": entry.split, "class": entry.class_name}


def _detail(item: Item, reason: str) -> str:
    ins = item.inspection
    if ins.detail:
        return ins.detail
    metrics = ", ".join(f"{name} {value:.1f}" for name, value in sorted(ins.metrics.items()))
    return f"flagged {reason.removeprefix('quality-')}: {metrics}"


def _counts(entries: Iterable[Entry]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for entry in entries:
        counts.setdefault(entry.split, Counter())[entry.class_name] += 1
    return {split: dict(sorted(per_class.items())) for split, per_class in sorted(counts.items())}


def write_reports(root: Path, report: dict) -> tuple[Path, ...]:
    json_path, html_path = root / REPORT_JSON, root / REPORT_HTML
    _write_atomic(json_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _write_atomic(html_path, render_report(report, root))
    return json_path, html_path


def _write_atomic(path: Path, text: str) -> None:
    """Temp file and rename, so a reader never sees half a report; created like any file (umask), not 0600."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with temp.open("w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
