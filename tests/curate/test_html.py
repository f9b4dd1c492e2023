"""The HTML report: self-contained, every file pictured from where it now lies, every string escaped."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from collector.curate.html import render_report, rule_text, thumbnail_uri
from collector.curate.inspect import QualityThresholds
from collector.curate.report import (
    CountsBeforeAfter,
    CurateReport,
    DuplicateGroup,
    Flagged,
    GroupMember,
    Rejected,
    Settings,
    Totals,
)

from .conftest import encode, make_bad_files, make_photo, make_tricky_good_files

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EVIL = '<script>alert("x")</script>&.jpg'


def write(root: Path, relative: str, data: bytes) -> str:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


SETTINGS = Settings(hash="phash", threshold=(8,), views=("mirror", "centre"), view_margin=2, view_similarity=0.9,
                    min_similarity=0.5, min_side=32, max_aspect=5.0, keep_conflicts=False,
                    reject_quality=False, normalize=False, quality=QualityThresholds())


def make_dataset_report(root: Path, *, dry_run: bool = False) -> CurateReport:
    """Files on disk as a real (or dry) curate run leaves them, and the report describing them."""
    photo = make_photo(240, 180, seed=7)
    other = make_photo(200, 200, seed=8)
    moved_prefix = "" if dry_run else "_quarantine/duplicate/"
    write(root, "train/cat/big.jpg", encode(photo, "JPEG", quality=92))
    small = write(root, moved_prefix + "val/cat/small.jpg", encode(photo.resize((120, 90)), "JPEG", quality=70))
    conflict_a = write(root, ("" if dry_run else "_quarantine/label-conflict/") + "train/cat/same.png",
                       encode(other, "PNG"))
    conflict_b = write(root, ("" if dry_run else "_quarantine/label-conflict/") + "train/dog/same.jpg",
                       encode(other, "JPEG", quality=95))
    truncated = write(root, ("" if dry_run else "_quarantine/truncated/") + f"train/dog/{EVIL}",
                      encode(make_photo(100, 100, seed=9), "JPEG")[:300])
    dark = write(root, "train/dog/dark.jpg", encode(Image.new("RGB", (90, 90), (8, 8, 10)), "JPEG"))

    def moved(path: str) -> str | None:
        return None if dry_run else path

    return CurateReport(
        version=1,
        root=root,
        dry_run=dry_run,
        finished_at="2026-11-23T10:00:00Z",
        seconds=1.25,
        settings=SETTINGS,
        counts=CountsBeforeAfter(before={"train": {"cat": 2, "dog": 3}, "val": {"cat": 1}},
                                 after={"train": {"cat": 1, "dog": 1}, "val": {"cat": 0}}),
        rejected=(Rejected(f"train/dog/{EVIL}", "train", "dog", reason="truncated",
                           detail="image file is truncated <b>", moved_to=moved(truncated)),),
        groups=(
            DuplicateGroup(1, "near", label_conflict=False, leakage=True, members=(
                GroupMember("train/cat/big.jpg", "train", "cat", width=240, height=180, size=9000, distance=0,
                            match=None, lost_on=None, kept=True, moved_to=None),
                GroupMember("val/cat/small.jpg", "val", "cat", width=120, height=90, size=3000, distance=4,
                            match="mirrored, cropped", lost_on="less detail", kept=False,
                            moved_to=moved(small)),
            )),
            DuplicateGroup(2, "exact", label_conflict=True, leakage=False, members=(
                GroupMember("train/cat/same.png", "train", "cat", width=200, height=200, size=50000, distance=0,
                            match=None, lost_on=None, kept=False, moved_to=moved(conflict_a)),
                GroupMember("train/dog/same.jpg", "train", "dog", width=200, height=200, size=12000, distance=0,
                            match="identical", lost_on=None, kept=False,
                            moved_to=moved(conflict_b)),
            )),
        ),
        leakage_pairs_fixed=1,
        label_conflicts=1,
        flags=(Flagged(dark, "train", "dog", flags=("dark", "low-information"),
                       metrics={"brightness": 8.4, "entropy": 0.5}, moved_to=None),),
        normalized=(),
        totals=Totals(scanned=6, accepted=5, rejected=1, duplicates_removed=3, conflicts_removed=2, flagged=1,
                      normalized=0),
    )


class Figures(HTMLParser):
    """Collects each <figure>: its class, its image source (or None) and its caption text."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict] = []
        self.scripts = 0
        self.external: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            link = values.get(name) or ""
            if link and not link.startswith(("data:", "#")):
                self.external.append(link)
        if tag == "figure":
            self.figures.append({"class": values.get("class") or "", "src": None, "text": ""})
            self._depth = 1
        elif self._depth and tag == "img":
            self.figures[-1]["src"] = values.get("src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._depth = 0

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.figures[-1]["text"] += data


def parse(page: str) -> Figures:
    parser = Figures()
    parser.feed(page)
    return parser


def figure_for(parsed: Figures, path: str) -> dict:
    matches = [f for f in parsed.figures if path in f["text"]]
    assert matches, f"no figure shows {path}"
    return matches[0]


def test_report_is_self_contained_with_a_picture_of_every_decodable_file(tmp_path: Path) -> None:
    page = render_report(make_dataset_report(tmp_path), tmp_path)
    parsed = parse(page)
    assert parsed.scripts == 0
    assert parsed.external == []
    for path in ("train/cat/big.jpg", "val/cat/small.jpg", "train/cat/same.png", "train/dog/same.jpg",
                 "train/dog/dark.jpg"):
        source = figure_for(parsed, path)["src"]
        assert source and source.startswith("data:image/jpeg;base64,")
        thumb = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert max(thumb.size) <= 128


def test_undecodable_file_gets_a_placeholder_not_a_broken_image(tmp_path: Path) -> None:
    parsed = parse(render_report(make_dataset_report(tmp_path), tmp_path))
    truncated = figure_for(parsed, "alert")
    assert truncated["src"] is None
    assert "no preview" in truncated["text"]
    assert "image file is truncated <b>" in truncated["text"]


def test_every_string_from_the_report_is_escaped(tmp_path: Path) -> None:
    page = render_report(make_dataset_report(tmp_path), tmp_path)
    assert "<script>" not in page
    assert "truncated <b>" not in page and "truncated &lt;b&gt;" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;.jpg" in page


def test_kept_image_is_marked_and_moved_copies_show_their_distance_how_they_matched_and_why_they_lost(
        tmp_path: Path) -> None:
    parsed = parse(render_report(make_dataset_report(tmp_path), tmp_path))
    kept = figure_for(parsed, "train/cat/big.jpg")
    moved = figure_for(parsed, "val/cat/small.jpg")
    assert "kept" in kept["class"].split()
    assert "KEPT" in kept["text"] and "mirrored" not in kept["text"]
    assert "kept" not in moved["class"].split()
    assert "d=4" in moved["text"] and "mirrored, cropped" in moved["text"] and "KEPT" not in moved["text"]
    assert "less detail" in moved["text"] and "less detail" not in kept["text"]


def test_conflict_and_leakage_groups_are_highlighted_and_listed_first(tmp_path: Path) -> None:
    page = render_report(make_dataset_report(tmp_path), tmp_path)
    conflict = re.search(r'<div class="([^"]*)" id="group-2"', page)
    leakage = re.search(r'<div class="([^"]*)" id="group-1"', page)
    assert conflict and "conflict" in conflict.group(1).split()
    assert leakage and "leakage" in leakage.group(1).split()
    assert conflict.start() < leakage.start()
    assert "1 train/val pair(s) fixed" in page


def count_row(page: str, name: str) -> list[str]:
    row = re.search(rf'<tr(?: class="total")?><td class="name">{name}</td>(.*?)</tr>', page)
    assert row, f"no counts row for {name}"
    return re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))


