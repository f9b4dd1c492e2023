"""`--per-class` as a target: pages are read on demand, a short class is topped up, a full one costs nothing."""

from __future__ import annotations

from collections import Counter

from collector.curate import curate
from tests.collect.helpers import collect_from, image_files, manifest_rows
from tests.fake_engine.server import FakeEngine, FakeServer

BING_PAGES = "/bing/images/async"


def total_requests(server: FakeServer) -> int:
    return sum(len(times) for times in server.fake.request_times.values())


def test_target_reads_further_pages_until_each_class_holds_it(tmp_path):
    server = FakeServer(FakeEngine(images_per_query=80)).start()
    try:
        summary = collect_from(server, tmp_path, ["cat"], per_class=50, max_pages=5)
        assert summary.classes["cat"].saved == 50
        # 35 results a page: the second page is needed, the third never is.
        assert server.fake.requests(BING_PAGES) == 2
        assert summary.warnings == []
    finally:
        server.stop()


def test_target_out_of_reach_stops_at_max_pages_and_says_so(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat"], per_class=40, max_pages=3)
    # The fake has 12 images for `cat` and the image all classes share: one page holds them all.
    assert summary.classes["cat"].saved == 13
    assert fake.fake.requests(BING_PAGES) == 2, "the second page comes back empty and ends the walk"
    assert summary.warnings == ["cat: 13 of the 40 images wanted; more --max-pages or more queries may help"]


def test_rerun_with_the_target_met_sends_no_request_at_all(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat", "dog"], per_class=5)
    before = total_requests(fake)
    summary = collect_from(fake, tmp_path, ["cat", "dog"], per_class=5)
    assert total_requests(fake) == before
    assert summary.saved == 0 and summary.failure_cause() is None
    assert {c.already_saved for c in summary.classes.values()} == {5}


def test_collect_after_curate_tops_the_class_up_to_its_target(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat"], per_class=6)
    files = image_files(tmp_path)
    assert len(files) == 6
    for broken in files[:2]:
        broken.write_bytes(broken.read_bytes()[:300])
    curate(tmp_path, progress=False)
    statuses = Counter(r["status"] for r in manifest_rows(tmp_path))
    assert sum(n for status, n in statuses.items() if status.startswith("quarantined:")) == 2
    assert len(image_files(tmp_path)) == 4

    summary = collect_from(fake, tmp_path, ["cat"], per_class=6)
    assert summary.classes["cat"].saved == 2
    assert len(image_files(tmp_path)) == 6
    assert Counter(r["status"] for r in manifest_rows(tmp_path))["saved"] == 6
