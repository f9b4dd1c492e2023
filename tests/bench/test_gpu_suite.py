"""bench/gpu_suite.py, dry-run on the CPU at tiny sizes, so the GPU proof cannot rot between GPU runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from .conftest import CIFAR_CLASSES

REPO = Path(__file__).resolve().parents[2]


def run_bench(script: str, *arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, f"bench/{script}", *arguments], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_the_dry_run_goes_through_every_step_and_writes_one_table(tiny_datasets: Path, tmp_path: Path) -> None:
    out, peers = tmp_path / "out", tmp_path / "no-peers"
    finished = run_bench("gpu_suite.py", "--dry-run", "--datasets", str(tiny_datasets), "--peers", str(peers),
                         "--work", str(tmp_path / "work"), "--out", str(out), "--budget", "900")
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    report = json.loads((out / "gpu_suite.json").read_text())
    statuses = {step["name"]: step["status"] for step in report["steps"]}
    assert statuses["tests"] == statuses["baselines"] == statuses["finetune"] == "ok"
    assert statuses["airbench"].startswith("skipped: no ")
    figures = {(figure["step"], figure["what"]): figure for step in report["steps"] for figure in step["figures"]}
    for dataset in ("mnist", "cifar10-jpg"):
        assert figures[("baselines", f"{dataset} fast: test accuracy")]["measured"].endswith("over 2 runs")
    assert "classify train" in " ".join(what for step, what in figures if step == "finetune")
    assert figures[("finetune", "timm train.py")]["measured"].startswith("not run")
    if not torch.cuda.is_available():
        assert report["gpu"] == "none"
        assert all("skipped" in figure["measured"] for (step, what), figure in figures.items()
                   if step == "tests" and what != "tests/classify/test_cuda.py")
    table = (out / "gpu_suite.md").read_text()
    assert f"- commit: {report['commit']}" in table and "| baselines | mnist fast: test accuracy |" in table
    with tarfile.open(out / "gpu_suite_logs.tar.gz") as logs:
        assert {"tests.log", "baselines.log", "finetune.log"} <= set(logs.getnames())


@pytest.mark.slow
def test_a_step_past_its_share_of_the_budget_is_stopped_and_reported(tiny_datasets: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    finished = run_bench("gpu_suite.py", "--dry-run", "--steps", "baselines", "--datasets", str(tiny_datasets),
                         "--work", str(tmp_path / "work"), "--out", str(out), "--budget", "2")
    assert finished.returncode == 1
    step, = json.loads((out / "gpu_suite.json").read_text())["steps"]
    assert step["name"] == "baselines" and step["status"].startswith("stopped after ")
    assert "| baselines | stopped after " in (out / "gpu_suite.md").read_text()


@pytest.mark.slow
def test_airbench_data_holds_the_jpeg_pixels_in_cifar_order(tiny_datasets: Path, tmp_path: Path) -> None:
    finished = run_bench("gpu_suite_airbench.py", "--prepare-only", "--datasets", str(tiny_datasets), "--work",
                         str(tmp_path), "--workers", "2")
    assert finished.returncode == 0, finished.stderr[-3000:]
    train, test = (torch.load(tmp_path / "cifar10" / name) for name in ("train.pt", "test.pt"))
    assert train["classes"] == list(CIFAR_CLASSES)
    assert train["images"].dtype == torch.uint8 and tuple(train["images"].shape) == (60, 32, 32, 3)
    assert tuple(test["images"].shape) == (30, 32, 32, 3)
    assert train["labels"].tolist() == [label for label in range(10) for _ in range(6)]
    with Image.open(tmp_path / "cifar10-jpg" / "train" / "dog" / "0002.jpg") as image:
        assert np.array_equal(train["images"][5 * 6 + 2].numpy(), np.asarray(image.convert("RGB")))
