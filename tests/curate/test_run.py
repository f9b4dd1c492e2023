"""The curate pipeline on real files: what moved where, what the report and the manifest say, and that nothing is
ever lost: undo restores every byte, a dry run touches nothing, a second run changes nothing, a crash rolls back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from collector.curate.journal import JOURNAL, Journal
from collector.curate.run import CurateError, curate, undo
from tests.collect.helpers import collect_from, image_files, manifest_rows
from tests.curate.conftest import make_photo, make_tricky_good_files
from tests.curate.datasets import HIDDEN, KEPT, UNUSABLE_ROOTS, build_dataset, everything, tree_digest

CURATED = ("_quarantine", "curate_report")


def moves_of(report: dict) -> dict[str, str]:
    """{path: quarantine reason} read off the report's rejected files and group members."""
    items = [*report["rejected"], *(m for g in report["groups"] for m in g["members"])]
    return {item["path"]: item["moved_to"].split("/")[1] for item in items if item["moved_to"]}


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "data"
    return root, build_dataset(root)


def test_every_rejected_file_moves_to_its_reason_folder_with_its_bytes(dataset) -> None:
    root, expected = dataset
    before = tree_digest(root)
    report = curate(root, workers=1, progress=False).to_json()
    assert moves_of(report) == expected
    for relative, reason in expected.items():
        assert not (root / relative).exists()
        assert tree_digest(root / "_quarantine" / reason)[relative] == before[relative]
    for relative in [*KEPT, *HIDDEN]:
        assert tree_digest(root)[relative] == before[relative]


def test_json_report_on_disk_follows_the_schema(dataset) -> None:
    root, _ = dataset
    report = curate(root, workers=1, progress=False).to_json()
    assert json.loads((root / "curate_report.json").read_text()) == report
    assert "<html" in (root / "curate_report.html").read_text().lower()
    assert report["version"] == 1 and report["root"] == str(root.resolve()) and report["dry_run"] is False
    assert report["counts"]["before"] == {"train": {"cat": 4, "dog": 15}, "val": {"cat": 1, "dog": 1}}
    assert report["counts"]["after"] == {"train": {"cat": 2, "dog": 3}, "val": {"dog": 1}}
    assert report["leakage_pairs_fixed"] == 1 and report["label_conflicts"] == 1
    assert report["totals"] == {"scanned": 21, "accepted": 6, "rejected": 11, "duplicates_removed": 2,
                                "conflicts_removed": 2, "flagged": 1, "normalized": 0}
    [leak] = [g for g in report["groups"] if g["leakage"]]
    assert [(m["path"], m["kept"], m["moved_to"]) for m in leak["members"]] == [
        ("train/cat/c2.jpg", True, None),
        ("val/cat/c2_small.jpg", False, "_quarantine/duplicate/val/cat/c2_small.jpg"),
    ]
    [exact] = [g for g in report["groups"] if g["kind"] == "exact"]
    assert {m["path"] for m in exact["members"]} == {"train/cat/c1.jpg", "train/cat/c1.png"}
    [flagged] = report["flags"]
    assert flagged["path"] == "train/dog/dark.jpg" and flagged["flags"] == ["dark"] and flagged["moved_to"] is None
    truncated = next(r for r in report["rejected"] if r["path"] == "train/dog/truncated.jpg")
    assert truncated == {"path": "train/dog/truncated.jpg", "split": "train", "class": "dog", "reason": "truncated",
                         "detail": truncated["detail"], "moved_to": "_quarantine/truncated/train/dog/truncated.jpg"}
    settings = report["settings"]
    assert settings["hash"] == "phash" and settings["threshold"] == [8]
    assert settings["views"] == ["mirror", "centre", "mirror-centre", "top-left", "top-right", "bottom-left",
                                 "bottom-right", "top", "bottom", "left", "right", "content", "square",
                                 "square-start", "square-end", "portrait", "portrait-start", "portrait-end", "pin",
                                 "story", "print", "photo", "video", "wide", "wide-upper"]
    assert settings["view_margin"] == 2 and settings["min_similarity"] == 0.8


