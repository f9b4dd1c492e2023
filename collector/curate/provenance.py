"""Curate's side of `ROOT/manifest.sqlite`: find the rows of a file, and record where it went and why.

A quarantined image's row gets status `quarantined:<reason>` and its new path: `collect` re-fetches only `pending`
and transiently failed rows, so it never downloads that URL again, and `undo` puts status and path back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ..database import connect_read_only
from ..manifest import FILENAME, LIVE_STATUSES, QUARANTINED, ManifestError
from .audit.records import Origin
from .audit.sources import domain

COLUMNS = ("status", "path", "format", "bytes", "width", "height")


def manifest_path(root: Path) -> Path | None:
    path = root / FILENAME
    return path if path.is_file() else None


class ManifestRows:
    """Reads and writes `images` rows by path; every write is committed at once (moves depend on it)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        try:
            self.db = connect_read_only(path) if read_only else sqlite3.connect(path)
        except sqlite3.DatabaseError as error:
            raise ManifestError(f"{path} is not a usable manifest: {error}") from error
        try:
            names = {row[1] for row in self.db.execute("PRAGMA table_info(images)")}
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise ManifestError(f"{path} is not a usable manifest: {error}") from error
        missing = [name for name in ("id", *COLUMNS) if name not in names]
        if missing:
            self.db.close()
            raise ManifestError(f"{path} is not a collector manifest: no images table with {', '.join(missing)}")

    def close(self) -> None:
        self.db.close()

    def rows_at(self, paths: Iterable[str]) -> dict[str, list[dict]]:
        """{path: [row as a dict of id and COLUMNS]} for the rows recorded at these paths."""
        wanted = list(paths)
        found: dict[str, list[dict]] = {}
        columns = ", ".join(("id", *COLUMNS))
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self.db.execute(f"SELECT {columns} FROM images WHERE path IN ({marks})", chunk):
                    record = dict(zip(("id", *COLUMNS), row, strict=True))
                    found.setdefault(record["path"], []).append(record)
        except sqlite3.DatabaseError as error:
            raise ManifestError(f"cannot read {self.path}: {error}") from error
        return found

    def set_rows(self, changes: Iterable[tuple[int, dict]]) -> None:
        try:
            with self.db:
                for row_id, values in changes:
                    names = [name for name in values if name in COLUMNS]
                    if names:
                        assignments = ", ".join(f"{name} = ?" for name in names)
                        self.db.execute(f"UPDATE images SET {assignments} WHERE id = ?",
                                        [*(values[name] for name in names), row_id])
        except sqlite3.DatabaseError as error:
            raise ManifestError(f"cannot write {self.path}: {error}") from error


def moved_row(row: dict, reason: str, target: str) -> tuple[dict, dict]:
    """(before, after) of a row whose file moves to the quarantine; rows that only point at it keep their status."""
    before = {"status": row["status"], "path": row["path"]}
    status = f"{QUARANTINED}{reason}" if row["status"] in LIVE_STATUSES else row["status"]
    return before, {"status": status, "path": target}


def replaced_row(row: dict, output: str, fmt: str, size: int, width: int, height: int) -> tuple[dict, dict]:
    """(before, after) of a row whose file is re-encoded by --normalize; its sha256 stays that of the download."""
    if row["status"] not in LIVE_STATUSES:
        return {"path": row["path"]}, {"path": output}
    before = {name: row[name] for name in ("path", "format", "bytes", "width", "height")}
    return before, {"path": output, "format": fmt, "bytes": size, "width": width, "height": height}


def origins_at(manifest: ManifestRows, paths: Iterable[str]) -> dict[str, Origin]:
    """{path: engine, query and source domain} of the live rows at these paths (the first row when several)."""
    wanted = list(paths)
    found: dict[str, Origin] = {}
    marks_live = ",".join("?" * len(LIVE_STATUSES))
    try:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for path, engine, query, source_page, final_url, url in manifest.db.execute(
                    f"SELECT path, engine, query, source_page, final_url, url FROM images WHERE path IN ({marks})"
                    f" AND status IN ({marks_live}) ORDER BY id", [*chunk, *LIVE_STATUSES]):
                found.setdefault(path, Origin(engine or "", query or "", domain(source_page, final_url, url)))
    except sqlite3.DatabaseError as error:
        raise ManifestError(f"cannot read {manifest.path}: {error}") from error
    return found


def relabelled_row(row: dict, target: str) -> tuple[dict, dict]:
    """(before, after) of a row whose file moves to another class folder: only its path changes, and its class
    stays the one it was collected for, the provenance that tells which search brought it."""
    return {"path": row["path"]}, {"path": target}
