"""Throughput of `collect` against a tutorial-style sequential download loop, on one local image server.

The server (the test fake, in its own process) answers every image after 50 ms and
serves 2,000 distinct JPEGs of about 50 KB. The sequential loop fetches a sample
one request at a time and writes each file, as the classic tutorials do; its rate
is per-image, so a sample measures it. `collect` fetches all 2,000 through the
real CLI in a subprocess, whose own peak RSS the kernel reports when it exits.

    python bench/collect_throughput.py [--images 2000] [--sequential-sample 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUERY = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, images: int, latency: float) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_engine", "--port", str(port), "--images-per-query", str(images),
         "--latency", str(latency), "--image-size", "384x288", "--noise", "--prepare", QUERY],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    server.stdout.readline()  # printed once every image is generated and the socket listens
    return server


def image_urls(base: str, count: int) -> list[str]:
    return [f"{base}/img/{QUERY}/{i}.jpg" for i in range(count)]


def sequential_loop(urls: list[str], folder: Path) -> float:
    """The tutorials' loop, one blocking request at a time, each body written to a file.

    It reuses one keep-alive connection, which the tutorials do not: that makes it
    the fastest sequential loop, and the printed ratio a lower bound.
    """
    folder.mkdir(parents=True)
    start = time.perf_counter()
    with httpx.Client() as client:
        for i, url in enumerate(urls):
            response = client.get(url, timeout=10)
            (folder / f"{i}.jpg").write_bytes(response.content)
    return time.perf_counter() - start


def run_collect(base: str, pages: int, out: Path) -> tuple[float, dict, float]:
    """Run the CLI; return its wall seconds, its JSON summary and its own peak RSS in MB."""
    command = [sys.executable, "-m", "collector", "--classes", QUERY, "--engine", "bing",
               "--endpoint", f"bing={base}/bing", "--pages", str(pages), "--allow-private-addresses",
               "--out", str(out), "--json", "--quiet"]
    with tempfile.TemporaryFile("w+") as stdout:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=stdout)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"collect failed with exit status {os.waitstatus_to_exitcode(status)}")
        stdout.seek(0)
        return seconds, json.loads(stdout.read()), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--sequential-sample", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()

    port = free_port()
    server = start_server(port, args.images, args.latency)
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="collect-bench-"))
    try:
        sizes = [len(httpx.get(url).content) for url in image_urls(base, 20)]
        sample = image_urls(base, args.sequential_sample)
        sequential_seconds = sequential_loop(sample, work / "sequential")
        pages = -(-(args.images + 3) // 35)
        collect_seconds, summary, peak_rss_mb = run_collect(base, pages, work / "collect")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)

    saved = sum(c["saved"] for c in summary["classes"])
    sequential_rate = len(sample) / sequential_seconds
    collect_rate = saved / collect_seconds
    print(f"server: {args.images} images, mean {sum(sizes) / len(sizes) / 1024:.0f} KB, "
          f"{args.latency * 1000:.0f} ms latency per image")
    print(f"sequential loop : {len(sample):5d} images in {sequential_seconds:6.2f} s = {sequential_rate:7.1f} images/s")
    print(f"collect         : {saved:5d} images in {collect_seconds:6.2f} s = {collect_rate:7.1f} images/s "
          "(process start, search and manifest included)")
    print(f"ratio collect / sequential: {collect_rate / sequential_rate:.1f}x")
    print(f"peak RSS of collect: {peak_rss_mb:.0f} MB")
    if saved < args.images:
        sys.exit(f"collect saved only {saved} of {args.images} images")


if __name__ == "__main__":
    main()
