"""Downloading: retry timing and reaching a pinned address by host name."""

from __future__ import annotations

import asyncio
from email.utils import formatdate

import pytest

from collector.addresses import AddressPolicy
from collector.fetch import ClientPool, Fetcher, FetchError, FetchLimits, parse_retry_after
from collector.validate import validate_image
from tests.fake_engine.server import FakeEngine, FakeServer


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("7", now=0) == 7
    assert parse_retry_after(formatdate(1000, usegmt=True), now=990) == pytest.approx(10)
    assert parse_retry_after("soon", now=0) is None


def test_retry_delay_grows_exponentially_honours_retry_after_and_gives_up():
    fetcher = Fetcher(None, AddressPolicy(), FetchLimits(retries=3, backoff=1.0, max_retry_after=60))
    delays = [fetcher._retry_delay(FetchError("timeout", transient=True), n) for n in range(3)]
    assert [0.5 <= d / 2**n <= 1.5 for n, d in enumerate(delays)] == [True] * 3
    assert fetcher._retry_delay(FetchError("timeout", transient=True), 3) is None
    assert fetcher._retry_delay(FetchError("http-404"), 0) is None
    assert fetcher._retry_delay(FetchError("http-429", transient=True, retry_after=30), 0) == 30
    assert fetcher._retry_delay(FetchError("http-429", transient=True, retry_after=3600), 0) is None


def test_fetch_by_host_name_reaches_the_pinned_address_with_the_original_host_header(fake):
    async def fetch():
        async with ClientPool(1, FetchLimits()) as clients:
            fetcher = Fetcher(clients, AddressPolicy.from_networks(["127.0.0.1/32", "::1/128"]), FetchLimits())
            return await fetcher.fetch(f"http://localhost:{fake.server_address[1]}/img/pinned/1.jpg")

    fetched = asyncio.run(fetch())
    assert validate_image(fetched.data).format == "JPEG"
    assert fetched.final_url.startswith("http://localhost:")
    assert fake.fake.hosts["/img/pinned/1.jpg"] == f"localhost:{fake.server_address[1]}"


def test_a_request_reuses_the_kept_alive_connection_of_the_client_that_last_talked_to_its_host():
    server = FakeServer(FakeEngine(), image_hosts=2).start()

    async def fetch_alternating_hosts():
        async with ClientPool(8, FetchLimits()) as clients:
            fetcher = Fetcher(clients, AddressPolicy.allow_all(), FetchLimits())
            for i in range(20):
                await fetcher.fetch(f"{server.fake.image_base(i)}/img/reuse/{i}.jpg")

    try:
        asyncio.run(fetch_alternating_hosts())
    finally:
        server.stop()
    assert server.fake.connections == 2, "one connection per host, not one per client"
