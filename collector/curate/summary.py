"""The terminal summary of a curate report: a table per split and class, then one line per finding."""

from __future__ import annotations

from collections import Counter, defaultdict

from ..console import format_table
from .audit.records import AuditReport
from .journal import UndoResult
from .layout import QUARANTINE

# Findings of each audit kind listed by name in the terminal; the report has them all.
LISTED = 10
from .report import CurateReport


def removals(report: CurateReport) -> dict[tuple[str, str], Counter[str]]:
    """{(split, class): Counter(reason)} of every file that leaves the dataset (read off its quarantine folder) or
    its class folder (`relabelled`)."""
    found: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    members = [m for group in report.groups for m in group.members]
    audited = report.audit
    if audited is not None:
        members += [m for group in audited.semantic_groups for m in group.members]
        members += [*audited.label_issues, *audited.off_topic]
    seen = set()
    for item in [*report.rejected, *members]:
        if item.moved_to and item.path not in seen:
            seen.add(item.path)
            quarantined = item.moved_to.startswith(f"{QUARANTINE}/")
            found[(item.split, item.class_name)][item.moved_to.split("/")[1] if quarantined else "relabelled"] += 1
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
    if report.audit is not None:
        lines.extend(audit_lines(report.audit))
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


def audit_lines(audit: AuditReport) -> list[str]:
    """The audit's findings in a few lines: counts, what moved, the noisiest class and sources."""
    settings = audit.settings
    actions = Counter(item.action for item in (*audit.label_issues, *audit.off_topic))
    moved = ", ".join(f"{n} {action}" for action, n in sorted(actions.items()) if action != "reported")
    conflicts = sum(group.label_conflict for group in audit.semantic_groups)
    lines = [
        f"audit ({settings.mode}, {settings.backbone}, {settings.folds} folds): {audit.images} images, "
        f"{len(audit.label_issues)} label issues, {len(audit.off_topic)} off-topic"
        + (f" ({moved})" if moved else ""),
    ]
    for issue in audit.label_issues[:LISTED]:
        lines.append(f"  label issue: {issue.path} {issue.class_name} -> {issue.suggested} (score {issue.score:.2f}, "
                     f"{issue.action})")
    for stray in audit.off_topic[:LISTED]:
        lines.append(f"  off-topic: {stray.path} (z {stray.nearness:.1f}, top {stray.top_class} "
                     f"{stray.top_probability:.2f}, {stray.action})")
    hidden = max(0, len(audit.label_issues) - LISTED) + max(0, len(audit.off_topic) - LISTED)
    if hidden:
        lines.append(f"  ... {hidden} more in the report")
    if "semantic-duplicates" in audit.checks:
        lines.append(f"semantic copies the hashes missed: {len(audit.semantic_groups)} groups, "
                     f"{audit.leakage_pairs} pairs across splits, {conflicts} across classes")
    noisy = max(audit.per_class, key=lambda row: row.estimated_noise, default=None)
    if noisy is not None and noisy.estimated_noise > 0:
        lines.append(f"noisiest class: {noisy.class_name}, an estimated {noisy.estimated_noise:.0%} of its labels wrong")
    for kind in ("engine", "query", "domain"):
        worst = next((row for row in audit.sources if row.kind == kind and row.share > 0), None)
        if worst is not None:
            lines.append(f"noisiest {kind}: {worst.name} ({worst.label_issues + worst.off_topic} of "
                         f"{worst.images} images flagged, {worst.share:.0%})")
    if audit.failures:
        lines.append(f"not audited: {len(audit.failures)} images the model could not read")
    return lines
