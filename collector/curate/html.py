"""Turn a `curate` report into one self-contained HTML page.

Pictures say more than paths: every rejected, duplicate and flagged file is shown as a small thumbnail embedded as
a data URI, so the page can be mailed or archived alone. No scripts, no external resources; every string from the
report is escaped, because file names are chosen by whoever published the images.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from PIL import Image

from .audit.records import AuditReport, LabelIssue, OffTopicImage, SemanticGroup, SemanticMember
from .options import hash_kinds
from .report import CountsBeforeAfter, CurateReport, DuplicateGroup, Flagged, GroupMember, Located, Rejected, to_json
from .rgb import to_rgb, upright

Shown = Rejected | GroupMember | Flagged | LabelIssue | OffTopicImage | SemanticMember

THUMB_SIDE = 128
# Past this many thumbnails the page would weigh tens of megabytes: further files are listed without a picture.
MAX_THUMBNAILS = 3000
# Decoding a decompression bomb for a thumbnail would undo the protection that rejected it.
MAX_THUMB_SOURCE_PIXELS = 50_000_000
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "": 3}
NICE_HASH_NAMES = {"phash": "pHash", "dhash": "dHash", "whash": "wHash", "ahash": "aHash"}

CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #bc4c00; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0;
       background: #fff; }
header { background: #24292f; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .sub { color: #c9d1d9; font-size: 13px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 28px;
      z-index: 1; }
nav a { margin-right: 18px; color: #0969da; text-decoration: none; font-weight: 600; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 6px; margin-top: 34px; }
h3 { margin: 22px 0 8px; }
.banner { padding: 10px 14px; border-radius: 6px; margin: 14px 0; font-weight: 600; }
.banner.dry { background: #fff8c5; border: 1px solid #d4a72c; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 130px;
        background: var(--soft); }
.card .n { font-size: 26px; font-weight: 700; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.bad .n { color: var(--bad); } .card.warn .n { color: var(--warn); } .card.ok .n { color: var(--ok); }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: right; }
th { background: var(--soft); text-align: center; } td.name, th.name { text-align: left; }
td.minus { color: var(--bad); font-weight: 600; } tr.total td { font-weight: 700; background: var(--soft); }
.settings { color: var(--muted); font-size: 13px; }
.settings code { background: var(--soft); padding: 1px 5px; border-radius: 4px; color: #1f2328; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; width: 150px; border: 1px solid var(--line); border-radius: 6px; padding: 6px; background: #fff;
         position: relative; }
figure .pic { width: 136px; height: 136px; display: flex; align-items: center; justify-content: center;
              background: var(--soft); border-radius: 4px; overflow: hidden; }
figure img { max-width: 128px; max-height: 128px; display: block; }
.nopic { color: var(--muted); font-size: 12px; text-align: center; padding: 8px; border: 2px dashed #ffaba8;
         width: 120px; height: 120px; display: flex; align-items: center; justify-content: center;
         background: repeating-linear-gradient(45deg, #fff5f5, #fff5f5 8px, #fff 8px, #fff 16px); }
.nopic b { color: var(--bad); font-size: 13px; }
figcaption { font-size: 11.5px; margin-top: 4px; word-break: break-all; }
figcaption .path { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
figcaption .meta { color: var(--muted); }
figcaption .detail { color: var(--bad); }
figure.kept { border: 3px solid var(--ok); padding: 4px; }
figure.gone { opacity: .8; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 10px;
         margin: 1px 2px 1px 0; background: #eaeef2; color: #1f2328; }
.badge.kept { background: var(--ok); color: #fff; }
.badge.gone { background: #ffebe9; color: var(--bad); }
.badge.dist { background: #ddf4ff; color: #0550ae; }
.badge.match { background: #dafbe1; color: #116329; }
.badge.lost { background: #f6f8fa; color: #57606a; }
.badge.split-val, .badge.split-test { background: #fbefff; color: #8250df; }
.badge.flag { background: #fff1e5; color: var(--warn); }
.groups { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.group { border: 1px solid var(--line); border-left: 6px solid #8c959f; border-radius: 6px; padding: 8px 12px;
         flex: 0 1 auto; max-width: 100%; }
.group.conflict { border-left-color: var(--bad); background: #fff5f5; }
.group.leakage { border-left-color: var(--warn); background: #fffaf3; }
.group.conflict.leakage { border-left-color: var(--bad); }
.group h3 { margin: 0 0 8px; font-size: 14px; }
.tag { font-size: 11px; font-weight: 700; padding: 2px 8px; border-radius: 10px; color: #fff; margin-left: 6px; }
.tag.conflict { background: var(--bad); } .tag.leakage { background: var(--warn); } .tag.kind { background: #6e7781; }
.reason { margin-bottom: 20px; }
.empty { color: var(--muted); font-style: italic; }
.more { color: var(--muted); margin: 8px 0; }
"""


