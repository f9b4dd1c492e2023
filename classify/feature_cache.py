"""A SQLite file of image features keyed by the backbone's identity and the image file's content hash, so a
second audit after a top-up only runs the model over the new images, wherever files were moved or renamed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .errors import ClassifyError

SCHEMA = """CREATE TABLE IF NOT EXISTS features (
    backbone TEXT NOT NULL,
    digest TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (backbone, digest)
) WITHOUT ROWID"""
LOOKUP_CHUNK = 500  # digests per query, below SQLite's limit on bound parameters


class FeatureCacheError(ClassifyError):
    """The cache file cannot be opened, read or written."""


class FeatureCache:
    """Float32 vectors by (backbone, digest). Each `put` is one transaction: an interrupted run keeps what it
    finished, and a reader never sees half a batch."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(self.path)
            self.connection.execute(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise FeatureCacheError(f"feature cache {self.path}: {error}; pass another cache path or delete "
                                    "the file to start afresh") from error

    def close(self) -> None:
        self.connection.close()

    def get(self, backbone: str, digests: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those `digests` that have one."""
        found: dict[str, np.ndarray] = {}
        unique = sorted(set(digests))
        try:
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start:start + LOOKUP_CHUNK]
                rows = self.connection.execute(
                    f"SELECT digest, vector FROM features WHERE backbone = ? AND digest IN ({','.join('?' * len(chunk))})",
                    [backbone, *chunk])
                found.update((digest, np.frombuffer(vector, dtype=np.float32)) for digest, vector in rows)
        except sqlite3.Error as error:
            raise FeatureCacheError(f"feature cache {self.path} cannot be read ({error}); delete it to start "
                                    "afresh") from error
        return found

    def put(self, backbone: str, vectors: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(backbone, digest, np.ascontiguousarray(vector, dtype=np.float32).tobytes())
                for digest, vector in vectors]
        try:
            with self.connection:
                self.connection.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?)", rows)
        except sqlite3.Error as error:
            raise FeatureCacheError(f"feature cache {self.path} cannot be written ({error})") from error
