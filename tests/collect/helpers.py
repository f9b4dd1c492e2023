"""Helpers the tests share: run `collect` against the fake engine and read back what it left."""

from __future__ import annotations

import io
import socket
import sqlite3
from pathlib import Path

from PIL import Image

from collector.addresses import AddressPolicy
from collector.classes import build_specs
from collector.crawl import CollectOptions, run_sync
from collector.fetch import FetchLimits
from collector.summary import Summary
from tests.fake_engine.server import FakeServer

LOOPBACK_ONLY = AddressPolicy.from_networks(["127.0.0.1/32"])
QUICK_LIMITS = FetchLimits(timeout=1.0, max_bytes=4 * 2**20, retries=1, backoff=0.05)


def collect_from(server: FakeServer, out: Path, classes: list[str], queries: list[str] = (), **options) -> Summary:
    """Run the real pipeline against the fake engine, trusting only 127.0.0.1."""
    options = {"engines": ("bing",), "policy": LOOPBACK_ONLY, "limits": QUICK_LIMITS, "progress": False,
               "endpoints": server.endpoints(), "out": out, **options}
    return run_sync(build_specs(classes, None, list(queries)), CollectOptions(**options))


def manifest_rows(out: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(out / "manifest.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM images ORDER BY id").fetchall()
    finally:
        db.close()


def image_files(out: Path) -> list[Path]:
    """The files in class folders: a split folder's own files (metadata.jsonl) are not images."""
    return sorted(p for split in ("train", "val") for p in (out / split).glob("*/**/*") if p.is_file())


def encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
