"""Shared fixtures: the fake search engine on a real socket, small disks that fill up or refuse writes, and child
processes that Ctrl-C reaches."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_engine.server import FakeEngine, FakeServer


@pytest.fixture(autouse=True, scope="session")
def interruptible_children() -> None:
    """Let SIGINT reach the child processes the Ctrl-C tests interrupt, as it reaches a terminal's foreground program:
    a shell starts a background job (`pytest &`, some CI runners) with SIGINT ignored, and every child inherits an
    ignored signal, but one that is caught is reset to its default when the child starts."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer(FakeEngine(images_per_query=12, max_bytes_served=6 * 2**20)).start()
    yield server
    server.stop()


class SmallDisks:
    """Real small file systems (tmpfs) for the disk-failure tests: full, or read-only. Mounting needs root (or
    CAP_SYS_ADMIN); where it is refused, the test that asked is skipped."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.mounted: list[Path] = []

    def mount(self, size: str) -> Path:
        point = self.base / f"disk{len(self.mounted)}"
        point.mkdir()
        self._run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point))
        self.mounted.append(point)
        return point

    def make_read_only(self, point: Path) -> None:
        self._run("mount", "-o", "remount,ro", str(point))

    @staticmethod
    def fill(point: Path, leave: int) -> Path:
        """Write a filler file so that only `leave` bytes stay free; delete it to free the space again."""
        stats = os.statvfs(point)
        filler = point / "filler"
        filler.write_bytes(bytes(max(0, stats.f_bavail * stats.f_frsize - leave)))
        return filler

    def unmount_all(self) -> None:
        for point in reversed(self.mounted):
            subprocess.run(["umount", str(point)], capture_output=True, check=False)

    @staticmethod
    def _run(*command: str) -> None:
        if shutil.which(command[0]) is None:
            pytest.skip(f"no {command[0]} command here")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"{' '.join(command[:3])} is not permitted here: {done.stderr.strip()}")


@pytest.fixture
def small_disks(tmp_path: Path) -> Iterator[SmallDisks]:
    disks = SmallDisks(tmp_path)
    yield disks
    disks.unmount_all()
