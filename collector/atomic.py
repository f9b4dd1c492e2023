"""Writing files whole or not at all: a reader never sees half a file, and a failure leaves the old one in place."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` (text as UTF-8) to a temporary name beside `path`, then rename it over `path`.

    The file is created like any other (umask), not private as `tempfile.mkstemp` would make it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")  # one per process: no two writers collide
    try:
        with temporary.open("wb") as file:
            file.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    except OSError as error:
        if error.filename:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error  # a full disk says which file it stopped
    finally:
        temporary.unlink(missing_ok=True)
