"""Manners towards image hosts: a few requests at a time, a pause for the whole host after 429 or 503,
`X-Robots-Tag: noai` honoured, and a User-Agent that says who is asking."""

from __future__ import annotations

import asyncio

import pytest

from collector.addresses import AddressPolicy
from collector.fetch import ClientPool, Fetcher, FetchError, FetchLimits
from collector.hosts import HostManners, HostPaused
from collector.robots import opts_out_of_ai
from tests.collect.helpers import LOOPBACK_ONLY, collect_from
from tests.fake_engine.server import FakeEngine, FakeServer


def test_a_429_pauses_every_request_to_that_host_and_no_other(tmp_path):
    server = FakeServer(FakeEngine(images_per_query=8), image_hosts=2).start()
    try:
        summary = collect_from(server, tmp_path, ["busy"], per_host=1)
    finally:
        server.stop()
    fake = server.fake
    assert summary.classes["busy"].saved == 8, "the refused image is fetched again once the pause is over"
    refused_at = fake.request_times[fake.busy_refused][0]
    paused_host = fake.hosts[fake.busy_refused]
    by_host: dict[bool, list[float]] = {True: [], False: []}
    for path, times in fake.request_times.items():
        if path.startswith("/busy/"):
            by_host[fake.hosts[path] == paused_host] += [t for t in times if t > refused_at]
    assert len(by_host[True]) == 4, "the refused image once more, and the paused host's three others"
    assert min(by_host[True]) - refused_at >= 0.95, "Retry-After: 1 holds back every request to the host"
    assert max(by_host[False]) < min(by_host[True]), "the other host is not held back"


def test_a_slow_down_without_retry_after_pauses_the_host_for_a_doubling_backoff():
    now = [100.0]
    manners = HostManners(per_host=2, backoff=0.5, max_wait=60, clock=lambda: now[0])
    pauses = []
    for _ in range(4):
        manners.slow_down("a.example:443", None)
        pauses.append(manners.state("a.example:443").resume_at - now[0])
    assert pauses == [0.5, 1.0, 2.0, 4.0]
    manners.answered("a.example:443")
    now[0] += 10
    manners.slow_down("a.example:443", None)
    assert manners.state("a.example:443").resume_at - now[0] == 0.5
    assert manners.state("b.example:443").resume_at == 0, "hosts are paused one by one"


def test_a_host_asking_for_longer_than_the_crawl_waits_is_skipped_until_then():
    manners = HostManners(per_host=1, max_wait=60)
    manners.slow_down("a.example:443", 3600)

    async def take_turn():
        async with manners.turn("a.example:443"):
            pass

    with pytest.raises(HostPaused, match="asked for a pause of 3600 s"):
        asyncio.run(take_turn())


@pytest.mark.parametrize("headers, verdict", [
    (["noai"], "noai"),
    (["noindex, NoImageAI"], "noimageai"),
    (["noindex", "noai"], "noai"),
    (["imgharvest: noai"], "noai"),
    (["otherbot: noai"], None),
    (["max-image-preview: large, noimageai"], "noimageai"),
    (["noindex, nofollow"], None),
    ([], None),
])
def test_x_robots_tag_opt_outs_are_read_per_robot(headers, verdict):
    assert opts_out_of_ai(headers) == verdict


def fetch(url: str, honour_noai: bool) -> bytes:
    async def run():
        async with ClientPool(1, FetchLimits()) as clients:
            fetcher = Fetcher(clients, AddressPolicy.allow_all(), FetchLimits(), honour_noai=honour_noai)
            return (await fetcher.fetch(url)).data

    return asyncio.run(run())


def test_noai_images_are_refused_unless_the_option_turns_it_off(fake):
    with pytest.raises(FetchError) as refused:
        fetch(f"{fake.url}/fault/noai.jpg", honour_noai=True)
    assert refused.value.reason == "noai" and not refused.value.transient
    assert fetch(f"{fake.url}/fault/noai.jpg", honour_noai=False).startswith(b"\xff\xd8")


def test_image_downloads_name_the_crawler_its_project_and_the_operator(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat"], contact="ops@example.org", policy=LOOPBACK_ONLY)
    agents = {agent for path, agent in fake.fake.user_agents.items() if path.startswith("/img/")}
    assert agents == {"imgharvest/0.1 (image dataset collector; +ops@example.org)"}
