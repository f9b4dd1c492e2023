"""The dataset's provenance: one SQLite row per candidate URL per class, kept in step with the files on disk.

Statuses: `pending` (never tried, or to be retried), `saving` (claimed, file being written),
`saved`, `duplicate` (same bytes as a saved image), and `failed:<reason>`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .candidate import Candidate
from .clock import now
from .errors import CollectorError

FILENAME = "manifest.sqlite"
# Status prefix of a row whose file `curate` moved to its quarantine: `quarantined:<reason>`.
QUARANTINED = "quarantined:"
# Statuses of a row whose file is in the dataset (or is being written into it).
LIVE_STATUSES = ("saving", "saved")

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    class TEXT NOT NULL,
    query TEXT NOT NULL,
    engine TEXT NOT NULL,
    rank INTEGER NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT,
    thumbnail_url TEXT,
    source_page TEXT,
    title TEXT,
    license TEXT,
    author TEXT,
    license_url TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    retryable INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    path TEXT,
    split TEXT,
    bytes INTEGER,
    width INTEGER,
    height INTEGER,
    format TEXT,
    fetched_at TEXT,
    UNIQUE (class, url)
);
CREATE INDEX IF NOT EXISTS images_sha256 ON images (sha256);
CREATE INDEX IF NOT EXISTS images_class_status ON images (class, status);
"""
ADDED_COLUMNS = {"license_url": "TEXT"}
"""Columns newer than the first manifests, added to an older file when it is opened."""


class ManifestError(CollectorError):
    """The manifest file cannot be opened or is not one of ours."""


@dataclass(frozen=True)
class Row:
    """A manifest row that still needs downloading."""

    id: int
    class_name: str
    url: str
    license: str | None = None


@dataclass(frozen=True)
class Saved:
    """Where a content hash already lives on disk."""

    path: str
    class_name: str


