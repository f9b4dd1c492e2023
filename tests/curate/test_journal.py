"""The journal on its own: the plan is durable before any move, renames only, exact reversal, and rows restored."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pytest

from collector.curate.journal import (
    JOURNAL,
    STAGING,
    Journal,
    JournalError,
    Operation,
    RowChange,
    quarantine_path,
    sha256_file,
    unused_name,
)


class Rows:
    """A RowWriter that keeps rows in a dict: the manifest's interface without the manifest."""

    def __init__(self, rows: dict[int, dict]) -> None:
        self.rows = rows

    def set_rows(self, changes: Iterable[tuple[int, dict]]) -> None:
        for row_id, values in changes:
            self.rows[row_id].update(values)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / "train" / "cat").mkdir(parents=True, exist_ok=True)
        (tmp_path / "train" / "cat" / name).write_bytes(name.encode() * 100)
    return tmp_path


def plan(*names: str, reason: str = "duplicate") -> list[Operation]:
    return [Operation(reason, f"train/cat/{n}", f"_quarantine/{reason}/train/cat/{n}") for n in names]


def recorded_runs(root: Path) -> list[tuple[int, str]]:
    db = sqlite3.connect(root / JOURNAL)
    try:
        return db.execute("SELECT id, state FROM runs ORDER BY id").fetchall()
    finally:
        db.close()


def test_quarantine_names_keep_the_relative_path_and_never_collide() -> None:
    taken = {"_quarantine/empty/train/cat/a.jpg", "_quarantine/empty/train/cat/a.1.jpg"}
    fresh = quarantine_path("truncated", "train/cat/a.jpg", taken.__contains__)
    assert fresh == "_quarantine/truncated/train/cat/a.jpg"
    assert quarantine_path("empty", "train/cat/a.jpg", taken.__contains__) == "_quarantine/empty/train/cat/a.2.jpg"
    assert unused_name("cat/x.tar.gz", {"cat/x.tar.gz"}.__contains__) == "cat/x.tar.1.gz"


def test_the_plan_is_recorded_before_anything_moves(root: Path) -> None:
    journal = Journal(root)
    run_id = journal.record(plan("a.jpg", "b.jpg"))
    assert (root / "train/cat/a.jpg").exists() and recorded_runs(root) == [(run_id, "running")]
    journal.apply(run_id, plan("a.jpg", "b.jpg"), None)
    assert recorded_runs(root) == [(run_id, "done")]
    assert not (root / "train/cat/a.jpg").exists()
    assert (root / "_quarantine/duplicate/train/cat/a.jpg").read_bytes() == b"a.jpg" * 100


def test_rollback_puts_back_only_what_had_moved_and_restores_rows(root: Path) -> None:
    rows = Rows({1: {"status": "saved", "path": "train/cat/a.jpg"}, 2: {"status": "saved", "path": "train/cat/b.jpg"}})
    operations = [
        Operation(op.reason, op.source, op.target,
                  rows=(RowChange(row_id, {"status": "saved", "path": op.source},
                                  {"status": "quarantined:duplicate", "path": op.target}),))
        for row_id, op in enumerate(plan("a.jpg", "b.jpg"), start=1)
    ]
    journal = Journal(root)
    journal.record(operations)
    journal._move(operations[0].source, operations[0].target)  # the crash came after the first rename
    rows.rows[1].update(operations[0].rows[0].after)
    journal.close()

    reopened = Journal(root)
    assert reopened.recover(rows) == 1
    assert (root / "train/cat/a.jpg").exists() and (root / "train/cat/b.jpg").exists()
    assert rows.rows == {1: {"status": "saved", "path": "train/cat/a.jpg"},
                         2: {"status": "saved", "path": "train/cat/b.jpg"}}
    assert recorded_runs(root) == [(1, "rolled-back")]
    assert not (root / "_quarantine/duplicate").exists()


def test_undo_reverses_the_newest_finished_run_then_the_one_before(root: Path) -> None:
    journal = Journal(root)
    first = journal.record(plan("a.jpg"))
    journal.apply(first, plan("a.jpg"), None)
    second = journal.record(plan("b.jpg", reason="empty"))
    journal.apply(second, plan("b.jpg", reason="empty"), None)
    assert journal.undo_last(None).run_id == second
    assert (root / "train/cat/b.jpg").exists() and not (root / "train/cat/a.jpg").exists()
    assert journal.undo_last(None).run_id == first
    assert (root / "train/cat/a.jpg").exists()
    assert journal.undo_last(None).run_id is None


def test_a_move_never_replaces_an_existing_file(root: Path) -> None:
    journal = Journal(root)
    (root / "_quarantine/duplicate/train/cat").mkdir(parents=True)
    (root / "_quarantine/duplicate/train/cat/a.jpg").write_bytes(b"older")
    run_id = journal.record(plan("a.jpg"))
    with pytest.raises(JournalError, match="already there"):
        journal.apply(run_id, plan("a.jpg"), None)
    assert (root / "_quarantine/duplicate/train/cat/a.jpg").read_bytes() == b"older"
    assert (root / "train/cat/a.jpg").exists()


def test_undo_removes_a_written_copy_only_while_its_bytes_are_unchanged(root: Path) -> None:
    staging = root / STAGING
    staging.mkdir(parents=True)
    (staging / "new.part").write_bytes(b"re-encoded")
    op = Operation("normalized", "train/cat/a.jpg", "_quarantine/normalized/train/cat/a.jpg", "train/cat/a.jpg",
                   sha256_file(staging / "new.part"), f"{STAGING}/new.part")
    journal = Journal(root)
    journal.apply(journal.record([op]), [op], None)
    assert (root / "train/cat/a.jpg").read_bytes() == b"re-encoded"
    journal.undo_last(None)
    assert (root / "train/cat/a.jpg").read_bytes() == b"a.jpg" * 100

    staging.mkdir(parents=True, exist_ok=True)  # undo prunes the folders it emptied
    (staging / "again.part").write_bytes(b"re-encoded")
    op = Operation(op.reason, op.source, op.target, op.output, op.output_sha256, f"{STAGING}/again.part")
    journal.apply(journal.record([op]), [op], None)
    (root / "train/cat/a.jpg").write_bytes(b"edited by hand")
    result = journal.undo_last(None)
    assert result.restored == 0 and len(result.conflicts) == 1
    assert (root / "train/cat/a.jpg").read_bytes() == b"edited by hand"
    assert (root / "_quarantine/normalized/train/cat/a.jpg").read_bytes() == b"a.jpg" * 100


def test_undo_of_a_move_into_a_new_class_folder_removes_that_folder_again(root: Path) -> None:
    relabel = [Operation("relabel", "train/cat/a.jpg", "train/dog/a.jpg")]
    journal = Journal(root)
    journal.apply(journal.record(relabel), relabel, None)
    assert (root / "train/dog/a.jpg").is_file()
    journal.undo_last(None)
    assert (root / "train/cat/a.jpg").is_file() and not (root / "train/dog").exists()


def test_undo_keeps_a_class_folder_that_still_holds_files(root: Path) -> None:
    (root / "train/dog").mkdir()
    (root / "train/dog/own.jpg").write_bytes(b"dog")
    relabel = [Operation("relabel", "train/cat/a.jpg", "train/dog/a.jpg")]
    journal = Journal(root)
    journal.apply(journal.record(relabel), relabel, None)
    journal.undo_last(None)
    assert (root / "train/dog/own.jpg").read_bytes() == b"dog"
