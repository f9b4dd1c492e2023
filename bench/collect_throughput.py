"""Throughput of `collect` against a tutorial-style sequential download loop, on local image hosts.

The server (the test fake, in its own process) answers every image after 50 ms and
serves 2,000 distinct JPEGs of about 50 KB, spread over `--image-hosts` listeners
(each its own host:port, as results from many sites are). The sequential loop
fetches a sample one request at a time and writes each file, as the classic
tutorials do; its rate is per-image, so a sample measures it. `collect` fetches all
2,000 through the real CLI in a subprocess, whose own peak RSS the kernel reports
when it exits, with the default --per-host and with `--baseline-per-host` (the old
default, 32) side by side on the same server, `--rounds` times each in alternating
order; the median run of each is printed.

    python bench/collect_throughput.py [--images 2000] [--image-hosts 16] [--sequential-sample 200]
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


def start_server(port: int, images: int, latency: float, image_hosts: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_engine", "--port", str(port), "--images-per-query", str(images),
         "--latency", str(latency), "--image-size", "384x288", "--noise", "--prepare", QUERY,
         "--image-hosts", str(image_hosts)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    server.stdout.readline()  # printed once every image is generated and the socket listens
    return server


def image_urls(base: str, count: int) -> list[str]:
    """The images as the engines' listener serves them too (the sequential loop keeps one connection anyway)."""
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


def run_collect(base: str, pages: int, out: Path, per_host: list[str]) -> tuple[float, dict, float]:
    """Run the CLI; return its wall seconds, its JSON summary and its own peak RSS in MB."""
    command = [sys.executable, "-m", "collector", "--classes", QUERY, "--engine", "bing",
               "--endpoint", f"bing={base}/bing", "--pages", str(pages), "--allow-private-addresses",
               "--out", str(out), "--json", "--quiet", *per_host]
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
    parser.add_argument("--image-hosts", type=int, default=16, help="image listeners (host:port) the images spread over")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each collect, alternating which goes first")
    parser.add_argument("--baseline-per-host", type=int, default=32, help="--per-host of the baseline run (old default)")
    args = parser.parse_args()

    port = free_port()
    server = start_server(port, args.images, args.latency, args.image_hosts)
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="collect-bench-"))
    try:
        sizes = [len(httpx.get(url).content) for url in image_urls(base, 20)]
        sample = image_urls(base, args.sequential_sample)
        sequential_seconds = sequential_loop(sample, work / "sequential")
        pages = -(-(args.images + 3) // 35)
        configs = {"collect (default --per-host)": [],
                   f"collect --per-host {args.baseline_per_host}": ["--per-host", str(args.baseline_per_host)]}
        runs: dict[str, list[tuple[float, dict, float]]] = {name: [] for name in configs}
        for round_number in range(args.rounds):
            order = list(configs) if round_number % 2 == 0 else list(reversed(configs))
            for i, name in enumerate(order):
                runs[name].append(run_collect(base, pages, work / f"{round_number}-{i}", configs[name]))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)

    sequential_rate = len(sample) / sequential_seconds
    print(f"server: {args.images} images over {args.image_hosts} image hosts, mean {sum(sizes) / len(sizes) / 1024:.0f} KB, "
          f"{args.latency * 1000:.0f} ms latency per image")
    print(f"{'sequential loop':30s}: {len(sample):5d} images in {sequential_seconds:6.2f} s = "
          f"{sequential_rate:7.1f} images/s")
    rates = {}
    for name, results in runs.items():
        seconds, summary, peak_rss_mb = sorted(results, key=lambda result: result[0])[(len(results) - 1) // 2]
        saved = sum(c["saved"] for c in summary["classes"])
        rates[name] = saved / seconds
        every = ", ".join(f"{sum(c['saved'] for c in result[1]['classes']) / result[0]:.0f}" for result in results)
        print(f"{name:30s}: {saved:5d} images in {seconds:6.2f} s = {rates[name]:7.1f} images/s, "
              f"peak RSS {peak_rss_mb:.0f} MB (median of {every} images/s; process start, search and manifest "
              "included)")
        if saved < args.images:
            sys.exit(f"{name} saved only {saved} of {args.images} images")
    default, baseline = rates.values()
    print(f"ratio collect (default) / sequential: {default / sequential_rate:.1f}x")
    print(f"ratio default / --per-host {args.baseline_per_host}: {default / baseline:.2f}x")


if __name__ == "__main__":
    main()