def render_report(report: CurateReport, root: Path, max_thumbnails: int = MAX_THUMBNAILS) -> str:
    """The HTML page for `report`; images are read below `root` (from `moved_to` when the file was moved).

    Files are pictured in page order (rejections, label conflicts, leakage, the biggest groups, flags) until
    `max_thumbnails` runs out; the rest are listed without pictures, keeping a huge dataset's page openable."""
    page = _Page(Path(root), max_thumbnails)
    groups = sorted(report.groups, key=_group_order)
    rejected, flags = report.rejected, report.flags
    conflicts = [g for g in groups if g.label_conflict]
    sections = [
        _summary(report),
        _counts(report.counts),
        _rejections(page, rejected),
        _conflicts(page, conflicts, report),
        _groups(page, [g for g in groups if not g.label_conflict], report),
        _flags(page, flags),
    ]
    links = [
        ("summary", "Summary"),
        ("counts", "Counts"),
        ("rejected", f"Rejected ({len(rejected)})"),
        ("conflicts", f"Label conflicts ({len(conflicts)})"),
        ("duplicates", f"Duplicate groups ({len(groups) - len(conflicts)})"),
        ("flags", f"Quality flags ({len(flags)})"),
    ]
    if report.audit is not None:
        sections.append(_audit(page, report.audit))
        links.append(("audit", f"Audit ({len(report.audit.label_issues) + len(report.audit.off_topic)})"))
    title = f"curate report: {report.root}"
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in links)
    when = report.finished_at
    took = f" in {report.seconds:.1f} s"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><div class=\"sub\">finished {_e(when)}{_e(took)}</div></header>"
        f"<nav>{nav}</nav><main>{''.join(sections)}</main></body></html>\n"
    )


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _group_order(group: DuplicateGroup) -> tuple:
    """Conflicts first, then leakage, then the biggest groups: the order a reviewer cares about."""
    return (not group.label_conflict, not group.leakage, -len(group.members), group.id)


def _summary(report: CurateReport) -> str:
    banner = (
        '<div class="banner dry">Dry run: nothing was moved. The files below would be quarantined.</div>'
        if report.dry_run else ""
    )
    totals = report.totals
    cards = [
        ("scanned", totals.scanned, ""),
        ("accepted", totals.accepted, "ok"),
        ("rejected", totals.rejected, "bad"),
        ("duplicates removed", totals.duplicates_removed, "bad"),
        ("label conflicts", report.label_conflicts, "bad"),
        ("leakage pairs fixed", report.leakage_pairs_fixed, "warn"),
        ("flagged", totals.flagged, "warn"),
    ]
    card_html = "".join(
        f'<div class="card {kind if value else ""}"><div class="n">{_e(value)}</div><div class="l">{_e(label)}</div>'
        "</div>"
        for label, value, kind in cards
    )
    settings = to_json(report.settings)
    setting_html = " ".join(f"{_e(k)}=<code>{_e(json.dumps(v))}</code>" for k, v in settings.items())
    return (
        f'<section id="summary"><h2>Summary</h2>{banner}<div class="cards">{card_html}</div>'
        f'<p class="settings">Settings: {setting_html or "defaults"}</p></section>'
    )