def test_undo_restores_every_byte(dataset) -> None:
    root, _ = dataset
    before = tree_digest(root)
    curate(root, workers=1, progress=False)
    result = undo(root)
    assert result.restored == 15 and result.conflicts == []
    assert tree_digest(root, skip=("_quarantine",)) == before  # the run's reports went with it
    assert sorted(p.name for p in (root / "_quarantine").iterdir()) == ["journal.sqlite"]
    assert undo(root).run_id is None  # nothing left to undo


def test_dry_run_touches_nothing(dataset) -> None:
    root, expected = dataset
    before = everything(root)
    report = curate(root, workers=1, progress=False, dry_run=True, normalize=True, reject_quality=True).to_json()
    assert everything(root) == before
    assert report["dry_run"] is True
    assert moves_of(report) == {**expected, "train/dog/dark.jpg": "quality-dark"}


def test_second_run_changes_nothing_and_undo_still_reverts_the_first(dataset) -> None:
    root, _ = dataset
    original = tree_digest(root)
    curate(root, workers=1, progress=False)
    after_first = tree_digest(root, skip=("curate_report",))
    second = curate(root, workers=1, progress=False).to_json()
    assert tree_digest(root, skip=("curate_report",)) == after_first
    assert moves_of(second) == {} and second["totals"]["scanned"] == 6
    undo(root)
    assert tree_digest(root, skip=CURATED) == original
    assert (root / "curate_report.json").exists()  # the second run's report, not the undone run's, stays


def interrupt_moves_after(count: int, monkeypatch) -> list[str]:
    """Make the journal raise KeyboardInterrupt after `count` real moves, as Ctrl-C would; returns what moved."""
    real_move = Journal._move
    moved: list[str] = []

    def move(self, source, target):
        if len(moved) == count:
            raise KeyboardInterrupt
        moved.append(source)
        real_move(self, source, target)

    monkeypatch.setattr(Journal, "_move", move)
    return moved