def test_counts_table_shows_before_after_and_removed_per_class_and_split(tmp_path: Path) -> None:
    page = render_report(make_dataset_report(tmp_path), tmp_path)
    assert '<th colspan="3">train</th><th colspan="3">val</th>' in page
    assert count_row(page, "dog") == ["3", "1", "−2", "0", "0", "0"]
    assert count_row(page, "cat") == ["2", "1", "−1", "1", "0", "−1"]
    assert count_row(page, "all classes") == ["5", "2", "−3", "1", "0", "−1"]


def test_duplicate_rule_is_written_out_for_one_kind_any_kind_and_every_kind() -> None:
    assert rule_text("phash", (8,)) == ("pHash ≤ 8", "pHash")
    assert rule_text("phash,dhash", (8, 7)) == ("pHash ≤ 8 or dHash ≤ 7", "pHash")
    assert rule_text("dhash+whash", (10, 10)) == ("dHash ≤ 10 and wHash ≤ 10", "dHash")


def test_dry_run_pictures_files_where_they_still_are(tmp_path: Path) -> None:
    report = make_dataset_report(tmp_path, dry_run=True)
    assert not (tmp_path / "_quarantine").exists()
    page = render_report(report, tmp_path)
    parsed = parse(page)
    assert "Dry run" in page
    assert figure_for(parsed, "val/cat/small.jpg")["src"]


