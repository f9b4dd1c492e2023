"""`torchrun --nproc-per-node 2 -m classify train`: two gloo processes on the CPU share each epoch, one writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

from classify.checkpoint import load_model

from .conftest import make_image_folder

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch built without gloo")
def test_two_processes_split_every_epoch_and_only_the_first_logs_and_writes(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", train=8, val=3)
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "classify", "train", str(data), "--weights", "none", "--model", "shufflenet_v2_x0_5",
               "--image-size", "32", "--batch-size", "4", "--epochs", "2", "--workers", "0", "--device", "cpu",
               "--runs", str(runs), "--name", "ddp"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    finished = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=240,
                              check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    metrics = json.loads((runs / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    # 24 training images: 12 per process, 3 batches of 4 each, counted over both processes.
    assert [entry["train_images"] for entry in metrics["epochs"]] == [24, 24]
    lines = finished.stderr.splitlines()
    assert sum(line.startswith("epoch 2/2  all  train loss") for line in lines) == 1, finished.stderr[-3000:]
    bars = [line for line in lines if line.startswith("epoch 2/2:   0%") and line.endswith("?batch/s]")]
    assert len(bars) == 1  # one progress bar opened, not one per process
    assert finished.stdout.count("best epoch") == 1
    assert load_model(runs / "ddp" / "model.pt").metrics["evaluation"]["images"] == 9
    assert sorted(path.name for path in (runs / "ddp").iterdir() if path.name.startswith(".")) == []


DDP_SCRIPT = """
import json, os, sys
import classify

result = classify.train(sys.argv[1], weights="none", model="shufflenet_v2_x0_5", image_size=32, batch_size=4,
                        epochs=1, workers=0, device="cpu", runs=sys.argv[2], name="api", progress=False)
line = json.dumps({"rank": int(os.environ["RANK"]), "best_epoch": result.best_epoch,
                   "images": result.evaluation.images, "accuracy": result.evaluation.accuracy})
sys.stdout.write(line + "\\n")  # one write: print's separate newline let two ranks' lines run together
sys.stdout.flush()
"""


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch built without gloo")
def test_under_torchrun_the_python_call_returns_the_same_result_on_every_process(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", train=4, val=2)
    script = tmp_path / "train_api.py"
    script.write_text(DDP_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
               str(data), str(tmp_path / "runs")]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    finished = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=240,
                              check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = sorted((json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")),
                     key=lambda entry: entry["rank"])
    assert [entry["rank"] for entry in results] == [0, 1]
    assert results[0] | {"rank": 1} == results[1] and results[0]["images"] == 6
