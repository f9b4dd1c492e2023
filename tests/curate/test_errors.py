"""The `curate` command meets the classic mistakes and failing disks with one `Error:` line, exit code 1 (as its
--help says), no traceback, and every file's bytes still in the dataset or its quarantine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from collector.curate.cli import curate
from tests.curate.conftest import make_photo
from tests.curate.datasets import build_dataset, everything, tree_digest

CURATED = ("_quarantine", "curate_report")


def invoke(*args: str) -> Result:
    # catch_exceptions=False: an exception that escapes the command fails the test with its traceback.
    return CliRunner().invoke(curate, ["--quiet", "--workers", "1", *args], catch_exceptions=False)


def assert_one_line_error(result: Result, *messages: str) -> None:
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert any(message in lines[0] for message in messages), result.output


def assert_nothing_lost(root: Path, before: dict[str, str]) -> None:
    """Every file there was is still under ROOT, byte for byte: where it was, or in the quarantine."""
    assert set(before.values()) <= set(tree_digest(root).values())


def quarantine_is_a_file(root: Path) -> None:
    (root / "_quarantine").write_text("not a folder")


def journal_is_garbage(root: Path) -> None:
    (root / "_quarantine").mkdir(exist_ok=True)
    (root / "_quarantine" / "journal.sqlite").write_bytes(b"\x00garbage, not a database\n" * 200)


def journal_is_another_programs_database(root: Path) -> None:
    (root / "_quarantine").mkdir(exist_ok=True)
    (root / "_quarantine" / "journal.sqlite").unlink(missing_ok=True)
    with sqlite3.connect(root / "_quarantine" / "journal.sqlite") as db:
        db.execute("CREATE TABLE runs (name TEXT)")
    db.close()


def manifest_is_garbage(root: Path) -> None:
    (root / "manifest.sqlite").write_bytes(b"garbage " * 512)


MISTAKES = [
    pytest.param(quarantine_is_a_file, [], "_quarantine is a file", id="quarantine-is-a-file"),
    pytest.param(journal_is_garbage, [], "cannot use the curate journal", id="corrupt-journal"),
    pytest.param(journal_is_garbage, ["--dry-run"], "cannot read the curate journal", id="corrupt-journal-dry-run"),
    pytest.param(journal_is_garbage, ["--undo"], "cannot use the curate journal", id="corrupt-journal-undo"),
    pytest.param(journal_is_another_programs_database, [], "another program's", id="foreign-journal"),
    pytest.param(journal_is_another_programs_database, ["--undo"], "another program's",
                 id="foreign-journal-undo"),
    pytest.param(manifest_is_garbage, [], "not a usable manifest", id="corrupt-manifest"),
    pytest.param(manifest_is_garbage, ["--undo"], "not a usable manifest", id="corrupt-manifest-undo"),
]


def test_help_documents_the_exit_codes() -> None:
    help_text = " ".join(invoke("--help").output.split())
    assert "Exit codes: 0 done; 1 an error, said in one line; 2 a bad option; 130 interrupted" in help_text


@pytest.mark.parametrize("spoil, args, message", MISTAKES)
def test_a_spoilt_dataset_is_a_one_line_error_and_nothing_moves(tmp_path: Path, spoil, args: list[str],
                                                                message: str) -> None:
    root = tmp_path / "data"
    build_dataset(root)
    if "--undo" in args:
        assert invoke(str(root)).exit_code == 0
    spoil(root)
    before = everything(root)
    assert_one_line_error(invoke(*args, str(root)), message)
    assert everything(root) == before


@pytest.mark.parametrize("args", [[], ["--normalize"]], ids=["plain", "normalize"])
def test_a_read_only_dataset_is_a_one_line_error_but_a_dry_run_works(small_disks, args: list[str]) -> None:
    root = small_disks.mount("4m") / "data"
    build_dataset(root)
    make_photo(120, 90, seed=5).save(root / "train" / "cat" / "photo.webp")  # --normalize re-encodes it
    small_disks.make_read_only(root.parent)
    before = everything(root)
    assert_one_line_error(invoke(*args, str(root)), "Read-only file system")
    dry_run = invoke(*args, "--dry-run", str(root))
    assert dry_run.exit_code == 0 and "dry run: nothing was moved or written" in dry_run.output
    assert everything(root) == before


@pytest.mark.parametrize("free", [0, 40_000], ids=["no-room-for-the-journal", "no-room-for-the-report"])
def test_a_full_disk_is_a_one_line_error_and_undo_restores_every_byte(small_disks, free: int) -> None:
    disk = small_disks.mount("1m")
    root = disk / "data"
    build_dataset(root)
    original = tree_digest(root)
    filler = small_disks.fill(disk, free)
    assert_one_line_error(invoke(str(root)), "No space left on device", "database or disk is full")
    assert_nothing_lost(root, original)
    assert not list(root.rglob("*.part"))  # the report was written whole or not at all
    filler.unlink()
    assert invoke("--undo", str(root)).exit_code == 0
    assert tree_digest(root, skip=CURATED) == original
