"""The GPU paths (bf16 autocast, channels_last, torch.compile, tensors on the device): skipped on a machine
without CUDA; on the device machine, `python -m pytest tests/classify/test_cuda.py` runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from classify.checkpoint import load_model
from classify.cli import main
from classify.prediction import Prediction, expand_paths, predict_paths

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_compiled_bf16_training_on_the_gpu_learns_and_its_model_predicts_on_the_cpu(image_folder: Path,
                                                                                   tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", str(image_folder), "--device", "cuda", "--weights", "none",
                                       "--image-size", "32", "--epochs", "3", "--batch-size", "8", "--workers", "2",
                                       "--compile", "--runs", str(tmp_path / "runs"), "--quiet"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    model_file = load_model(tmp_path / "runs" / "resnet18" / "model.pt")
    assert all(tensor.device.type == "cpu" for tensor in model_file.state_dict.values())
    assert model_file.metrics["evaluation"]["accuracy"] >= 0.6  # chance: 1/3
    predictions = list(predict_paths(model_file, expand_paths([image_folder / "val"]), device="cpu"))
    assert len(predictions) == 12 and all(isinstance(p, Prediction) for p in predictions)


def test_the_fast_baseline_compiles_and_learns_on_the_gpu(colour_folder: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["baseline", "--folder", str(colour_folder), "--model", "fast", "--epochs", "4",
                                       "--batch-size", "8", "--device", "cuda", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["device"].startswith("cuda") and summary["compile_seconds"] > 0
    assert summary["accuracy_mean"] >= 0.9
