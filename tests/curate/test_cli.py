"""`curate` from the command line: the table, --json, --dry-run, --undo, and one-line errors instead of tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from collector.curate.cli import curate
from collector.curate.journal import Journal
from tests.curate.conftest import make_photo
from tests.curate.datasets import UNUSABLE_ROOTS, build_dataset, everything, tree_digest

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(curate, ["--quiet", "--workers", "1", *args], catch_exceptions=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    build_dataset(tmp_path / "data")
    return tmp_path / "data"


def test_help_explains_every_option() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for option in ("--min-side", "--max-aspect", "--hash", "--threshold", "--keep-conflicts", "--reject-quality",
                   "--dark", "--bright", "--blur", "--entropy", "--grayscale", "--odd-side", "--odd-aspect",
                   "--normalize", "--dry-run", "--undo", "--workers", "--json", "--quiet"):
        assert option in result.output


def test_table_shows_counts_per_split_and_class_and_the_findings(root: Path) -> None:
    result = invoke(str(root))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["split", "class", "before", "after", "removed", "by", "reason"]
    val_cat = next(line for line in lines if line.startswith("val") and " cat " in line)
    assert val_cat.split()[:4] == ["val", "cat", "1", "0"] and "duplicate 1" in val_cat
    assert "leakage: 1 train/val near-duplicate pairs fixed" in result.output
    assert "label conflicts: 1 groups, 2 files removed" in result.output
    assert f"curate --undo {root.resolve()}" in result.output


def test_json_output_is_the_report_written_to_disk(root: Path) -> None:
    result = invoke(str(root), "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads((root / "curate_report.json").read_text())


def test_dry_run_prints_the_plan_and_touches_nothing(root: Path) -> None:
    before = everything(root)
    result = invoke(str(root), "--dry-run", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["dry_run"] and report["totals"]["duplicates_removed"] == 2
    assert everything(root) == before


def test_undo_restores_the_dataset(root: Path) -> None:
    before = tree_digest(root)
    assert invoke(str(root)).exit_code == 0
    result = invoke("--undo", str(root))
    assert result.exit_code == 0 and result.output.strip() == "restored 15 files from run 1"
    assert tree_digest(root, skip=("_quarantine", "curate_report")) == before
    assert invoke("--undo", str(root)).output.strip() == f"nothing to undo in {root}"


def test_ctrl_c_during_the_moves_exits_130_and_the_next_run_rolls_back(root: Path, monkeypatch) -> None:
    real_move = Journal._move
    moved = []

    def interrupt_after_two(self, source, target):
        if len(moved) == 2:
            raise KeyboardInterrupt
        moved.append(source)
        real_move(self, source, target)

    monkeypatch.setattr(Journal, "_move", interrupt_after_two)
    result = invoke(str(root))
    assert result.exit_code == 130 and "interrupted" in result.output and "Traceback" not in result.output
    monkeypatch.undo()
    again = invoke(str(root))
    assert again.exit_code == 0 and "rolled back 2 moves of an interrupted run first" in again.output


@pytest.mark.parametrize("make, message", UNUSABLE_ROOTS)
def test_unusable_root_is_a_one_line_error(tmp_path: Path, make, message: str) -> None:
    root = tmp_path / "root"
    make(root)
    result = invoke(str(root))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and message in result.output and "Traceback" not in result.output


def test_a_corrupt_manifest_is_a_one_line_error_and_nothing_moves(root: Path) -> None:
    (root / "manifest.sqlite").write_bytes(b"garbage " * 512)
    before = everything(root)
    result = invoke(str(root))
    assert result.exit_code == 1 and "not a usable manifest" in result.output
    assert result.output.count("\n") == 1 and everything(root) == before


@pytest.mark.parametrize("args, message", [
    (["--hash", "md5"], "unknown hash"),
    (["--hash", "phash+dhash,ahash"], "unknown hash"),
    (["--threshold", "65"], "--threshold"),
    (["--threshold", "ten"], "--threshold"),
    (["--hash", "phash+dhash", "--threshold", "4,5,6"], "one per hash kind"),
    (["--min-side", "0"], "--min-side"),
    (["--workers", "0"], "--workers"),
])
def test_bad_options_are_usage_errors(root: Path, args: list[str], message: str) -> None:
    before = everything(root)
    result = invoke(str(root), *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert everything(root) == before


@pytest.mark.slow
def test_ctrl_c_while_inspecting_stops_the_workers_at_once_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "cat").mkdir(parents=True)
    photo = make_photo(160, 120, seed=1)
    for k in range(400):
        photo.rotate(k * 0.9).save(root / "cat" / f"{k:03}.jpg", quality=80)
    before = everything(root)
    command = [sys.executable, "-c", "from collector.curate.cli import curate; curate()", str(root), "--workers", "2"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    assert b"inspecting" in process.stderr.read(64)  # the progress bar is up: the pool is working
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr.decode().strip().splitlines()[-1].startswith("interrupted:")
    assert "Traceback" not in stderr.decode()
    assert everything(root) == before


@pytest.mark.parametrize("rule", ["phash+dhash", "phash,dhash"])
def test_combined_hashes_take_one_threshold_per_kind(root: Path, rule: str) -> None:
    result = invoke(str(root), "--hash", rule, "--threshold", "8,7", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["settings"]["hash"] == rule and report["settings"]["threshold"] == [8, 7]
    assert report["leakage_pairs_fixed"] == 1 and report["label_conflicts"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_run_killed_while_moving_is_rolled_back_to_every_original_byte(tmp_path: Path, sig: int) -> None:
    root = tmp_path / "data"
    for name in ("cat", "dog"):
        (root / "train" / name).mkdir(parents=True)
        for k in range(600):
            (root / "train" / name / f"{k:04}.jpg").write_bytes(b"<html>blocked</html>" if k % 2 else b"")
    make_photo(120, 90, seed=1).save(root / "train" / "cat" / "keep.jpg")
    original = tree_digest(root)
    command = [sys.executable, "-c", "from collector.curate.cli import curate; curate()", str(root), "--workers", "1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    first_move = root / "_quarantine" / "empty" / "train" / "cat" / "0000.jpg"
    while not first_move.exists() and process.poll() is None:
        time.sleep(0.001)
    os.killpg(process.pid, sig)  # in practice mid-way through the 1200 moves; any moment must be recoverable
    process.communicate(timeout=30)
    assert list((root / "_quarantine").rglob("*.jpg"))
    result = invoke("--undo", str(root))
    assert result.exit_code == 0
    assert tree_digest(root, skip=("_quarantine", "curate_report")) == original
