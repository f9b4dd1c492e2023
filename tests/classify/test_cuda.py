"""The GPU paths (bf16 autocast, channels_last, torch.compile, tensors on the device, torchrun): skipped on a
machine without CUDA; on a GPU machine, `python -m pytest tests/classify/test_cuda.py` (or bench/gpu_suite.py)
runs them. One compiled training on the GPU is shared by the tests of predict, eval and export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from classify.checkpoint import load_model
from classify.cli import main

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")

REPO = Path(__file__).resolve().parents[2]


def invoke(*arguments: str) -> str:
    """`classify ARGUMENTS...` in this process; its stdout, after asserting it succeeded."""
    result = CliRunner().invoke(main, list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def gpu_run(shared_image_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of one compiled, bf16, channels_last training of resnet18 on the GPU."""
    runs = tmp_path_factory.mktemp("gpu-runs")
    invoke("train", str(shared_image_folder), "--device", "cuda", "--weights", "none", "--image-size", "32",
           "--epochs", "3", "--batch-size", "8", "--workers", "2", "--compile", "--runs", str(runs), "--name", "gpu",
           "--quiet")
    return runs / "gpu"


def test_compiled_bf16_training_on_the_gpu_learns_and_saves_weights_a_cpu_can_load(gpu_run: Path) -> None:
    model_file = load_model(gpu_run / "model.pt")
    assert all(tensor.device.type == "cpu" for tensor in model_file.state_dict.values())
    assert all(tensor.dtype != torch.bfloat16 for tensor in model_file.state_dict.values())
    assert model_file.metrics["evaluation"]["accuracy"] >= 0.6  # chance: 1/3
    assert len(json.loads((gpu_run / "metrics.json").read_text())["epochs"]) == 3


def test_predict_on_the_gpu_gives_the_labels_predict_on_the_cpu_gives(gpu_run: Path,
                                                                       shared_image_folder: Path) -> None:
    def predictions(device: str) -> dict[str, list[dict]]:
        output = invoke("predict", str(gpu_run / "model.pt"), str(shared_image_folder / "val"), "--device", device,
                        "--json", "--quiet")
        return {entry["path"]: entry["top"] for entry in json.loads(output)["predictions"]}

    on_gpu, on_cpu = predictions("cuda"), predictions("cpu")
    assert on_gpu.keys() == on_cpu.keys() and len(on_gpu) == 12
    for path, top in on_cpu.items():
        gpu_top = {guess["class"]: guess["probability"] for guess in on_gpu[path]}
        for guess in top:  # TF32 convolutions on the GPU: close, not bit-identical
            assert gpu_top[guess["class"]] == pytest.approx(guess["probability"], abs=0.02)
        if top[0]["probability"] - top[1]["probability"] > 0.05:
            assert on_gpu[path][0]["class"] == top[0]["class"]


def test_eval_on_the_gpu_scores_the_validation_split_as_the_training_did(gpu_run: Path,
                                                                        shared_image_folder: Path,
                                                                        tmp_path: Path) -> None:
    summary = json.loads(invoke("eval", str(gpu_run / "model.pt"), str(shared_image_folder), "--device", "cuda",
                                "--out", str(tmp_path), "--json", "--quiet"))
    trained = load_model(gpu_run / "model.pt").metrics["evaluation"]
    assert summary["images"] == trained["images"] == 12
    assert abs(summary["accuracy"] - trained["accuracy"]) <= 1 / 12  # bf16 may flip one borderline image
    assert sorted(path.name for path in tmp_path.iterdir()) == ["confusion.png", "evaluation.json",
                                                                 "predictions.png", "top_losses.png"]


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_gpu_trained_model_exports_and_the_export_matches_its_checkpoint(gpu_run: Path, tmp_path: Path,
                                                                          fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxscript", reason="ONNX export needs pip install 'imgharvest[onnx]'")
    target = tmp_path / f"model.{fmt}"
    result = json.loads(invoke("export", str(gpu_run / "model.pt"), "--format", fmt, "--out", str(target), "--json"))
    assert target.is_file() and result["path"] == str(target)
    if result["checked_with"] is not None:
        assert result["max_abs_diff"] < 1e-3


def torchrun_train(processes: int, data: Path, runs: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
               "-m", "classify", "train", str(data), "--weights", "none", "--model", "resnet18", "--image-size", "32",
               "--batch-size", "4", "--epochs", "2", "--workers", "1", "--device", "cuda", "--runs", str(runs),
               "--name", "ddp", "--quiet"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=240,
                          check=False)


@pytest.mark.slow
def test_torchrun_with_one_process_trains_on_the_gpu(shared_image_folder: Path, tmp_path: Path) -> None:
    """One process is not distributed (no process group): this proves torchrun's launch and device choice."""
    finished = torchrun_train(1, shared_image_folder, tmp_path / "runs")
    assert finished.returncode == 0, finished.stderr[-3000:]
    metrics = json.loads((tmp_path / "runs" / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 1 and [entry["train_images"] for entry in metrics["epochs"]] == [36, 36]


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2,
                    reason="DDP over NCCL needs a GPU per process (each takes its local rank's GPU)")
def test_two_processes_on_two_gpus_share_every_epoch_over_nccl(shared_image_folder: Path, tmp_path: Path) -> None:
    finished = torchrun_train(2, shared_image_folder, tmp_path / "runs")
    assert finished.returncode == 0, finished.stderr[-3000:]
    metrics = json.loads((tmp_path / "runs" / "ddp" / "metrics.json").read_text())
    # 36 training images: 18 per process, 4 batches of 4 each (the last partial batch dropped), over both.
    assert metrics["world_size"] == 2 and [entry["train_images"] for entry in metrics["epochs"]] == [32, 32]


def test_the_fast_baseline_compiles_and_learns_on_the_gpu(colour_folder: Path, tmp_path: Path) -> None:
    summary = json.loads(invoke("baseline", "--folder", str(colour_folder), "--model", "fast", "--epochs", "4",
                                "--batch-size", "8", "--device", "cuda", "--out", str(tmp_path), "--json"))
    assert summary["device"].startswith("cuda") and summary["compile_seconds"] > 0
    assert summary["accuracy_mean"] >= 0.9
