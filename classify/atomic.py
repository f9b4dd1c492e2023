"""Writing files atomically: a reader never sees half a file, and an interruption leaves the old one in place."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; it replaces `path` when the block succeeds and is removed
    when the block raises."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per process: no two writers collide
    try:
        yield temporary
        temporary.replace(path)
    except OSError as error:
        if error.filename is None or os.fspath(error.filename) == str(temporary):
            # name the file the user asked for, not the temporary one
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise
    finally:
        if temporary.exists():  # False also where a file stands in for the folder
            temporary.unlink()


def write_json(data: dict, path: Path) -> None:
    """`data` as indented UTF-8 JSON."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_torch(payload: Any, path: Path) -> None:
    """`torch.save` whole or not at all. Writing through a Python file makes a full disk the OSError it is, where
    torch's own file writer reports it as an opaque RuntimeError."""
    with atomic_path(path) as temporary, temporary.open("wb") as file:
        torch.save(payload, file)
