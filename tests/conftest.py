"""Shared fixtures: the fake search engine on a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_engine.server import FakeEngine, FakeServer


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer(FakeEngine(images_per_query=12, max_bytes_served=6 * 2**20)).start()
    yield server
    server.stop()