def test_an_interrupted_run_is_rolled_back_by_the_next_run(dataset, monkeypatch) -> None:
    root, expected = dataset
    original = tree_digest(root)
    calls = interrupt_moves_after(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        curate(root, workers=1, progress=False)
    monkeypatch.undo()
    assert sum(not (root / path).exists() for path in calls) == 3
    before_dry_run = everything(root)
    assert curate(root, workers=1, progress=False, dry_run=True).pending_rollback == 1
    assert everything(root) == before_dry_run
    result = curate(root, workers=1, progress=False)
    assert result.recovered == 3
    assert moves_of(result.to_json()) == expected
    undo(root)
    assert tree_digest(root, skip=CURATED) == original


def test_undo_of_an_interrupted_run_puts_its_moves_back(dataset, monkeypatch) -> None:
    root, _ = dataset
    original = tree_digest(root)
    interrupt_moves_after(5, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        curate(root, workers=1, progress=False)
    monkeypatch.undo()
    assert undo(root).restored == 5
    assert tree_digest(root, skip=CURATED) == original


def test_reject_quality_quarantines_flagged_images(dataset) -> None:
    root, expected = dataset
    report = curate(root, workers=1, progress=False, reject_quality=True).to_json()
    assert moves_of(report) == {**expected, "train/dog/dark.jpg": "quality-dark"}
    assert (root / "_quarantine/quality-dark/train/dog/dark.jpg").is_file()


def test_undo_never_overwrites_a_file_put_back_by_hand(dataset) -> None:
    root, _ = dataset
    curate(root, workers=1, progress=False)
    (root / "train/dog/empty.jpg").write_bytes(b"mine")
    result = undo(root)
    assert result.restored == 14 and len(result.conflicts) == 1
    assert (root / "train/dog/empty.jpg").read_bytes() == b"mine"
    assert (root / "_quarantine/empty/train/dog/empty.jpg").exists()


def test_a_name_used_by_an_earlier_run_is_not_overwritten(dataset) -> None:
    root, _ = dataset
    curate(root, workers=1, progress=False)
    (root / "train/dog/empty.jpg").write_bytes(b"")
    report = curate(root, workers=1, progress=False).to_json()
    assert [r["moved_to"] for r in report["rejected"]] == ["_quarantine/empty/train/dog/empty.1.jpg"]
    assert (root / "_quarantine/empty/train/dog/empty.jpg").exists()


def test_normalize_reencodes_to_plain_rgb_and_keeps_the_originals(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_tricky_good_files(root / "pets")
    make_photo(120, 90, seed=7).save(root / "pets" / "plain.jpg", quality=90)
    before, untouched = tree_digest(root), everything(root)
    planned = curate(root, workers=1, progress=False, normalize=True, dry_run=True).to_json()
    assert everything(root) == untouched
    report = curate(root, workers=1, progress=False, normalize=True).to_json()
    assert report["normalized"] == planned["normalized"] and len(report["normalized"]) >= 5
    outputs = {n["path"]: n["output"] for n in report["normalized"]}
    assert "pets/plain.jpg" not in outputs
    assert outputs["pets/photo.webp"] == "pets/photo.jpg"
    assert outputs["pets/png_named.jpg"] == "pets/png_named.png"
    for source, output in outputs.items():
        assert tree_digest(root / "_quarantine" / "normalized")[source] == before[source]
        with Image.open(root / output) as image:
            assert image.mode == "RGB" and image.format in ("JPEG", "PNG")
            assert image.getexif().get(0x0112, 1) == 1
    mode = (root / "pets/plain.jpg").stat().st_mode & 0o777
    assert {(root / output).stat().st_mode & 0o777 for output in outputs.values()} == {mode}
    assert (root / "curate_report.json").stat().st_mode & 0o777 == mode
    with Image.open(root / outputs["pets/rotated.jpg"]) as image:
        assert image.size == (80, 120)
    assert curate(root, workers=1, progress=False, normalize=True).to_json()["normalized"] == []
    undo(root)
    assert tree_digest(root, skip=CURATED) == before


def test_manifest_records_moves_and_collect_does_not_fetch_them_again(fake, tmp_path: Path) -> None:
    root = tmp_path / "data"
    collect_from(fake, root, ["cat", "dog"])
    copies = [r for r in manifest_rows(root) if r["status"] == "duplicate"]  # rows whose bytes another row holds
    victim = next(r for r in manifest_rows(root) if r["status"] == "saved" and r["path"] == copies[0]["path"])
    data = (root / victim["path"]).read_bytes()
    (root / victim["path"]).write_bytes(data[: len(data) // 2])
    rows_before = {r["id"]: dict(r) for r in manifest_rows(root)}

    report = curate(root, workers=1, progress=False).to_json()
    rows = {r["id"]: dict(r) for r in manifest_rows(root)}
    target = f"_quarantine/truncated/{victim['path']}"
    assert rows[victim["id"]]["status"] == "quarantined:truncated" and rows[victim["id"]]["path"] == target
    for copy in (r for r in copies if r["path"] == victim["path"]):
        assert rows[copy["id"]]["status"] == "duplicate" and rows[copy["id"]]["path"] == target  # follows its file
    moved = moves_of(report)
    for row in rows.values():
        if row["status"].startswith("quarantined:"):
            assert rows_before[row["id"]]["path"] in moved and (root / row["path"]).is_file()
        if row["status"] == "saved":
            assert (root / row["path"]).is_file()

    files = image_files(root)
    again = collect_from(fake, root, ["cat", "dog"])
    assert again.saved == 0 and image_files(root) == files
    assert {r["id"]: dict(r) for r in manifest_rows(root)} == rows

    undo(root)
    assert {r["id"]: dict(r) for r in manifest_rows(root)} == rows_before


def test_collect_does_not_bring_back_quarantined_bytes_from_another_url(fake, tmp_path: Path) -> None:
    root = tmp_path / "data"
    collect_from(fake, root, ["cat"])
    copy = next(r for r in manifest_rows(root) if r["status"] == "duplicate")
    victim = next(r for r in manifest_rows(root) if r["status"] == "saved" and r["path"] == copy["path"])
    data = (root / victim["path"]).read_bytes()
    (root / victim["path"]).write_bytes(data[: len(data) // 2])
    curate(root, workers=1, progress=False)
    with sqlite3.connect(root / "manifest.sqlite") as db:  # as if the copy's URL were found only now
        db.execute("UPDATE images SET status = 'pending', sha256 = NULL, path = NULL WHERE id = ?", (copy["id"],))
    files = image_files(root)

    again = collect_from(fake, root, ["cat"])

    row = next(r for r in manifest_rows(root) if r["id"] == copy["id"])
    assert again.saved == 0 and image_files(root) == files
    assert row["status"] == "duplicate" and row["path"] == f"_quarantine/truncated/{victim['path']}"


def test_a_process_pool_gives_the_same_answer_as_one_process(dataset) -> None:
    root, _ = dataset
    alone = curate(root, workers=1, progress=False, dry_run=True).to_json()
    pooled = curate(root, workers=2, progress=False, dry_run=True).to_json()
    for report in (alone, pooled):
        report.pop("seconds"), report.pop("finished_at")
    assert pooled == alone


def test_a_flat_layout_is_curated_with_an_empty_split(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    (root / "cat").mkdir(parents=True)
    photo = make_photo(200, 150, seed=3)
    photo.save(root / "cat" / "a.png")
    photo.resize((100, 75)).save(root / "cat" / "a_small.png")
    (root / "cat" / "page.jpg").write_text("<html><body>blocked</body></html>")
    make_photo(120, 90, seed=4).save(root / "cat" / "_MG_0001.jpg")  # a camera's name, not a hidden file
    (root / "cat" / "._MG_0001.jpg").write_bytes(b"\x00\x05\x16\x07")
    (root / "cat" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    report = curate(root, workers=1, progress=False).to_json()
    assert report["counts"] == {"before": {"": {"cat": 4}}, "after": {"": {"cat": 2}}}
    assert moves_of(report) == {"cat/a_small.png": "duplicate", "cat/page.jpg": "not-image"}


@pytest.mark.parametrize("make, message", UNUSABLE_ROOTS)
def test_unusable_roots_raise_a_clear_error(tmp_path: Path, make, message: str) -> None:
    root = tmp_path / "root"
    make(root)
    with pytest.raises(CurateError, match=message):
        curate(root, workers=1, progress=False)


def test_a_corrupt_manifest_is_reported_and_nothing_moves(dataset) -> None:
    root, _ = dataset
    (root / "manifest.sqlite").write_bytes(b"this is not a database" * 100)
    before = everything(root)
    with pytest.raises(Exception, match="not a usable manifest"):
        curate(root, workers=1, progress=False)
    assert everything(root) == before


def test_journal_lives_in_the_quarantine_and_lists_every_move(dataset) -> None:
    root, expected = dataset
    curate(root, workers=1, progress=False)
    db = sqlite3.connect(root / JOURNAL)
    try:
        moved = dict(db.execute("SELECT source, reason FROM operations"))
        states = [state for (state,) in db.execute("SELECT state FROM runs")]
    finally:
        db.close()
    assert moved == expected and states == ["done"]


def test_nested_folders_belong_to_their_class_and_a_test_split_counts_as_leakage(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "train" / "cat" / "indoor").mkdir(parents=True)
    (root / "test" / "cat").mkdir(parents=True)
    photo = make_photo(200, 150, seed=8)
    photo.save(root / "train" / "cat" / "indoor" / "a.png")
    photo.save(root / "test" / "cat" / "a.png")
    make_photo(200, 150, seed=9).save(root / "test" / "cat" / "b.png")
    report = curate(root, workers=1, progress=False).to_json()
    assert report["counts"]["before"] == {"test": {"cat": 2}, "train": {"cat": 1}}
    assert moves_of(report) == {"test/cat/a.png": "duplicate"}  # same pixels and size: train keeps its copy
    assert report["leakage_pairs_fixed"] == 1
