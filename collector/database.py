"""What collector's SQLite files (the manifest, the curate journal) share."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open `path` for reading without a trace: no lock, no -wal or -shm file, so a dry run changes nothing."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
