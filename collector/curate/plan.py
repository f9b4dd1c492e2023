"""The moves of one run, with the names they take, decided before anything is written: planning reads the disk
(which names are taken) and writes nothing, so a dry run and a real run plan the same."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .journal import STAGING, Operation, RowChange, quarantine_path, unused_name
from .normalize import Encoded, output_path
from .provenance import ManifestRows, moved_row, relabelled_row, replaced_row
from .report import Normalized

# The reason of an operation that moves a file to another class folder rather than into the quarantine.
RELABEL = "relabel"


@dataclass(frozen=True)
class Replacement:
    """What a re-encoded file will be, for its manifest row."""

    format: str
    size: int
    width: int
    height: int


@dataclass
class Plan:
    root: Path
    operations: list[Operation] = field(default_factory=list)
    moved_to: dict[str, str] = field(default_factory=dict)  # source -> quarantine path
    outputs: dict[str, Replacement] = field(default_factory=dict)  # normalized output path -> what it holds
    normalized: list[Normalized] = field(default_factory=list)
    _taken: set[str] = field(default_factory=set)

    def taken(self, path: str) -> bool:
        return path in self._taken or (self.root / path).exists()

    def quarantine(self, source: str, reason: str) -> Operation:
        target = quarantine_path(reason, source, self.taken)
        self._taken.add(target)
        self.moved_to[source] = target
        operation = Operation(reason, source, target)
        self.operations.append(operation)
        return operation

    def relabel(self, source: str, split: str, new_class: str) -> Operation:
        """Plan to move `source` into the class folder `new_class` of its split, under a name not yet taken."""
        parts = PurePosixPath(source).parts
        depth = 2 if split else 1  # split/class/... or class/...
        target = unused_name(PurePosixPath(*parts[: depth - 1], new_class, *parts[depth:]).as_posix(), self.taken)
        self._taken.add(target)
        self.moved_to[source] = target
        operation = Operation(RELABEL, source, target)
        self.operations.append(operation)
        return operation

    def normalize(self, source: str, encoded: Encoded, *, stage: bool) -> Operation:
        """Plan to replace `source` by its re-encoded bytes; with `stage`, the operation names the staging file
        where the caller must write `encoded.data` before the plan is carried out."""
        wanted = output_path(source, encoded.format)
        output = wanted if wanted == source else unused_name(wanted, self.taken)
        self._taken.add(output)
        target = quarantine_path("normalized", source, self.taken)
        self._taken.add(target)
        self.moved_to[source] = target
        self.outputs[output] = Replacement(encoded.format, len(encoded.data), encoded.width, encoded.height)
        staged = f"{STAGING}/{os.getpid()}-{len(self.operations)}.part" if stage else None
        sha = hashlib.sha256(encoded.data).hexdigest()
        operation = Operation("normalized", source, target, output, sha, staged)
        self.operations.append(operation)
        self.normalized.append(Normalized(source, output, encoded.format, target))
        return operation

    def attach_rows(self, manifest: ManifestRows) -> None:
        """Add to each operation the manifest rows of its file, before and after."""
        rows = manifest.rows_at(op.source for op in self.operations)
        attached = []
        for op in self.operations:
            changes = []
            for row in rows.get(op.source, []):
                if op.output:
                    new = self.outputs[op.output]
                    before, after = replaced_row(row, op.output, new.format, new.size, new.width, new.height)
                elif op.reason == RELABEL:
                    before, after = relabelled_row(row, op.target)
                else:
                    before, after = moved_row(row, op.reason, op.target)
                changes.append(RowChange(row["id"], before, after))
            attached.append(Operation(op.reason, op.source, op.target, op.output, op.output_sha256, op.staged,
                                      tuple(changes)))
        self.operations = attached
