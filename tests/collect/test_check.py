"""`collect --check`: which engines work from here, and why the others do not, in one short run."""

from __future__ import annotations

import json

from click.testing import CliRunner

from collector.cli import main
from tests.collect.helpers import closed_port
from tests.fake_engine.server import FakeEngine, FakeServer

ENGINES = ("bing", "baidu", "duckduckgo", "wikimedia", "openverse")


def check(server: FakeServer, *args: str, dead: tuple[str, ...] = ()):
    endpoints = []
    for engine in ENGINES:
        url = f"http://127.0.0.1:{closed_port()}" if engine in dead else f"{server.url}/{engine}"
        endpoints += ["--endpoint", f"{engine}={url}"]
    return CliRunner().invoke(main, ["--check", *endpoints, *args], catch_exceptions=False)


def test_check_reports_each_engine_and_the_exact_reason_for_those_that_fail():
    server = FakeServer(FakeEngine(blocked=("bing",), garbled=("baidu",))).start()
    try:
        result = check(server, "--json", dead=("openverse",))
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    checks = {c["engine"]: c for c in json.loads(result.output)}
    assert list(checks) == list(ENGINES), "every engine is checked when none is named"
    assert checks["bing"]["status"] == "blocked" and checks["bing"]["reason"] == "http-403 (Forbidden)"
    assert checks["baidu"]["status"] == "blocked"
    assert checks["baidu"]["reason"].startswith("unrecognised response: expected Baidu JSON")
    assert "Verify you are human" in checks["baidu"]["reason"]
    assert checks["openverse"]["status"] == "unreachable" and checks["openverse"]["reason"].startswith("connection")
    for name in ("duckduckgo", "wikimedia"):
        assert checks[name]["status"] == "ok" and checks[name]["works"] and checks[name]["results"] > 0
        assert checks[name]["reason"] is None and checks[name]["seconds"] >= 0
    assert server.fake.requests("/img/cat/0.jpg") == 0, "a check downloads no image"


def test_check_exits_non_zero_with_one_line_when_no_engine_works(fake):
    fake.fake.blocked = ENGINES
    result = check(fake, "--engine", "bing", "--engine", "wikimedia")
    assert result.exit_code == 1
    header, _, *rows, error = result.output.strip().splitlines()
    assert header.split() == ["engine", "status", "results", "latency", "reason"]
    assert [row.split()[:2] for row in rows] == [["bing", "blocked"], ["wikimedia", "blocked"]]
    assert error == "Error: none of the 2 engines works from here"


def test_check_searches_for_the_first_class_given(fake):
    result = check(fake, "--engine", "openverse", "nothing here")
    assert result.exit_code == 1
    assert "no results for 'nothing here'" in result.output
