"""The `curate` run: scan, inspect, decide, plan, record and move through the journal, report; and `undo`."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..atomic import write_atomic
from ..credits import refresh_credits
from ..keywords import options_from, with_options_signature
from .audit.findings import audit_report
from .audit.judge import Evidence, Verdicts, judge
from .audit.records import AuditReport, AuditSettings, Origin
from .decide import Decisions, Item, decide
from .html import render_report
from .journal import Journal, UndoResult, clear_staging, interrupted_runs, sha256_file, stage
from .layout import LayoutError, check_root, scan
from .normalize import Encoded, normalize_image
from .options import CurateError, CurateOptions
from .plan import Plan
from .pool import inspect_all
from .provenance import ManifestRows, manifest_path, origins_at
from .report import CurateReport, build_report

REPORT_JSON = "curate_report.json"
REPORT_HTML = "curate_report.html"


@with_options_signature(CurateOptions)
def curate(root: Path | str = "data", **options: Any) -> CurateReport:
    """Curate the dataset at `root` as `curate ROOT` does, with the command's options as keyword arguments
    (see CurateOptions). Raises CurateError (a CollectorError) for a bad option or root, OSError for the disk."""
    return run(root, options_from(CurateOptions, options, caller="curate", error=CurateError))


def undo(root: Path | str = "data") -> UndoResult:
    """Put back everything the last curate run moved (or the interrupted run's moves), and its manifest rows."""
    root = _checked(root)
    if not Journal.exists(root):
        return UndoResult(None)
    manifest_file = manifest_path(root)
    with ExitStack() as open_files:
        manifest = open_files.enter_context(closing(ManifestRows(manifest_file))) if manifest_file else None
        result = open_files.enter_context(closing(Journal(root))).undo_last(manifest)
    refresh_credits(root)  # metadata.jsonl and the dataset card follow the moves
    return result


def run(root: Path | str, options: CurateOptions) -> CurateReport:
    """`curate` with its options already checked (the command builds them first, to tell usage errors apart)."""
    started = time.monotonic()
    root = _checked(root)
    manifest_file = manifest_path(root)
    with ExitStack() as open_files:
        manifest = (open_files.enter_context(closing(ManifestRows(manifest_file, read_only=options.dry_run)))
                    if manifest_file else None)
        journal = (open_files.enter_context(closing(Journal(root)))
                   if not options.dry_run and Journal.exists(root) else None)
        recovered = journal.recover(manifest) if journal else 0
        pending = interrupted_runs(root) if options.dry_run else 0
        items = inspect_dataset(root, options)
        decisions = decide(items, options.decide_options())
        audit = audit_kept(root, items, decisions, options, manifest) if options.audit else None
        relabelled = audit.verdicts.relabel if audit else {}
        if audit:
            decisions.reasons.update(audit.verdicts.reasons)
        plan = plan_and_stage(root, items, decisions, relabelled, options)
        if manifest is not None:
            plan.attach_rows(manifest)
        run_id = None
        if not options.dry_run and plan.operations:
            journal = journal or open_files.enter_context(closing(Journal(root)))
            run_id = execute(plan, journal, manifest, options.progress)
        report = build_report(root, options, items, decisions, plan.moved_to, plan.normalized,
                              time.monotonic() - started, relabelled)
        if audit:
            report = dataclasses.replace(report, audit=audit.report(items, options, plan.moved_to))
        written = () if options.dry_run else write_reports(root, report)
        if journal is not None and run_id is not None:
            journal.note_reports(run_id, {path.name: sha256_file(path) for path in written})
        if not options.dry_run:
            refresh_credits(root)  # metadata.jsonl and the dataset card follow the moves
        return dataclasses.replace(report, recovered=recovered, pending_rollback=pending, written=written)


def _checked(root: Path | str) -> Path:
    """ROOT as an absolute path, once it is known to be a folder."""
    root = Path(root)
    try:
        check_root(root)
    except LayoutError as error:
        raise CurateError(str(error)) from error
    return root.resolve()


def inspect_dataset(root: Path, options: CurateOptions) -> list[Item]:
    """Every file of the dataset with what it is; a ROOT with no files is an error."""
    try:
        entries = scan(root)
    except LayoutError as error:
        raise CurateError(str(error)) from error
    if not entries:
        raise CurateError(f"no images under {root}: expected {root}/train/<class>/... or {root}/<class>/...")
    inspections = inspect_all(root, entries, options.inspect_options(), options.workers, options.progress)
    return [Item(entry, inspection) for entry, inspection in zip(entries, inspections, strict=True)]


@dataclass(frozen=True)
class Audit:
    """What the model-assisted pass saw and decided, and where each audited image came from."""

    evidence: Evidence
    verdicts: Verdicts
    origins: dict[int, Origin]

    def report(self, items: Sequence[Item], options: CurateOptions, moved_to: dict[str, str]) -> AuditReport:
        settings = AuditSettings(
            mode=options.mode, backbone=options.backbone, weights=options.weights, folds=options.folds,
            seed=options.seed, action=options.audit_action, off_topic_distance=options.off_topic_distance,
            off_topic_confidence=options.off_topic_confidence, semantic_similarity=options.semantic_similarity,
            relabel_confidence=options.relabel_confidence)
        checks = ("label-issues",) if self.evidence.embeddings is None else (
            "label-issues", "off-topic", "semantic-duplicates")
        return audit_report(items, self.evidence, self.verdicts, settings, moved_to, self.origins, checks)


def audit_kept(root: Path, items: Sequence[Item], decisions: Decisions, options: CurateOptions,
               manifest: ManifestRows | None) -> Audit:
    """Judge every image the hash pass kept with a model that never trained on it (K-fold)."""
    from .audit.model import out_of_sample  # loads torch, which only --audit needs

    kept = [i for i in range(len(items)) if i not in decisions.reasons]
    evidence = out_of_sample(root, items, kept, mode=options.mode, backbone=options.backbone,
                             weights=options.weights, folds=options.folds, seed=options.seed, device=options.device,
                             batch_size=options.batch_size, epochs=options.audit_epochs,
                             image_size=options.audit_image_size, cache=not options.dry_run,
                             progress=options.progress, workers=options.workers)
    verdicts = judge(items, evidence, options.audit_rules(), options.decide_options())
    origins: dict[int, Origin] = {}
    if manifest is not None:
        found = origins_at(manifest, (items[i].entry.path for i in evidence.indices))
        origins = {i: found[items[i].entry.path] for i in evidence.indices if items[i].entry.path in found}
    return Audit(evidence, verdicts, origins)


def plan_and_stage(root: Path, items: Sequence[Item], decisions: Decisions, relabelled: dict[int, str],
                   options: CurateOptions) -> Plan:
    """The run's moves; outside a dry run, the re-encoded bytes of `normalize` wait in the staging folder."""
    plan = Plan(root)
    for index, reason in sorted(decisions.reasons.items()):
        plan.quarantine(items[index].entry.path, reason)
    for index, new_class in sorted(relabelled.items()):
        plan.relabel(items[index].entry.path, items[index].entry.split, new_class)
    if not options.dry_run:
        clear_staging(root)
    if options.normalize:
        kept = [item for i, item in enumerate(items) if i not in decisions.reasons and i not in relabelled]
        for item, encoded in normalize_all(root, kept, options.progress):
            operation = plan.normalize(item.entry.path, encoded, stage=not options.dry_run)
            if operation.staged:
                stage(root, operation.staged, encoded.data)
    return plan


def execute(plan: Plan, journal: Journal, manifest: ManifestRows | None, progress: bool) -> int:
    """Record the plan durably, then move (new files are already staged): the order that makes a crash recoverable."""
    run_id = journal.record(plan.operations)
    with tqdm(total=len(plan.operations), desc="moving", unit="file", disable=not progress, leave=False) as bar:
        journal.apply(run_id, plan.operations, manifest, on_done=lambda: bar.update(1))
    return run_id


def normalize_all(root: Path, items: Sequence[Item], progress: bool) -> Iterable[tuple[Item, Encoded]]:
    """Re-encoded bytes for the kept images that need them; one Pillow cannot re-encode (rare modes) stays as is."""
    for item in tqdm(items, desc="normalizing", unit="img", disable=not progress, leave=False):
        try:
            encoded = normalize_image(root / item.entry.path, item.entry.path)
        except (OSError, ValueError, SyntaxError):
            continue
        if encoded is not None:
            yield item, encoded


def write_reports(root: Path, report: CurateReport) -> tuple[Path, ...]:
    """`curate_report.json` and `curate_report.html`, each written whole or not at all."""
    json_path, html_path = root / REPORT_JSON, root / REPORT_HTML
    write_atomic(json_path, json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    write_atomic(html_path, render_report(report, root))
    return json_path, html_path