class Manifest:
    """All manifest reads and writes; used from one thread (the event loop's).

    Writes gather in one open transaction and are committed together: a commit
    costs a disk write, and a run makes thousands of updates. Only a claim must be
    committed before its file appears (see `durable`); anything else lost in a
    crash is just tried again.
    """

    def __init__(self, path: Path) -> None:
        try:
            self.db = sqlite3.connect(path)
        except sqlite3.Error as error:
            raise ManifestError(f"cannot open the manifest {path}: {error}") from error
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            present = {row[1] for row in self.db.execute("PRAGMA table_info(images)")}
            for name, kind in ADDED_COLUMNS.items():
                if name not in present:
                    self.db.execute(f"ALTER TABLE images ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as error:
            self.db.close()
            raise ManifestError(f"cannot write the manifest {path}: {error}") from error
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise ManifestError(f"{path} is not a usable manifest: {error}") from error
        self._commit: asyncio.Future[None] | None = None

    def close(self) -> None:
        """Commit and close; the file is closed even when the last commit fails (a full disk)."""
        try:
            self.db.commit()
        except sqlite3.Error as error:
            raise ManifestError(f"cannot write the manifest: {error}") from error
        finally:
            self.db.close()

    async def durable(self) -> None:
        """Return once every write so far is committed; callers waiting together share one commit."""
        if self._commit is None:
            loop = asyncio.get_running_loop()
            self._commit = loop.create_future()
            loop.call_soon(self._commit_now)
        await asyncio.shield(self._commit)

    def _commit_now(self) -> None:
        done, self._commit = self._commit, None
        try:
            self.db.commit()
        except sqlite3.Error as error:
            done.set_exception(ManifestError(f"cannot write the manifest: {error}"))
        else:
            done.set_result(None)

    def recover(self, root: Path) -> int:
        """Settle rows an interrupted run left mid-write: saved if the file made it, else pending again."""
        rows = self.db.execute("SELECT id, path FROM images WHERE status = 'saving'").fetchall()
        with self.db:
            for row_id, path in rows:
                if (root / path).is_file():
                    self.db.execute("UPDATE images SET status = 'saved' WHERE id = ?", (row_id,))
                else:
                    self._reset(row_id)
        return len(rows)

    def add(self, candidates: Iterable[Candidate]) -> list[Row]:
        """Record candidates, ignoring URLs the class already has; return the rows that are new."""
        new = []
        for c in candidates:
            hit = c.hit
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO images (class, query, engine, rank, url, thumbnail_url, source_page,"
                " title, license, license_url, author, width, height)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.class_name, c.query, c.engine, c.rank, hit.url, hit.thumbnail_url, hit.source_page,
                 hit.title, hit.license, hit.license_url, hit.author, hit.width, hit.height),
            )
            if cursor.rowcount:
                new.append(Row(cursor.lastrowid, c.class_name, hit.url, hit.license))
        return new

    def to_fetch(self, classes: Iterable[str]) -> list[Row]:
        """Rows of these classes that were never tried or failed transiently, best-ranked first."""
        names = list(classes)
        marks = ",".join("?" * len(names))
        rows = self.db.execute(
            f"SELECT id, class, url, license FROM images WHERE class IN ({marks})"
            " AND (status = 'pending' OR (status LIKE 'failed:%' AND retryable = 1)) ORDER BY rank, id",
            names,
        ).fetchall()
        return [Row(*row) for row in rows]

    def count(self, class_name: str, *statuses: str) -> int:
        marks = ",".join("?" * len(statuses))
        return self.db.execute(
            f"SELECT COUNT(*) FROM images WHERE class = ? AND status IN ({marks})", (class_name, *statuses)
        ).fetchone()[0]

    def candidates(self, class_name: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM images WHERE class = ?", (class_name,)).fetchone()[0]

    def holder(self, sha256: str) -> Saved | None:
        """The image with these bytes that is saved, being saved, or quarantined by `curate`, if any.

        A quarantined copy counts: bytes that `curate` rejected must not come back from another URL."""
        row = self.db.execute(
            "SELECT path, class FROM images WHERE sha256 = ? AND (status IN (?, ?) OR status LIKE ?)"
            " ORDER BY status LIKE ? LIMIT 1",
            (sha256, *LIVE_STATUSES, f"{QUARANTINED}%", f"{QUARANTINED}%"),
        ).fetchone()
        return Saved(*row) if row else None

    def claim(self, row_id: int, *, final_url: str, sha256: str, path: str, split: str, size: int,
              width: int, height: int, fmt: str) -> None:
        """Record an image as being written; the caller awaits `durable` before the file appears."""
        self.db.execute(
            "UPDATE images SET status = 'saving', retryable = 0, attempts = attempts + 1, final_url = ?,"
            " sha256 = ?, path = ?, split = ?, bytes = ?, width = ?, height = ?, format = ?, fetched_at = ?"
            " WHERE id = ?",
            (final_url, sha256, path, split, size, width, height, fmt, now(), row_id),
        )

    def mark_saved(self, row_id: int) -> None:
        self.db.execute("UPDATE images SET status = 'saved' WHERE id = ?", (row_id,))

    def mark_duplicate(self, row_id: int, *, final_url: str, sha256: str, of: Saved, size: int) -> None:
        self.db.execute(
            "UPDATE images SET status = 'duplicate', retryable = 0, attempts = attempts + 1, final_url = ?,"
            " sha256 = ?, path = ?, bytes = ?, fetched_at = ? WHERE id = ?",
            (final_url, sha256, of.path, size, now(), row_id),
        )

    def mark_failed(self, row_id: int, reason: str, *, retryable: bool) -> None:
        self.db.execute(
            "UPDATE images SET status = ?, retryable = ?, attempts = attempts + 1, fetched_at = ? WHERE id = ?",
            (f"failed:{reason}", int(retryable), now(), row_id),
        )

    def _reset(self, row_id: int) -> None:
        self.db.execute(
            "UPDATE images SET status = 'pending', sha256 = NULL, path = NULL, split = NULL, bytes = NULL,"
            " format = NULL WHERE id = ?",
            (row_id,),
        )
