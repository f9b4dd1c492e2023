"""Safe moves: every run's moves are written to `ROOT/_quarantine/journal.sqlite` before the first one happens.

Nothing is deleted: a file leaves the dataset by a rename into `ROOT/_quarantine/<reason>/<its relative path>`.
Because the whole plan is durable first, a run cut short (Ctrl-C, kill -9, power) is rolled back by the next
run, file by file from what is on disk, and `undo` reverses the last finished run. The only files curate ever
removes are ones it wrote itself (re-encoded copies from `--normalize`, and an undone run's reports), and only
while their bytes are unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar

from ..clock import now
from ..database import connect_read_only
from ..errors import CollectorError, describe_os_error
from .layout import QUARANTINE

JOURNAL = f"{QUARANTINE}/journal.sqlite"
STAGING = f"{QUARANTINE}/.staging"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    state TEXT NOT NULL,  -- running, done, undone, rolled-back
    reports TEXT NOT NULL DEFAULT '{}'  -- {"curate_report.json": sha256, ...}: removed by undo while unchanged
);
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    reason TEXT NOT NULL,
    source TEXT NOT NULL,        -- the file that leaves the dataset, relative to ROOT
    target TEXT NOT NULL,        -- where it goes in the quarantine
    output TEXT,                 -- --normalize: the re-encoded file that takes its place
    output_sha256 TEXT,
    staged TEXT,                 -- --normalize: where the new bytes wait until they move into place
    rows TEXT NOT NULL DEFAULT '[]'  -- manifest rows touched: [{"id": 1, "before": {...}, "after": {...}}]
);
"""


class JournalError(CollectorError):
    """The journal cannot be read or written."""


@dataclass(frozen=True)
class RowChange:
    """A manifest row's columns before and after an operation, so both directions are exact."""

    id: int
    before: dict
    after: dict


@dataclass(frozen=True)
class Operation:
    reason: str
    source: str
    target: str
    output: str | None = None
    output_sha256: str | None = None
    staged: str | None = None
    rows: tuple[RowChange, ...] = ()


@dataclass
class UndoResult:
    run_id: int | None
    restored: int = 0
    conflicts: list[str] = field(default_factory=list)  # files left where they are, with why


class RowWriter(Protocol):
    """Where manifest row changes go: the manifest's writer, or None when the dataset has no manifest."""

    def set_rows(self, changes: Iterable[tuple[int, dict]]) -> None: ...


def quarantine_path(reason: str, source: str, taken: Callable[[str], bool]) -> str:
    """`_quarantine/<reason>/<source>`, made unique if an earlier run already used that name."""
    return unused_name(PurePosixPath(QUARANTINE, reason, source).as_posix(), taken)


def unused_name(path: str, taken: Callable[[str], bool]) -> str:
    """`path`, or with `.1`, `.2`... before its extension while that name is taken."""
    base = PurePosixPath(path)
    candidate, number = base, 0
    while taken(candidate.as_posix()):
        number += 1
        candidate = base.with_name(f"{base.stem}.{number}{base.suffix}")
    return candidate.as_posix()