def _counts(counts: CountsBeforeAfter) -> str:
    """One row per class, one before/after/removed column group per split, totals last: compact for many classes."""
    before, after = counts.before, counts.after
    splits = sorted(set(before) | set(after), key=lambda s: (SPLIT_ORDER.get(s, 9), s))
    if not splits:
        return '<section id="counts"><h2>Counts</h2><p class="empty">No images were found.</p></section>'
    classes = sorted({name for table in (before, after) for split in table.values() for name in split})
    head = '<tr><th class="name" rowspan="2">class</th>' + "".join(
        f'<th colspan="3">{_e(split or "all images")}</th>' for split in splits
    ) + "</tr><tr>" + "<th>before</th><th>after</th><th>removed</th>" * len(splits) + "</tr>"
    rows = []
    for name in classes:
        cells = [_count_cells(before.get(s, {}).get(name, 0), after.get(s, {}).get(name, 0)) for s in splits]
        rows.append(f'<tr><td class="name">{_e(name)}</td>{"".join(cells)}</tr>')
    totals = [_count_cells(sum(before.get(s, {}).values()), sum(after.get(s, {}).values())) for s in splits]
    rows.append(f'<tr class="total"><td class="name">all classes</td>{"".join(totals)}</tr>')
    return f'<section id="counts"><h2>Counts</h2><table>{head}{"".join(rows)}</table></section>'


def _count_cells(before: int, after: int) -> str:
    removed = before - after
    cell = f'<td class="minus">−{removed}</td>' if removed > 0 else f"<td>{removed}</td>"
    return f"<td>{before}</td><td>{after}</td>{cell}"


def _rejections(page: _Page, rejected: Sequence[Rejected]) -> str:
    if not rejected:
        return '<section id="rejected"><h2>Rejected files</h2><p class="empty">No file was rejected.</p></section>'
    by_reason: dict[str, list[Rejected]] = {}
    for item in rejected:
        by_reason.setdefault(item.reason, []).append(item)
    parts = []
    for reason in sorted(by_reason, key=lambda r: (-len(by_reason[r]), r)):
        items = by_reason[reason]
        figures = "".join(page.figure(item, _place_badges(item), detail=item.detail) for item in items)
        parts.append(
            f'<div class="reason"><h3>{_e(reason)} <span class="badge">{len(items)}</span></h3>'
            f'<div class="grid">{figures}</div></div>'
        )
    return f'<section id="rejected"><h2>Rejected files</h2>{"".join(parts)}</section>'


def _conflicts(page: _Page, groups: list[DuplicateGroup], report: CurateReport) -> str:
    keep = report.settings.keep_conflicts
    note = (
        "The same picture under more than one class. "
        + ("Kept the best copy of each class (--keep-conflicts)." if keep else "Every copy was quarantined.")
    )
    if not groups:
        return '<section id="conflicts"><h2>Label conflicts</h2><p class="empty">No label conflict.</p></section>'
    body = "".join(_group(page, g) for g in groups)
    return (
        f'<section id="conflicts"><h2>Label conflicts</h2><p>{_e(note)}</p>'
        f'<div class="groups">{body}</div></section>'
    )


def _groups(page: _Page, groups: list[DuplicateGroup], report: CurateReport) -> str:
    if not groups:
        return '<section id="duplicates"><h2>Duplicate groups</h2><p class="empty">No duplicates.</p></section>'
    fixed = report.leakage_pairs_fixed
    rule, first = rule_text(report.settings.hash, report.settings.threshold)
    note = (
        f"Near duplicates: {rule} (Hamming distance, bits of 64). The number on each copy is its {first} distance to "
        "the kept image, 0 for identical pixels, and the green word beside it how the two matched (as is, mirrored, "
        "cropped, inside margins: a frame, bars or a caption left out, cut to a square, 4:5, 16:9, 1.91:1 or another "
        "shape as feeds, prints and link previews cut pictures), then why the kept image was preferred "
        "(the first rule of curate --help's keep order it lost on: less detail, a neutral margin, a larger "
        "file...); the kept image has a green frame."
    )
    leakage = (
        f'<p><span class="tag leakage">leakage</span> {int(fixed)} train/val pair(s) fixed: groups spanning splits '
        "now keep a single copy.</p>"
        if fixed
        else ""
    )
    body = "".join(_group(page, g) for g in groups)
    return (
        f'<section id="duplicates"><h2>Duplicate groups</h2><p>{_e(note)}</p>{leakage}'
        f'<div class="groups">{body}</div></section>'
    )


