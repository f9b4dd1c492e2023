"""The `collect` command as a user meets it: options, output, exit codes, interruptions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from collector.cli import main
from tests.collect.helpers import closed_port, image_files, manifest_rows
from tests.fake_engine.server import FakeEngine, FakeServer

ROOT = Path(__file__).resolve().parents[2]


def endpoint_args(server: FakeServer, *engines: str) -> list[str]:
    args = []
    for engine in engines:
        args += ["--engine", engine, "--endpoint", f"{engine}={server.url}/{engine}"]
    return args


def invoke(*args: str):
    return CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)


def test_help_explains_every_option():
    result = invoke("--help")
    assert result.exit_code == 0
    for option in ("--out", "--classes", "--classes-file", "--query", "--engine", "--pages", "--per-class",
                   "--val-fraction", "--seed", "--concurrency", "--timeout", "--max-bytes", "--min-side",
                   "--endpoint", "--allow-private-addresses", "--dry-run", "--json", "--max-pages", "--per-host",
                   "--ignore-noai", "--contact", "--check", "--retries", "--license"):
        assert option in result.output


def test_classes_option_takes_several_names_and_json_summary_is_parseable(fake, tmp_path):
    result = invoke("--classes", "cat", "dog", "--out", str(tmp_path), "--json", "--allow-private-addresses",
                    *endpoint_args(fake, "bing"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [c["name"] for c in summary["classes"]] == ["cat", "dog"]
    assert all(c["saved"] > 0 for c in summary["classes"])
    assert (tmp_path / "train" / "cat").is_dir() and (tmp_path / "val" / "dog").is_dir()


def test_table_summary_lists_failures_by_reason(fake, tmp_path):
    result = invoke("--query", "broken=faults", "--out", str(tmp_path), "--allow-private-addresses",
                    "--timeout", "1", "--retries", "0", "--max-bytes", "4MB", *endpoint_args(fake, "openverse"))
    assert result.exit_code == 0, result.output
    header, _, row = result.stdout.splitlines()
    assert header.split()[:6] == ["class", "candidates", "saved", "already", "duplicates", "failed"]
    assert row.startswith("broken") and "http-404 1" in row and "too-many-redirects 2" in row


@pytest.mark.parametrize("args, message", [
    (["--classes", "a/b"], "path separator"),
    (["--classes", "../etc"], "cannot start with"),
    (["--classes", ".."], "cannot start with"),
    ([], "no classes given"),
    (["--query", "cat"], "CLASS=TEXT"),
    (["--classes", "cat", "--endpoint", "bing"], "NAME=http"),
    (["--classes", "cat", "--val-fraction", "1.5"], "--val-fraction"),
    (["--classes", "cat", "--license", "cc-by"], "unknown licence 'cc-by': use any, cc, commercial, modification"),
])
def test_bad_input_is_a_one_line_usage_error(args, message, tmp_path):
    result = invoke(*args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "manifest.sqlite").exists()


def test_license_filter_reports_what_each_engine_dropped_in_the_table_and_the_json(fake, tmp_path):
    args = ["--query", "cat=lawless cat", "--allow-private-addresses", "--license", "cc,commercial",
            *endpoint_args(fake, "openverse", "bing")]
    table = invoke(*args, "--out", str(tmp_path / "a"))
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[-1] == "dropped outside --license cc,commercial: openverse 7"

    result = invoke(*args, "--out", str(tmp_path / "b"), "--json")
    summary = json.loads(result.stdout)
    assert summary["license"] == "cc,commercial" and summary["license_dropped"] == {"openverse": 7}
    assert summary["classes"][0]["license_dropped"] == {"openverse": 7}
    assert (tmp_path / "b" / "README.md").is_file() and (tmp_path / "b" / "train" / "metadata.jsonl").is_file()


def test_classes_file_names_classes_and_their_queries(fake, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("# pets\nkitty: cat | kitten\npuppy\n", encoding="utf-8")
    out = tmp_path / "data"
    result = invoke("--classes-file", str(classes), "--out", str(out), "--allow-private-addresses",
                    *endpoint_args(fake, "bing"))
    assert result.exit_code == 0, result.output
    queries = {(r["class"], r["query"]) for r in manifest_rows(out)}
    assert queries == {("kitty", "cat"), ("kitty", "kitten"), ("puppy", "puppy")}


def test_a_corrupt_manifest_is_a_one_line_error_and_is_left_alone(fake, tmp_path):
    (tmp_path / "manifest.sqlite").write_bytes(b"this is not a database" * 100)
    result = invoke("--classes", "cat", "--out", str(tmp_path), *endpoint_args(fake, "bing"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "not a usable manifest" in result.output
    assert (tmp_path / "manifest.sqlite").read_bytes() == b"this is not a database" * 100


def test_no_network_exits_nonzero_naming_each_unreachable_engine(tmp_path):
    port = closed_port()
    result = invoke("--classes", "cat", "--out", str(tmp_path), "--engine", "bing", "--engine", "wikimedia",
                    "--endpoint", f"bing=http://127.0.0.1:{port}", "--endpoint", f"wikimedia=http://127.0.0.1:{port}",
                    "--retries", "0")
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: no search engine could be reached") and "bing" in last and "wikimedia" in last


def test_a_file_where_the_output_folder_should_be_is_a_clear_error(fake, tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    result = invoke("--classes", "cat", "--out", str(blocker), *endpoint_args(fake, "bing"))
    assert result.exit_code != 0
    assert "Traceback" not in result.output and blocker.read_text() == "not a folder"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, sig):
    server = FakeServer(FakeEngine(images_per_query=60, latency=0.05, image_size=(320, 240), noise=True)).start()
    out = tmp_path / "data"
    command = [sys.executable, "-m", "collector", "--classes", "cat", "--out", str(out), "--pages", "2",
               "--concurrency", "4", "--allow-private-addresses", "--quiet", *endpoint_args(server, "bing")]
    try:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(image_files(out)) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, sig)
        _, stderr = process.communicate(timeout=60)
        if sig == signal.SIGINT:
            assert process.returncode == 130
            assert stderr.decode().strip().splitlines()[-1] == "interrupted: run the same command again to resume"
        interrupted = image_files(out)
        assert 10 <= len(interrupted) < 63
        rows = manifest_rows(out)
        claimed = {r["path"] for r in rows if r["status"] in ("saved", "saving")}
        assert {str(f.relative_to(out)) for f in interrupted} <= claimed
        assert all((out / r["path"]).is_file() for r in rows if r["status"] == "saved")
        for path in interrupted:
            with Image.open(path) as image:
                image.load()
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, check=False)
        assert finished.returncode == 0, finished.stderr
    finally:
        server.stop()
    rows = manifest_rows(out)
    saved = {r["path"] for r in rows if r["status"] == "saved"}
    assert saved == {str(f.relative_to(out)) for f in image_files(out)}
    assert len(saved) == 61 and not any(r["status"] == "saving" for r in rows)
    assert not list(out.rglob("*.part"))


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 256 KiB tmpfs: room for a manifest and a few images, then `No space left on device`."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mountpoint)],
                                           check=False, capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root and permission to mount")
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write into, root included (a read-only mount), or for others a mode-0555 folder."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                      check=False, capture_output=True).returncode != 0:
        pytest.skip("root can write anywhere unless a read-only mount is permitted")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def assert_one_line_error(result, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_classic_mistakes_are_one_line_errors_with_a_documented_exit_code(fake, tmp_path, read_only_folder):
    assert "Exit status" in invoke("--help").output
    base = ["--classes", "cat", *endpoint_args(fake, "bing"), "--allow-private-addresses"]

    line = assert_one_line_error(invoke("--classes-file", str(tmp_path / "missing.txt"), "--out", str(tmp_path)), 2)
    assert "cannot read classes file" in line and "missing.txt" in line

    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    assert "cannot use output folder" in assert_one_line_error(invoke(*base, "--out", str(blocker)))
    assert blocker.read_text() == "not a folder"

    line = assert_one_line_error(invoke(*base, "--out", str(read_only_folder / "data")))
    assert "cannot use output folder" in line and ("Read-only" in line or "Permission denied" in line)

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "manifest.sqlite").write_bytes(b"garbage" * 200)
    assert "not a usable manifest" in assert_one_line_error(invoke(*base, "--out", str(corrupt)))
    assert (corrupt / "manifest.sqlite").read_bytes() == b"garbage" * 200


def test_a_full_disk_is_a_one_line_error(tmp_path, tiny_filesystem):
    server = FakeServer(FakeEngine(images_per_query=30, image_size=(320, 240), noise=True)).start()
    try:
        result = invoke("--classes", "cat", *endpoint_args(server, "bing"), "--allow-private-addresses",
                        "--out", str(tiny_filesystem / "data"))
    finally:
        server.stop()
    line = assert_one_line_error(result)
    assert "No space left on device" in line or "disk is full" in line


def test_ignore_noai_saves_what_x_robots_tag_opts_out_of_ai(fake, tmp_path):
    args = ["--query", "tagged=noai", "--allow-private-addresses", "--json", *endpoint_args(fake, "bing")]
    polite = json.loads(invoke(*args, "--out", str(tmp_path / "polite")).stdout)["classes"][0]
    assert polite["saved"] == 1 and polite["failures"] == {"noai": 2}
    ignoring = json.loads(invoke(*args, "--ignore-noai", "--out", str(tmp_path / "all")).stdout)["classes"][0]
    assert ignoring["saved"] == 3 and ignoring["failures"] == {}
