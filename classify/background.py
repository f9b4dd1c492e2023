"""Writing a run's files on a worker thread while the next epoch trains, so the GPU never waits for the disk."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

import torch


class BackgroundWriter:
    """Runs write jobs one at a time, in order, on one worker thread. At most one job waits behind the running
    one, which bounds the memory held by snapshots; a job's error is raised by the next `submit` or `wait`.
    Leaving the `with` block waits for every job, also when training was interrupted."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgharvest-writer")
        self._pending: Future | None = None

    def submit(self, job: Callable[[], None]) -> None:
        self.wait()
        self._pending = self._pool.submit(job)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:
                self._pending.exception()  # finish the write, but let the error already raised be the one reported
        finally:
            self._pool.shutdown()


def snapshot(value: Any) -> Any:
    """`value` with every tensor copied to the CPU: what an epoch's checkpoint holds while training goes on
    changing the tensors in place."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        copied = type(value)((key, snapshot(item)) for key, item in value.items())
        if hasattr(value, "_metadata"):  # a state dict's module versions, which loading consults
            copied._metadata = value._metadata  # type: ignore[attr-defined]
        return copied
    if isinstance(value, list | tuple):
        return type(value)(snapshot(item) for item in value)
    return value