def rule_text(spec: str, thresholds: Sequence[int]) -> tuple[str, str]:
    """("pHash ≤ 8 or dHash ≤ 7", "pHash") from the setting `hash` ("a,b": near on any, "a+b": on every kind)
    and its thresholds, one per kind."""
    joiner = " and " if "+" in spec else " or "
    names = [NICE_HASH_NAMES.get(kind, kind) for kind in hash_kinds(spec)]
    text = joiner.join(f"{name} ≤ {limit}" for name, limit in zip(names, thresholds, strict=True))
    return text, names[0]


def _group(page: _Page, group: DuplicateGroup) -> str:
    members = sorted(group.members, key=lambda m: (not m.kept, m.distance))
    css = ["group"]
    tags = [f'<span class="tag kind">{_e(group.kind)}</span>']
    if group.label_conflict:
        css.append("conflict")
        tags.append('<span class="tag conflict">label conflict</span>')
    if group.leakage:
        css.append("leakage")
        tags.append('<span class="tag leakage">leakage</span>')
    classes = sorted({m.class_name for m in members})
    splits = sorted({m.split for m in members if m.split})
    where = ", ".join(classes) + (f" · {', '.join(splits)}" if splits else "")
    figures = "".join(page.figure(m, _member_badges(m), kept=m.kept) for m in members)
    return (
        f'<div class="{" ".join(css)}" id="group-{_e(group.id)}">'
        f"<h3>Group {_e(group.id)}: {len(members)} images ({_e(where)}){''.join(tags)}</h3>"
        f'<div class="grid">{figures}</div></div>'
    )


def _member_badges(member: GroupMember) -> list[str]:
    badges = []
    if member.kept:
        badges.append('<span class="badge kept">KEPT</span>')
    else:
        badges.append('<span class="badge gone">moved</span>')
        distance = _e(member.distance)
        badges.append(f'<span class="badge dist" title="Hamming distance to the kept image">d={distance}</span>')
        if member.match:
            badges.append(f'<span class="badge match" title="how it matched the kept image">{_e(member.match)}</span>')
        if member.lost_on:
            why = _e(member.lost_on)
            badges.append(f'<span class="badge lost" title="why the kept image was preferred">{why}</span>')
    return badges + _place_badges(member)


def _place_badges(item: Located) -> list[str]:
    """Split (when the layout has splits) and class of a file."""
    badges = []
    if item.split:
        badges.append(f'<span class="badge split-{_e(item.split)}">{_e(item.split)}</span>')
    badges.append(f'<span class="badge">{_e(item.class_name)}</span>')
    return badges


def _flags(page: _Page, flagged: Sequence[Flagged]) -> str:
    if not flagged:
        return '<section id="flags"><h2>Quality flags</h2><p class="empty">No image was flagged.</p></section>'
    by_flag: dict[str, list[Flagged]] = {}
    for item in flagged:
        for flag in item.flags:
            by_flag.setdefault(flag, []).append(item)
    parts = []
    for flag in sorted(by_flag, key=lambda f: (-len(by_flag[f]), f)):
        items = by_flag[flag]
        figures = "".join(page.figure(item, _flag_badges(item)) for item in items)
        parts.append(
            f'<div class="reason"><h3>{_e(flag)} <span class="badge">{len(items)}</span></h3>'
            f'<div class="grid">{figures}</div></div>'
        )
    return (
        '<section id="flags"><h2>Quality flags</h2><p>Reported, not removed, unless curate ran with '
        f"--reject-quality.</p>{''.join(parts)}</section>"
    )


