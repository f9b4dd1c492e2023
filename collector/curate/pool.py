"""Inspect every file of a dataset in a pool of processes: decoding is CPU-bound, and Ctrl-C must stop it at once."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

from tqdm import tqdm

from .inspect import Inspection, InspectOptions, inspect_image
from .layout import Entry


def inspect_all(root: Path, entries: Sequence[Entry], options: InspectOptions, workers: int | None,
                progress: bool) -> list[Inspection]:
    """Inspect every file, in a pool of processes when more than one is allowed."""
    paths = [root / entry.path for entry in entries]
    workers = min(workers or usable_cpus(), len(paths))
    job = partial(inspect_image, options=options)
    with tqdm(total=len(paths), desc="inspecting", unit="img", disable=not progress, leave=False) as bar:
        if workers <= 1:
            return [_tick(bar, job(path)) for path in paths]
        chunk = max(1, min(64, len(paths) // (workers * 8)))
        # A Pool, not a ProcessPoolExecutor: leaving the block terminates the workers at once, so Ctrl-C does not
        # wait for every queued file. The workers are born ignoring SIGINT and leave it to this process.
        with _sigint_ignored():
            pool = multiprocessing.Pool(workers)
        with pool:
            return [_tick(bar, result) for result in pool.imap(job, paths, chunksize=chunk)]


def usable_cpus() -> int:
    """CPUs this process may run on (a container or taskset can allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while child processes are forked, so they inherit that; only the main thread may do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _tick(bar: tqdm, result: Inspection) -> Inspection:
    bar.update(1)
    return result
