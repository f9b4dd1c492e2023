"""`classify export`: TorchScript and ONNX files that give the checkpoint's outputs and carry its metadata."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from classify.checkpoint import ModelFile, Preprocess, load_model, save_model
from classify.exporting import METADATA_KEY, ExportError, compare, export_model
from classify.models import build_model
from classify.transforms import eval_transform
from classify.use_cli import export

CLASSES = ["cat", "dog"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = build_model("resnet18", len(CLASSES))
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a graph that ignored them would show
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("model") / "model.pt"
    return save_model(ModelFile("resnet18", CLASSES, model.state_dict(), Preprocess(resize=36, crop=32),
                                {"accuracy": 0.5}), path)


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    """A batch of real decoded pictures, preprocessed as the model file says, of a size export never saw."""
    preprocess = eval_transform(Preprocess(resize=36, crop=32))
    rng = np.random.default_rng(1)
    pictures = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(5)]
    return torch.stack([preprocess(picture) for picture in pictures])


def checkpoint_logits(model_path: Path, batch: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return load_model(model_path).build()(batch).numpy()


def invoke(*args: str):
    return CliRunner().invoke(export, list(map(str, args)), catch_exceptions=False)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_export_gives_the_checkpoints_outputs_and_carries_classes(model_path, photos, tmp_path):
    result = invoke(model_path, "--format", "torchscript", "--out", tmp_path / "model.ts")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {tmp_path / 'model.ts'} (torchscript); outputs match the checkpoint")
    extra = {METADATA_KEY: ""}
    loaded = torch.jit.load(str(tmp_path / "model.ts"), _extra_files=extra)
    with torch.inference_mode():
        np.testing.assert_allclose(loaded(photos).numpy(), checkpoint_logits(model_path, photos), atol=1e-5)
    assert json.loads(extra[METADATA_KEY])["classes"] == CLASSES


def test_onnx_export_gives_the_checkpoints_outputs_in_onnxruntime(model_path, photos):
    result = invoke(model_path, "--format", "onnx", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    exported = model_path.with_name("model.onnx")
    assert report["path"] == str(exported) and report["checked_with"] == "onnxruntime"
    session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    [logits] = session.run(None, {"image": photos.numpy()})
    np.testing.assert_allclose(logits, checkpoint_logits(model_path, photos), atol=1e-4)
    metadata = {prop.key: prop.value for prop in onnx.load(str(exported)).metadata_props}
    assert json.loads(metadata[METADATA_KEY])["preprocess"]["crop"] == 32
    assert not list(exported.parent.glob(".*.tmp"))


def test_outputs_that_differ_from_the_checkpoint_are_refused(model_path, photos):
    model = load_model(model_path).build()
    with torch.inference_mode():
        assert compare(model, lambda x: model(x).numpy(), photos) == 0.0
        with pytest.raises(ExportError, match="differ from the checkpoint"):
            compare(model, lambda x: model(x).numpy() + 0.01, photos)
        with pytest.raises(ExportError, match="shape"):
            compare(model, lambda x: model(x).numpy()[:1], photos)


def test_missing_onnx_packages_are_a_one_line_error_naming_the_extra(model_path, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # what `import onnxscript` meets when it is not installed
    result = invoke(model_path, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert result.exit_code == 1
    assert result.stderr == "Error: ONNX export needs the optional packages onnx and onnxscript: " \
                            "pip install 'imgharvest[onnx]'\n"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--format", "tflite"], "'tflite' is not one of"),
    (["--format", "onnx", "--out", "/nonexistent-dir/m.onnx"], "no such folder"),
])
def test_bad_options_are_one_line_errors(model_path, args, message):
    result = invoke(model_path, *args)
    assert result.exit_code != 0
    assert message in result.stderr and "Traceback" not in result.output


def test_unknown_format_in_python_is_an_export_error(model_path, tmp_path):
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(load_model(model_path), tmp_path / "m.x", "tflite")
