"""`collect` end to end against the fake engine on a real socket: the disk and the manifest are the evidence."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import re
import sqlite3
from collections import Counter
from dataclasses import replace

import pytest
from PIL import Image

import collector
from collector.addresses import AddressPolicy
from tests.collect.helpers import QUICK_LIMITS, closed_port, collect_from, image_files, manifest_rows
from tests.fake_engine.server import FAULTS, LICENSES, FakeEngine, FakeServer

ENGINES = ("bing", "baidu", "duckduckgo", "wikimedia", "openverse")


def assert_dataset_consistent(out):
    """Every file decodes, is named by its hash, is unique, and matches exactly one saved manifest row."""
    files = image_files(out)
    digests = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert len(set(digests)) == len(digests), "byte-identical files saved twice"
    for path, digest in zip(files, digests, strict=True):
        assert path.stem == digest[:32]
        with Image.open(path) as image:
            image.load()
    saved = {r["path"]: r for r in manifest_rows(out) if r["status"] == "saved"}
    assert sorted(saved) == sorted(str(f.relative_to(out)) for f in files)
    for path, row in saved.items():
        assert row["sha256"].startswith(path.rsplit("/", 1)[1].split(".")[0])
        assert path.split("/")[:2] == [row["split"], row["class"]]
    assert not list(out.rglob("*.part"))


def test_collect_fills_train_and_val_for_every_class_from_every_engine(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat", "dog"], engines=ENGINES, pages=3, val_fraction=0.3)
    assert_dataset_consistent(tmp_path)
    rows = manifest_rows(tmp_path)
    for name in ("cat", "dog"):
        saved = [r for r in rows if r["class"] == name and r["status"] == "saved"]
        assert {r["split"] for r in saved} == {"train", "val"}
        assert {r["engine"] for r in rows if r["class"] == name} <= set(ENGINES)
    # 12 distinct images per class, plus one image both classes share: saved once in all.
    assert sum(c.saved for c in summary.classes.values()) == 2 * 12 + 1
    assert summary.failure_cause() is None


def test_manifest_records_provenance_of_every_saved_image(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat"], engines=("wikimedia",))
    saved = [r for r in manifest_rows(tmp_path) if r["status"] == "saved"]
    assert saved
    for row in saved:
        assert row["query"] == "cat" and row["engine"] == "wikimedia" and row["rank"] >= 1
        assert row["url"].startswith(fake.url) and row["final_url"]
        assert row["format"] == "JPEG" and row["width"] == 160 and row["height"] == 120
        assert row["bytes"] == (tmp_path / row["path"]).stat().st_size
        assert row["fetched_at"]
    licensed = [r for r in saved if "/img/cat/" in r["url"]]
    assert all(r["author"] and r["source_page"] for r in licensed)
    for row in licensed:
        stated = LICENSES[int(row["url"].rsplit("/", 1)[1].split(".")[0]) % len(LICENSES)]
        assert row["license"] == stated
        assert (row["license_url"] is None) == (stated is None)


def test_same_bytes_are_saved_once_within_and_across_classes(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat", "dog"])
    rows = manifest_rows(tmp_path)
    duplicates = [r for r in rows if r["status"] == "duplicate"]
    # Two aliases of image 0 in each class, and the shared image in whichever class came second.
    assert len(duplicates) == 5
    assert sum(c.duplicates for c in summary.classes.values()) == 5
    for row in duplicates:
        assert (tmp_path / row["path"]).is_file()
    assert_dataset_consistent(tmp_path)


def test_every_fault_gets_its_own_status_and_nothing_bad_is_saved(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["faults"])
    statuses = {r["url"].removeprefix(fake.url): r["status"] for r in manifest_rows(tmp_path)}
    assert statuses == FAULTS
    assert_dataset_consistent(tmp_path)
    saved_png = [f for f in image_files(tmp_path) if f.suffix == ".png"]
    assert len(saved_png) == 1, "a PNG served as .jpg is saved under its real format"
    assert summary.classes["faults"].failures["timeout"] == 2
    first, second = fake.fake.request_times["/fault/ratelimit/1"]
    assert second - first >= 0.95, "Retry-After: 1 is honoured"


def test_rerun_fetches_nothing_new_and_changes_nothing(fake, tmp_path):
    first = collect_from(fake, tmp_path, ["cat"], engines=("bing", "openverse"))
    before = {f: f.stat().st_mtime_ns for f in image_files(tmp_path)}
    image_requests = sum(len(t) for path, t in fake.fake.request_times.items() if path.startswith(("/img", "/alias")))
    second = collect_from(fake, tmp_path, ["cat"], engines=("bing", "openverse"))
    after_requests = sum(len(t) for path, t in fake.fake.request_times.items() if path.startswith(("/img", "/alias")))
    assert after_requests == image_requests
    assert {f: f.stat().st_mtime_ns for f in image_files(tmp_path)} == before
    assert second.classes["cat"].saved == 0
    assert second.classes["cat"].already_saved == first.classes["cat"].saved
    assert second.failure_cause() is None


def test_transient_failures_are_retried_by_the_next_run(fake, tmp_path):
    no_retries = replace(QUICK_LIMITS, retries=0)
    collect_from(fake, tmp_path, ["faults"], limits=no_retries)
    status = {r["url"].removeprefix(fake.url): r["status"] for r in manifest_rows(tmp_path)}
    assert status["/fault/flaky/1"] == "failed:http-500"
    assert status["/fault/ratelimit/1"] == "failed:http-429"
    collect_from(fake, tmp_path, ["faults"], limits=no_retries)
    status = {r["url"].removeprefix(fake.url): r["status"] for r in manifest_rows(tmp_path)}
    assert status["/fault/flaky/1"] == status["/fault/ratelimit/1"] == "saved"
    assert status["/fault/404"] == "failed:http-404"
    assert fake.fake.requests("/fault/404") == 1, "permanent failures are not retried"


def test_per_class_cap_stops_saving_and_leaves_the_rest_for_later(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat"], per_class=5)
    assert summary.classes["cat"].saved == 5
    assert len(image_files(tmp_path)) == 5
    summary = collect_from(fake, tmp_path, ["cat"], per_class=8)
    assert summary.classes["cat"].saved == 3
    assert_dataset_consistent(tmp_path)


def test_existing_images_never_move_between_splits_when_the_dataset_grows(tmp_path):
    small = FakeServer(FakeEngine(images_per_query=10)).start()
    try:
        collect_from(small, tmp_path, ["cat"], val_fraction=0.5)
    finally:
        small.stop()
    before = set(image_files(tmp_path))
    large = FakeServer(FakeEngine(images_per_query=30)).start()
    try:
        collect_from(large, tmp_path, ["cat"], val_fraction=0.5, pages=2)
    finally:
        large.stop()
    after = set(image_files(tmp_path))
    assert before < after
    assert_dataset_consistent(tmp_path)


def test_unknown_query_yields_no_candidates_and_a_cause(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["x"], ["x=nothing here"], engines=ENGINES)
    assert summary.classes["x"].candidates == 0
    assert summary.warnings == []
    assert summary.failure_cause() == "the search engines returned no results for any query"


def test_changed_format_is_a_warning_per_engine_and_the_run_goes_on(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat"], ["cat=changed format", "cat=cat"], engines=ENGINES)
    assert len(summary.warnings) == len(ENGINES)
    assert all("unrecognised response" in w for w in summary.warnings)
    assert summary.classes["cat"].saved == 12 + 1
    assert summary.failure_cause() is None


def test_unreachable_engines_are_named_in_the_failure_cause(fake, tmp_path):
    dead = {name: f"http://127.0.0.1:{closed_port()}/{name}" for name in ("bing", "openverse")}
    summary = collect_from(fake, tmp_path, ["cat"], engines=tuple(dead), endpoints=dead)
    cause = summary.failure_cause()
    assert cause.startswith("no search engine could be reached")
    assert "bing" in cause and "openverse" in cause
    assert image_files(tmp_path) == []


def test_private_addresses_are_refused_by_default(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat"], policy=AddressPolicy())
    statuses = Counter(r["status"] for r in manifest_rows(tmp_path))
    assert statuses == {"failed:private-address": summary.classes["cat"].candidates}
    assert not any(path.startswith("/img") for path in fake.fake.request_times)


def test_dry_run_reports_candidates_and_writes_nothing(fake, tmp_path):
    out = tmp_path / "data"
    summary = collect_from(fake, out, ["cat", "dog"], engines=("bing", "baidu"), dry_run=True)
    assert not out.exists()
    assert summary.classes["cat"].by_engine == {"bing": 15, "baidu": 15}
    assert summary.classes["cat"].candidates == 15


def test_python_api_collects_and_returns_the_summary(fake, tmp_path):
    summary = collector.collect(["cat"], queries={"cat": ["kitten"]}, out=tmp_path, endpoints=fake.endpoints(),
                                allow_private_addresses=True, progress=False)
    assert summary.classes["cat"].saved == 12 + 1
    assert {r["query"] for r in manifest_rows(tmp_path)} == {"kitten"}


def test_recovery_settles_rows_left_mid_write(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat"])
    db = sqlite3.connect(tmp_path / "manifest.sqlite")
    kept, lost = db.execute("SELECT id, path FROM images WHERE status = 'saved' LIMIT 2").fetchall()
    db.execute("UPDATE images SET status = 'saving' WHERE id IN (?, ?)", (kept[0], lost[0]))
    db.commit()
    db.close()
    (tmp_path / lost[1]).unlink()
    summary = collect_from(fake, tmp_path, ["cat"])
    assert summary.classes["cat"].saved == 1, "the row whose file never landed is fetched again"
    assert_dataset_consistent(tmp_path)


def test_a_manifest_from_before_licence_urls_gains_the_column_and_keeps_its_rows(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat"], engines=("openverse",))
    with sqlite3.connect(tmp_path / "manifest.sqlite") as db:
        db.execute("ALTER TABLE images DROP COLUMN license_url")
    before = [dict(r) for r in manifest_rows(tmp_path)]

    again = collect_from(fake, tmp_path, ["cat"], engines=("openverse",))

    rows = [dict(r) for r in manifest_rows(tmp_path)]
    assert again.saved == 0 and [{**r, "license_url": None} for r in before] == rows


def test_python_api_signature_lists_every_option_with_its_one_default():
    parameters = inspect.signature(collector.collect).parameters
    for field in dataclasses.fields(collector.CollectOptions):
        assert parameters[field.name].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["pages"].default == collector.CollectOptions().pages
    assert parameters["per_class"].default is None
    assert "options" not in parameters


@pytest.mark.parametrize("options, message", [
    ({"pgaes": 3}, "collect() has no option 'pgaes'; did you mean 'pages'?"),
    ({"pages": "3"}, "collect() option pages must be int"),
    ({"engines": ("bingo",)}, "unknown engine 'bingo'"),
    ({"per_class": 0}, "per-class target must be at least 1"),
])
def test_python_api_mistakes_raise_the_collector_error(options, message, tmp_path):
    with pytest.raises(collector.CollectorError, match=re.escape(message)):
        collector.collect(["cat"], out=tmp_path, progress=False, **options)
    assert not (tmp_path / "manifest.sqlite").exists()


def test_python_api_missing_classes_file_raises_the_collector_error(tmp_path):
    with pytest.raises(collector.CollectorError, match="cannot read classes file"):
        collector.collect([], classes_file=str(tmp_path / "missing.txt"), out=tmp_path)
