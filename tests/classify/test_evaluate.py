"""Evaluation: metrics that agree with the model's own outputs, the three pictures, and `classify eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from classify.checkpoint import load_model
from classify.data import Split, load_split
from classify.evaluation import EvaluationError, evaluate_model, format_report
from classify.gallery import most_confidently_wrong, sample
from classify.inference import infer
from classify.transforms import eval_transform
from classify.use_cli import eval_command
from tests.classify.conftest import save_untrained_model

CLASSES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_untrained_model(tmp_path_factory.mktemp("model") / "model.pt", CLASSES, seed=3)


@pytest.fixture
def split(image_folder) -> Split:
    """The tiny shapes folder's val split: four images of each of the three classes."""
    return load_split(image_folder, "val", CLASSES)


def direct_probabilities(model_path: Path, samples: list[tuple[Path, int]]) -> np.ndarray:
    model_file = load_model(model_path)
    transform = eval_transform(model_file.preprocess)
    batch = torch.stack([transform(Image.open(path).convert("RGB")) for path, _ in samples])
    with torch.inference_mode():
        return model_file.build()(batch).softmax(1).numpy()


def test_metrics_agree_with_the_models_own_outputs_and_pictures_are_written(model_path, split, tmp_path):
    out = tmp_path / "report"
    summary = evaluate_model(load_model(model_path), split, out, batch_size=5, progress=False).to_json()
    probabilities = direct_probabilities(model_path, split.samples)
    targets = np.array([target for _, target in split.samples])
    predictions = probabilities.argmax(1)
    assert summary["accuracy"] == pytest.approx(float((predictions == targets).mean()))
    assert summary["loss"] == pytest.approx(float(-np.log(probabilities[np.arange(12), targets]).mean()), rel=1e-4)
    assert np.array(summary["confusion"]).sum() == 12 and summary["images"] == 12
    assert [row["name"] for row in summary["per_class"]] == CLASSES
    assert [row["support"] for row in summary["per_class"]] == [4, 4, 4]
    for name in ("confusion.png", "top_losses.png", "predictions.png"):
        with Image.open(out / name) as picture:
            assert picture.format == "PNG" and picture.width > 200
    assert json.loads((out / "evaluation.json").read_text())["accuracy"] == summary["accuracy"]
    assert not list(out.glob(".*.tmp"))


def test_batching_does_not_change_the_outputs(model_path, split):
    model_file = load_model(model_path)
    paths = [path for path, _ in split.samples]
    uneven = infer(model_file, paths, batch_size=5, progress=False)  # batches of 5, 5 and 2
    many = infer(model_file, paths, batch_size=64, progress=False)
    np.testing.assert_allclose(uneven.probabilities, many.probabilities, atol=1e-5)
    assert uneven.indices.tolist() == list(range(12))


def test_an_unreadable_image_is_left_out_and_reported(model_path, split, tmp_path, caplog):
    broken = split.samples[0][0].with_name("broken.jpg")
    broken.write_bytes(split.samples[0][0].read_bytes()[:40])
    split.samples.insert(3, (broken, 0))
    summary = evaluate_model(load_model(model_path), split, tmp_path / "report", workers=2,
                             progress=False).to_json()
    assert summary["images"] == 12
    assert [entry["path"] for entry in summary["unreadable"]] == [str(broken)]
    assert "1 image(s) could not be read" in caplog.text


def test_the_most_confidently_wrong_come_first_and_right_answers_never_appear():
    losses = np.array([0.1, 2.0, 0.5, 3.0, 1.0])
    targets = np.array([0, 0, 1, 1, 0])
    predictions = np.array([0, 1, 0, 1, 1])
    assert most_confidently_wrong(losses, targets, predictions, k=5) == [1, 4, 2]
    assert most_confidently_wrong(losses, targets, predictions, k=2) == [1, 4]


def test_the_prediction_grid_shows_the_same_images_every_run():
    assert sample(100, 16) == sample(100, 16)
    assert len(set(sample(100, 16))) == 16 and sample(3, 16) == [0, 1, 2]


def test_a_split_with_classes_the_model_does_not_know_is_refused(model_path, split, tmp_path):
    split.classes = ["circle", "hexagon", "square", "triangle"]
    with pytest.raises(EvaluationError, match="classes the model does not know: hexagon"):
        evaluate_model(load_model(model_path), split, tmp_path / "report", progress=False)
    assert not (tmp_path / "report").exists()


def test_report_table_lists_each_class_then_the_totals():
    summary = {"accuracy": 0.75, "macro_f1": 0.7, "loss": 0.5, "images": 8,
               "per_class": [{"name": "cat", "precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 4},
                             {"name": "dog", "precision": 0.667, "recall": 1.0, "f1": 0.8, "support": 4}]}
    lines = format_report(summary).splitlines()
    assert lines[0].split() == ["class", "precision", "recall", "f1", "support"]
    assert lines[2].split() == ["cat", "1.000", "0.500", "0.667", "4"]
    assert lines[-1] == "accuracy 0.750 on 8 images, macro F1 0.700, loss 0.500"


def invoke(*args: str):
    return CliRunner().invoke(eval_command, ["--quiet", "--device", "cpu", "--workers", "0", *map(str, args)],
                              catch_exceptions=False)


def test_eval_command_prints_the_table_and_writes_beside_the_model(model_path, image_folder):
    result = invoke(model_path, image_folder)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split()[0] == "class"
    assert (model_path.parent / "eval-val" / "top_losses.png").is_file()


def test_eval_command_json_on_a_folder_of_class_folders(model_path, image_folder, tmp_path):
    result = invoke(model_path, image_folder / "train", "--json", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 36 and summary["files"]["confusion"] == str(tmp_path / "out" / "confusion.png")


@pytest.mark.parametrize("make_data", [
    lambda root: root / "missing",
    lambda root: root,  # no class folders at all
])
def test_eval_command_bad_data_is_a_one_line_error(model_path, tmp_path, make_data):
    result = invoke(model_path, make_data(tmp_path))
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