def _audit(page: _Page, audit: AuditReport) -> str:
    """The model-assisted pass: label issues, off-topic images, semantic copies, noise per class and per source."""
    settings = audit.settings
    intro = (
        f"Every kept image judged by a {settings.mode} model ({settings.backbone}, {settings.folds} folds) that never "
        f"trained on it: {audit.images} images, {len(audit.classes)} classes. Findings are "
        + ("only reported." if settings.action == "report" else f"acted on (--audit-action {settings.action}).")
    )
    issues = "".join(page.figure(item, _issue_badges(item)) for item in audit.label_issues)
    strays = "".join(page.figure(item, _off_topic_badges(item)) for item in audit.off_topic)
    parts = [
        f'<section id="audit"><h2>Audit</h2><p>{_e(intro)}</p>',
        f"<h3>Label issues <span class=\"badge\">{len(audit.label_issues)}</span></h3>"
        "<p>Confident learning: the out-of-sample probabilities say these images show another class; the score is "
        "p(suggested) − p(given).</p>"
        + (f'<div class="grid">{issues}</div>' if issues else '<p class="empty">No label issue.</p>'),
    ]
    if "off-topic" in audit.checks:
        parts.append(
            f"<h3>Off-topic <span class=\"badge\">{len(audit.off_topic)}</span></h3>"
            f"<p>Far from every class in embedding space (more than {_e(settings.off_topic_distance)} spreads below "
            "each class's typical similarity) and no class probable.</p>"
            + (f'<div class="grid">{strays}</div>' if strays else '<p class="empty">No off-topic image.</p>'))
    if "semantic-duplicates" in audit.checks:
        groups = "".join(_semantic_group(page, group) for group in audit.semantic_groups)
        parts.append(
            f"<h3>Semantic copies <span class=\"badge\">{len(audit.semantic_groups)}</span></h3>"
            f"<p>Copies the hashes missed: embedding neighbours whose small grey copies correlate ≥ "
            f"{_e(settings.semantic_similarity)} (mirrored, centre-cropped, shifted); "
            f"{audit.leakage_pairs} pair(s) across splits.</p>"
            + (f'<div class="groups">{groups}</div>' if groups else '<p class="empty">No semantic copy.</p>'))
    parts.append(_noise_table(audit))
    if audit.sources:
        parts.append(_sources_table(audit))
    return "".join(parts) + "</section>"


def _issue_badges(item: LabelIssue) -> list[str]:
    return [
        f'<span class="badge gone">{_e(item.action)}</span>', *_place_badges(item),
        f'<span class="badge kept">→ {_e(item.suggested)}</span>',
        f'<span class="badge dist" title="p(suggested) - p(given)">score {item.score:.2f}</span>',
        *_origin_badges(item),
    ]


def _off_topic_badges(item: OffTopicImage) -> list[str]:
    return [
        f'<span class="badge gone">{_e(item.action)}</span>', *_place_badges(item),
        f'<span class="badge dist" title="best z-score of similarity to a class">z {item.nearness:.1f}</span>',
        f'<span class="badge">top {_e(item.top_class)} {item.top_probability:.2f}</span>', *_origin_badges(item),
    ]


def _origin_badges(item: LabelIssue | OffTopicImage) -> list[str]:
    origin = item.origin
    return [f'<span class="badge flag" title="{kind}">{_e(value)}</span>'
            for kind, value in (("engine", origin.engine), ("query", origin.query), ("domain", origin.domain))
            if value]


def _semantic_group(page: _Page, group: SemanticGroup) -> str:
    css = ["group", *(["conflict"] if group.label_conflict else []), *(["leakage"] if group.leakage else [])]
    tags = "".join(f'<span class="tag {tag}">{label}</span>' for tag, label, on in (
        ("conflict", "label conflict", group.label_conflict), ("leakage", "leakage", group.leakage)) if on)
    figures = "".join(
        page.figure(m, [f'<span class="badge {"kept" if m.kept else "gone"}">{"KEPT" if m.kept else "copy"}</span>',
                        f'<span class="badge dist" title="pixel similarity to the kept image">{m.similarity:.3f}</span>',
                        *_place_badges(m)], kept=m.kept)
        for m in sorted(group.members, key=lambda m: (not m.kept, -m.similarity)))
    return (f'<div class="{" ".join(css)}"><h3>Semantic group {_e(group.id)}: {len(group.members)} images{tags}</h3>'
            f'<div class="grid">{figures}</div></div>')