def interrupted_runs(root: Path) -> int:
    """Runs cut short and not yet rolled back, read without writing anything (for --dry-run)."""
    path = root / JOURNAL
    if not path.is_file():
        return 0
    try:
        db = connect_read_only(path)
        try:
            return db.execute("SELECT COUNT(*) FROM runs WHERE state = 'running'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        raise JournalError(f"cannot read the curate journal {path}: {error}") from error


def clear_staging(root: Path) -> None:
    """Remove re-encoded files a run wrote but never moved into place (it stopped before its plan was recorded)."""
    staging = root / STAGING
    if staging.is_dir():
        for leftover in staging.iterdir():
            leftover.unlink()


def stage(root: Path, staged: str, data: bytes) -> None:
    """Write a re-encoded file's bytes where its recorded operation will move them from."""
    (root / staged).parent.mkdir(parents=True, exist_ok=True)
    with (root / staged).open("xb") as file:  # not mkstemp: its files are private (0600)
        file.write(data)


def sha256_file(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


Method = TypeVar("Method", bound=Callable)


def _sqlite_errors(method: Method) -> Method:
    """A database error in the journal (a full disk, a damaged file) is a JournalError that names the file."""

    @functools.wraps(method)
    def checked(self: Journal, *args: object, **kwargs: object) -> object:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            raise JournalError(f"cannot use the curate journal {self.root / JOURNAL}: {error}") from error

    return checked  # type: ignore[return-value]


class Journal:
    """The run and move log. Open it only for a run that may change something (never for --dry-run)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        path = root / JOURNAL
        if path.parent.exists() and not path.parent.is_dir():
            raise JournalError(f"{path.parent} is a file, but curate keeps its quarantine there: move the file away")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path)
        except OSError as error:
            raise JournalError(f"cannot use the curate journal {path}: {describe_os_error(error)}") from error
        except sqlite3.DatabaseError as error:
            raise JournalError(f"cannot use the curate journal {path}: {error}") from error
        try:
            foreign = _foreign_table(self.db)
            if foreign is None:
                self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise JournalError(f"cannot use the curate journal {path}: {error}") from error
        if foreign is not None:
            self.db.close()
            raise JournalError(f"cannot use the curate journal {path}: its {foreign} table is another program's")

    @staticmethod
    def exists(root: Path) -> bool:
        return (root / JOURNAL).is_file()

    def close(self) -> None:
        self.db.close()

    @_sqlite_errors
    def record(self, operations: Sequence[Operation]) -> int:
        """Write the whole plan durably, before any file moves; return the run id."""
        with self.db:
            run_id = self.db.execute(
                "INSERT INTO runs (started_at, state) VALUES (?, 'running')", (now(),)
            ).lastrowid
            self.db.executemany(
                "INSERT INTO operations (run_id, reason, source, target, output, output_sha256, staged, rows)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, op.reason, op.source, op.target, op.output, op.output_sha256, op.staged,
                  _rows_json(op.rows)) for op in operations],
            )
        return run_id

    @_sqlite_errors
    def apply(self, run_id: int, operations: Sequence[Operation], rows: RowWriter | None,
              on_done: Callable[[], None] = lambda: None) -> None:
        """Carry out a recorded plan, then mark the run done."""
        for op in operations:
            self._move(op.source, op.target)
            if op.output and op.staged:
                self._move(op.staged, op.output)
            on_done()
        if rows is not None:
            rows.set_rows((change.id, change.after) for op in operations for change in op.rows)
        with self.db:
            self.db.execute("UPDATE runs SET state = 'done', finished_at = ? WHERE id = ?", (now(), run_id))

    @_sqlite_errors
    def note_reports(self, run_id: int, reports: dict[str, str]) -> None:
        """Remember the reports written about a run, so undoing it does not leave them behind, stale."""
        with self.db:
            self.db.execute("UPDATE runs SET reports = ? WHERE id = ?", (json.dumps(reports), run_id))

    def unfinished(self) -> list[int]:
        return [row[0] for row in self.db.execute("SELECT id FROM runs WHERE state = 'running' ORDER BY id")]

    @_sqlite_errors
    def recover(self, rows: RowWriter | None) -> int:
        """Roll back every run that was cut short; return how many files went back."""
        restored = 0
        for run_id in self.unfinished():
            restored += self._reverse(run_id, rows, "rolled-back").restored
        clear_staging(self.root)
        return restored

    @_sqlite_errors
    def undo_last(self, rows: RowWriter | None) -> UndoResult:
        """Reverse the newest run that changed something (an unfinished one is rolled back first)."""
        unfinished = self.unfinished()
        if unfinished:
            result = self._reverse(unfinished[-1], rows, "rolled-back")
            clear_staging(self.root)
            return result
        last = self.db.execute("SELECT id FROM runs WHERE state = 'done' ORDER BY id DESC LIMIT 1").fetchone()
        if last is None:
            return UndoResult(None)
        return self._reverse(last[0], rows, "undone")

    def _reverse(self, run_id: int, rows: RowWriter | None, state: str) -> UndoResult:
        result = UndoResult(run_id)
        operations = self._operations(run_id)
        for op in reversed(operations):
            result.restored += self._reverse_one(op, result.conflicts)
        if rows is not None:
            rows.set_rows((change.id, change.before) for op in operations for change in op.rows)
        self._remove_reports(run_id)
        self._prune_quarantine()
        with self.db:
            self.db.execute("UPDATE runs SET state = ?, finished_at = ? WHERE id = ?", (state, now(), run_id))
        return result

    def _reverse_one(self, op: Operation, conflicts: list[str]) -> int:
        root = self.root
        if op.staged and (root / op.staged).exists():
            (root / op.staged).unlink()
        if op.output and (root / op.output).is_file():
            if sha256_file(root / op.output) == op.output_sha256:
                (root / op.output).unlink()
            else:
                conflicts.append(f"{op.output}: changed since curate wrote it, so the original stays at {op.target}")
                return 0
        target, source = root / op.target, root / op.source
        if not target.exists():
            return 0
        if source.exists():
            conflicts.append(f"{op.source}: a file is there again, so {op.target} stays in quarantine")
            return 0
        self._move(op.target, op.source)
        self._remove_if_emptied(target.parent)
        return 1

    def _remove_reports(self, run_id: int) -> None:
        """The run's own reports go with it; a report rewritten since (a later run's) stays."""
        (reports,) = self.db.execute("SELECT reports FROM runs WHERE id = ?", (run_id,)).fetchone()
        for name, sha in json.loads(reports).items():
            path = self.root / name
            if path.is_file() and sha256_file(path) == sha:
                path.unlink()

    def _operations(self, run_id: int) -> list[Operation]:
        found = self.db.execute(
            "SELECT reason, source, target, output, output_sha256, staged, rows FROM operations WHERE run_id = ?"
            " ORDER BY id", (run_id,)
        ).fetchall()
        return [
            Operation(reason, source, target, output, sha, staged,
                      tuple(RowChange(r["id"], r["before"], r["after"]) for r in json.loads(rows)))
            for reason, source, target, output, sha, staged, rows in found
        ]

    def _move(self, source: str, target: str) -> None:
        """Rename within ROOT, never over an existing file."""
        destination = self.root / target
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.exists():
                raise JournalError(f"cannot move {source} to {target}: a file is already there")
            os.replace(self.root / source, destination)
        except OSError as error:
            raise JournalError(f"cannot move {source} to {target}: {error.strerror or error}") from error

    def _remove_if_emptied(self, folder: Path) -> None:
        """A folder in the dataset that a move (a relabel into a split that lacked the class) filled and the undo
        emptied goes too: an empty class folder would make a class with no images."""
        if QUARANTINE in folder.relative_to(self.root).parts[:1]:
            return
        try:
            folder.rmdir()
        except OSError:
            pass

    def _prune_quarantine(self) -> None:
        """Remove the folders the moves created and that are empty again."""
        quarantine = self.root / QUARANTINE
        for current, _, _ in sorted(os.walk(quarantine), key=lambda entry: -len(entry[0])):
            if Path(current) != quarantine:
                try:
                    Path(current).rmdir()
                except OSError:
                    pass


def _foreign_table(db: sqlite3.Connection) -> str | None:
    """The first table of `db` named like one of the journal's but lacking its columns; checked before writing."""
    reference = sqlite3.connect(":memory:")
    try:
        reference.executescript(SCHEMA)
        for table in ("runs", "operations"):
            have = _columns(db, table)
            if have and not _columns(reference, table) <= have:
                return table
        return None
    finally:
        reference.close()


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _rows_json(rows: tuple[RowChange, ...]) -> str:
    return json.dumps([{"id": r.id, "before": r.before, "after": r.after} for r in rows])