def test_moved_file_is_read_from_quarantine(tmp_path: Path) -> None:
    report = make_dataset_report(tmp_path)
    assert not (tmp_path / "val/cat/small.jpg").exists()
    assert figure_for(parse(render_report(report, tmp_path)), "val/cat/small.jpg")["src"]


def test_empty_report_renders_with_clear_empty_sections(tmp_path: Path) -> None:
    empty = CurateReport(version=1, root=tmp_path, dry_run=False, finished_at="2026-11-23T10:00:00Z",
                         seconds=0.5, settings=SETTINGS, counts=CountsBeforeAfter(before={}, after={}), rejected=(),
                         groups=(), leakage_pairs_fixed=0, label_conflicts=0, flags=(), normalized=(),
                         totals=Totals(0, 0, 0, 0, 0, 0, 0))
    page = render_report(empty, tmp_path)
    assert "No file was rejected." in page and "No duplicates." in page and "No image was flagged." in page


def test_past_the_thumbnail_limit_files_are_listed_without_pictures(tmp_path: Path) -> None:
    parsed = parse(render_report(make_dataset_report(tmp_path), tmp_path, max_thumbnails=2))
    pictured = [f for f in parsed.figures if f["src"]]
    assert len(pictured) == 2
    assert "train/cat/same.png" in pictured[0]["text"]  # the label conflict comes first
    assert "preview limit reached" in figure_for(parsed, "train/dog/dark.jpg")["text"]
    assert "truncated" in figure_for(parsed, "alert")["text"]


def test_thumbnails_of_tricky_files_are_upright_rgb_and_bad_files_get_none(tmp_path: Path) -> None:
    good = make_tricky_good_files(tmp_path / "good")
    for name in good:
        uri = thumbnail_uri(tmp_path / "good" / name)
        assert uri, name
        thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert thumb.mode == "RGB"
        if name == "rotated.jpg":
            assert thumb.height > thumb.width
    for name in make_bad_files(tmp_path / "bad"):
        if name not in ("tiny.png", "banner.jpg"):
            assert thumbnail_uri(tmp_path / "bad" / name) is None, name


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`)")
def test_chromium_renders_the_groups_with_their_pictures(tmp_path: Path) -> None:
    root = tmp_path / "data"
    report = make_dataset_report(root)
    page = root / "curate_report.html"
    page.write_text(render_report(report, root), encoding="utf-8")
    screenshot = tmp_path / "report.png"
    done = run_chromium(["--window-size=1280,1600", f"--screenshot={screenshot}", "--dump-dom", page.as_uri()],
                        tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = parse(done.stdout)
    shown = {f["text"] for f in parsed.figures}
    for path in ("train/cat/big.jpg", "val/cat/small.jpg", "train/cat/same.png", "train/dog/same.jpg"):
        assert any(path in text for text in shown), path
    assert 'id="group-1"' in done.stdout and 'id="group-2"' in done.stdout
    assert "KEPT" in done.stdout and "label conflict" in done.stdout
    assert screenshot.is_file()
    with Image.open(screenshot) as shot:
        pixels = shot.convert("RGB")
        assert shot.size == (1280, 1600)
        # The page is not blank: the dark header and the green frame of the kept image are painted.
        colours = {colour for _, colour in pixels.getcolors(maxcolors=1 << 20) or []}
        assert (0x24, 0x29, 0x2F) in colours
        assert (0x1A, 0x7F, 0x37) in colours