def _noise_table(audit: AuditReport) -> str:
    """Per class: images, findings and the estimated share of wrong labels; then the joint of given vs true class."""
    rows = "".join(
        f'<tr><td class="name">{_e(row.class_name)}</td><td>{row.images}</td><td>{row.label_issues}</td>'
        f"<td>{row.off_topic}</td><td>{row.estimated_noise:.1%}</td></tr>"
        for row in audit.per_class)
    head = "".join(f"<th>{_e(name)}</th>" for name in audit.classes)
    joint = "".join(
        f'<tr><th class="name">{_e(name)}</th>'
        + "".join(f'<td class="{"minus" if i != j and count else ""}">{count}</td>' for j, count in enumerate(line))
        + "</tr>"
        for i, (name, line) in enumerate(zip(audit.classes, audit.joint, strict=True)))
    return (
        "<h3>Noise per class</h3><table><tr><th class=\"name\">class</th><th>images</th><th>label issues</th>"
        f"<th>off-topic</th><th>estimated noise</th></tr>{rows}</table>"
        "<p>Confident joint, calibrated: rows are the given class, columns the class the model is confident of.</p>"
        f'<table><tr><th class="name">given \\ true</th>{head}</tr>{joint}</table>'
    )


def _sources_table(audit: AuditReport) -> str:
    rows = "".join(
        f'<tr><td class="name">{_e(row.kind)}</td><td class="name">{_e(row.name)}</td><td>{row.images}</td>'
        f"<td>{row.label_issues}</td><td>{row.off_topic}</td><td>{row.share:.1%}</td></tr>"
        for row in audit.sources)
    return ("<h3>Where the noise came from</h3><table><tr><th class=\"name\">by</th><th class=\"name\">source</th>"
            f"<th>images</th><th>label issues</th><th>off-topic</th><th>flagged</th></tr>{rows}</table>")


def _flag_badges(item: Flagged) -> list[str]:
    badges = [f'<span class="badge flag">{_e(flag)}</span>' for flag in item.flags] + _place_badges(item)
    badges += [
        f'<span class="badge">{_e(name)} {_e(_number(value))}</span>' for name, value in sorted(item.metrics.items())
    ]
    return badges


def _number(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class _Page:
    """Thumbnails for one page: each file is read and encoded once, and only up to MAX_THUMBNAILS of them."""

    def __init__(self, root: Path, limit: int = MAX_THUMBNAILS) -> None:
        self.root = root
        self.limit = limit
        self.cache: dict[Path, str | None] = {}
        self.made = 0

    def figure(self, item: Shown, badges: Iterable[str], *, kept: bool = False, detail: str = "") -> str:
        path = item.path
        source = self.locate(item)
        uri = self.thumbnail(source)
        if uri:
            picture = f'<img src="{uri}" alt="{_e(path)}">'
        else:
            reason = item.reason if isinstance(item, Rejected) else "not readable"
            label = _e(reason) if source in self.cache else "preview limit reached"
            picture = f'<div class="nopic"><span><b>{label}</b><br>no preview</span></div>'
        size = ""
        if isinstance(item, GroupMember):
            size = f"{item.width}×{item.height} · {_kilobytes(item.size)}"
        meta = f'<div class="meta">{size}</div>' if size else ""
        extra = f'<div class="detail">{_e(detail)}</div>' if detail else ""
        css = "kept" if kept else ("gone" if item.moved_to else "")
        return (
            f'<figure class="{css}" title="{_e(path)}"><div class="pic">{picture}</div><figcaption>'
            f'{"".join(badges)}<div class="path">{_e(path)}</div>{meta}{extra}</figcaption></figure>'
        )

    def locate(self, item: Shown) -> Path:
        if item.moved_to and (self.root / item.moved_to).is_file():
            return self.root / item.moved_to
        return self.root / item.path

    def thumbnail(self, path: Path) -> str | None:
        """The file's data URI, None when it cannot be shown; past the limit nothing new is read (and not cached)."""
        if path in self.cache:
            return self.cache[path]
        if self.made >= self.limit:
            return None
        self.cache[path] = thumbnail_uri(path)
        self.made += self.cache[path] is not None
        return self.cache[path]


def _kilobytes(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"


def thumbnail_uri(path: Path, side: int = THUMB_SIDE) -> str | None:
    """A JPEG data URI of `path` shrunk to fit `side` px, upright; None when the file is not a decodable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                if image.width * image.height > MAX_THUMB_SOURCE_PIXELS:
                    return None
                image.draft("RGB", (side, side))
                image = to_rgb(upright(image))
                image.thumbnail((side, side))
                buffer = io.BytesIO()
                image.save(buffer, "JPEG", quality=80)
    except Exception:  # noqa: BLE001 - any file the report cannot show gets a placeholder instead
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
