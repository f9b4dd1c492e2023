"""`classify export`: the model as TorchScript or ONNX, checked against the checkpoint before it is kept.

The exported graph takes a float32 batch (N, 3, crop, crop) already normalised as `preprocess` says and returns
logits; class names and preprocessing travel inside the file as JSON metadata under the key `imgharvest`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .atomic import atomic_path
from .checkpoint import ModelFile
from .errors import ClassifyError

FORMATS = ("torchscript", "onnx")
SUFFIXES = {"torchscript": ".torchscript.pt", "onnx": ".onnx"}
METADATA_KEY = "imgharvest"
ONNX_MISSING = "ONNX export needs the optional packages onnx and onnxscript: pip install 'imgharvest[onnx]'"
# Relative to the largest logit: float32 graphs rewritten by an exporter differ in the last few bits only.
TOLERANCE = 1e-4


class ExportError(ClassifyError):
    """The export could not be written, or its outputs differ from the checkpoint's."""


@dataclass(frozen=True)
class ExportOptions:
    """Where the export goes; None: beside the model file, named for the format."""

    out: str | os.PathLike | None = None


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    max_abs_diff: float | None
    checked_with: str | None

    def to_json(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")


def default_path(model_path: Path, fmt: str) -> Path:
    """`runs/x/model.pt` becomes `runs/x/model.onnx` or `runs/x/model.torchscript.pt`."""
    check_format(fmt)
    return Path(model_path).with_name(Path(model_path).stem + SUFFIXES[fmt])


def metadata(model_file: ModelFile) -> str:
    return json.dumps({"arch": model_file.arch, "classes": model_file.classes,
                       "preprocess": asdict(model_file.preprocess), "input": "float32 NCHW, normalised, logits out"})


def example_input(model_file: ModelFile, batch: int, seed: int) -> torch.Tensor:
    crop = model_file.preprocess.crop
    return torch.randn(batch, 3, crop, crop, generator=torch.Generator().manual_seed(seed))


def export_model(model_file: ModelFile, out: Path, fmt: str) -> ExportResult:
    """Write `out` atomically in `fmt`, then compare its outputs with the checkpoint's on a fresh batch."""
    check_format(fmt)
    out = Path(out)
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent}: no such folder to write the export into")
    model = model_file.build()
    with atomic_path(out) as temporary:
        if fmt == "torchscript":
            write_torchscript(model, model_file, temporary)
        else:
            write_onnx(model, model_file, temporary)
        # A batch size and values the export never saw: proves the batch dimension stayed dynamic.
        inputs = example_input(model_file, batch=3, seed=1)
        runner, checked_with = load_runner(temporary, fmt)
        difference = None if runner is None else compare(model, runner, inputs)
    return ExportResult(out, fmt, difference, checked_with)


def write_torchscript(model: nn.Module, model_file: ModelFile, path: Path) -> None:
    with warnings.catch_warnings():
        # TorchScript is deprecated upstream but still the format C++ and mobile runtimes load; the user asked for it.
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example_input(model_file, batch=2, seed=0))
        with Path(path).open("wb") as file:  # a Python file, so a full disk is an OSError (see atomic.write_torch)
            torch.jit.save(traced, file, _extra_files={METADATA_KEY: metadata(model_file)})


def write_onnx(model: nn.Module, model_file: ModelFile, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (the exporter imports both; checked here for a clear message)
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ExportError(ONNX_MISSING) from error
    batch = torch.export.Dim("batch", min=1)
    try:
        program = torch.onnx.export(model, (example_input(model_file, batch=2, seed=0),), None,
                                    input_names=["image"], output_names=["logits"], dynamic_shapes=({0: batch},),
                                    verbose=False)
    except Exception as error:  # the exporter raises many types; the model is the user's choice, so say which
        raise ExportError(f"ONNX export of {model_file.arch} failed: {type(error).__name__}: {error}") from error
    program.model.metadata_props[METADATA_KEY] = metadata(model_file)
    program.save(os.fspath(path), external_data=False)


def load_runner(path: Path, fmt: str) -> tuple[Callable[[torch.Tensor], np.ndarray] | None, str | None]:
    """A function running the exported file, and what runs it; (None, None) when no runtime is installed."""
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            loaded = torch.jit.load(str(path), map_location="cpu")
        return (lambda x: loaded(x).detach().numpy()), "torch.jit"
    try:
        import onnxruntime
    except ImportError:
        return None, None
    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    return (lambda x: session.run(None, {"image": x.numpy()})[0]), "onnxruntime"


def compare(model: nn.Module, runner: Callable[[torch.Tensor], np.ndarray], inputs: torch.Tensor) -> float:
    """Largest absolute difference between checkpoint and export logits; ExportError beyond tolerance."""
    with torch.inference_mode():
        expected = model(inputs).numpy()
    actual = np.asarray(runner(inputs))
    if actual.shape != expected.shape:
        raise ExportError(f"exported model returned shape {actual.shape}, the checkpoint {expected.shape}")
    difference = float(np.abs(actual - expected).max())
    if difference > TOLERANCE * max(1.0, float(np.abs(expected).max())):
        raise ExportError(f"exported model's outputs differ from the checkpoint's by up to {difference:.3g}")
    return difference
