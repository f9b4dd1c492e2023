"""The terminal summary of a curate report: a table per split and class, then one line per finding."""

from __future__ import annotations

from collections import Counter, defaultdict

from ..console import format_table
from .journal import UndoResult
from .report import CurateReport


def removals(report: CurateReport) -> dict[tuple[str, str], Counter[str]]:
    """{(split, class): Counter(reason)} of every file that leaves the dataset (read off its quarantine folder)."""
    found: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    members = [m for group in report.groups for m in group.members]
    seen = set()
    for item in [*report.rejected, *members]:
        if item.moved_to and item.path not in seen:
            seen.add(item.path)
            found[(item.split, item.class_name)][item.moved_to.split("/")[1]] += 1
    return found


def format_summary(report: CurateReport) -> str:
    before, after = report.counts.before, report.counts.after
    gone = removals(report)
    header = ["split", "class", "before", "after", "removed by reason"]
    rows: list[list[object]] = []
    for split in sorted(before):
        for name in sorted(before[split]):
            reasons = gone.get((split, name), Counter())
            rows.append([split or "-", name, before[split][name], after.get(split, {}).get(name, 0),
                         ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
                         or "-"])
    total_before = sum(sum(c.values()) for c in before.values())
    total_after = sum(sum(c.values()) for c in after.values())
    rows.append(["all", "", total_before, total_after, f"{total_before - total_after} removed"])
    return "\n".join([format_table([header, *rows], right={2, 3}), *_findings(report)])


def _findings(report: CurateReport) -> list[str]:
    totals, groups = report.totals, report.groups
    kinds = Counter(group.kind for group in groups)
    flags = Counter(flag for item in report.flags for flag in item.flags)
    lines = [
        "",
        (f"duplicate groups: {len(groups)} ({kinds['exact']} exact, {kinds['near']} near), "
         f"{totals.duplicates_removed} duplicates removed"),
        f"label conflicts: {report.label_conflicts} groups, {totals.conflicts_removed} files removed",
        f"leakage: {report.leakage_pairs_fixed} train/val near-duplicate pairs fixed",
        f"quality flags: {totals.flagged} images"
        + (f" ({', '.join(f'{f} {n}' for f, n in flags.most_common())})" if flags else ""),
    ]
    if totals.normalized:
        lines.append(f"normalized: {totals.normalized} images re-encoded (originals in _quarantine/normalized)")
    if report.dry_run:
        lines.append("dry run: nothing was moved or written")
    else:
        lines.append(f"report: {report.root}/curate_report.html (undo with: curate --undo {report.root})")
    return lines


def format_undo(result: UndoResult, root: str) -> str:
    if result.run_id is None:
        return f"nothing to undo in {root}"
    lines = [f"restored {result.restored} files from run {result.run_id}"]
    lines += [f"not restored: {conflict}" for conflict in result.conflicts]
    return "\n".join(lines)
