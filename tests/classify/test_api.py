"""`import classify`: one call per step with real keyword options, typed results, and one inference path."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import classify
from classify.cli import main

from .conftest import save_untrained_model

CLASSES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_untrained_model(tmp_path_factory.mktemp("model") / "model.pt", CLASSES, seed=5)


@pytest.mark.parametrize(("step", "options"), [
    (classify.train, classify.TrainConfig), (classify.evaluate, classify.EvalOptions),
    (classify.predict, classify.InferenceOptions), (classify.export, classify.ExportOptions),
    (classify.baseline, classify.BaselineOptions),
])
def test_each_step_shows_its_options_dataclass_fields_as_keyword_parameters_with_their_defaults(step, options):
    parameters = inspect.signature(step).parameters
    for field in options.__dataclass_fields__.values():
        if field.name == "data":  # train's positional argument
            continue
        assert parameters[field.name].kind is inspect.Parameter.KEYWORD_ONLY, field.name
        assert parameters[field.name].default == field.default, field.name


def test_a_mistyped_option_is_an_error_that_suggests_the_right_one(image_folder):
    with pytest.raises(classify.OptionError, match="unknown option 'epoch'; did you mean 'epochs'"):
        classify.train(image_folder, epoch=3)
    with pytest.raises(TypeError):  # as Python reports any unknown keyword
        classify.predict("model.pt", "photo.jpg", topk=2)


def test_predict_and_eval_commands_give_identical_probabilities_for_the_same_images(model_path, image_folder, tmp_path):
    predicted = CliRunner().invoke(main, ["predict", "--device", "cpu", "-q", "--json", str(model_path),
                                          str(image_folder / "val")])
    evaluated = CliRunner().invoke(main, ["eval", "--device", "cpu", "-q", "--json", str(model_path),
                                          str(image_folder), "--out", str(tmp_path / "eval")])
    assert predicted.exit_code == 0 and evaluated.exit_code == 0, predicted.output + evaluated.output
    by_predict = {entry["path"]: entry["top"] for entry in json.loads(predicted.stdout)["predictions"]}
    by_eval = {entry["path"]: entry["top"] for entry in json.loads(evaluated.stdout)["predictions"]}
    assert len(by_eval) == 12 and by_predict == by_eval  # exactly, not approximately


def test_a_loaded_model_and_its_path_predict_the_same(model_path, image_folder):
    from_path = classify.predict(model_path, image_folder / "val", top_k=2)
    from_object = classify.predict(classify.load_model(model_path), [image_folder / "val"], top_k=2)
    assert isinstance(from_path, classify.Predictions) and len(from_path.predictions) == 12
    assert from_path == from_object and all(len(p.top) == 2 for p in from_path.predictions)


def test_evaluate_returns_figures_and_files_beside_the_model(model_path, image_folder):
    evaluation = classify.evaluate(model_path, image_folder, workers=0, progress=False)
    assert isinstance(evaluation, classify.Evaluation) and evaluation.images == 12
    assert evaluation.files["report"] == model_path.parent / "eval-val" / "evaluation.json"
    assert [row.name for row in evaluation.per_class] == CLASSES
    assert [p.true for p in evaluation.predictions] == [name for name in CLASSES for _ in range(4)]


def test_export_of_a_model_made_in_memory_needs_a_place(model_path, tmp_path):
    model = classify.load_model(model_path)
    model.path = None
    with pytest.raises(classify.ClassifyError, match="out=PATH"):
        classify.export(model, "torchscript")
    result = classify.export(model, "torchscript", out=tmp_path / "model.ts")
    assert isinstance(result, classify.ExportResult) and result.path.is_file() and result.checked_with == "torch.jit"


@pytest.mark.slow
def test_train_returns_the_history_and_the_best_models_evaluation(image_folder, tmp_path):
    result = classify.train(image_folder, weights="none", model="shufflenet_v2_x0_5", image_size=32, epochs=1,
                            batch_size=12, workers=0, device="cpu", runs=tmp_path / "runs", progress=False)
    assert isinstance(result, classify.TrainResult) and result.run_dir == tmp_path / "runs" / "shufflenet_v2_x0_5"
    assert result.epochs_run == 1 and isinstance(result.evaluation, classify.Evaluation)
    assert result.evaluation.images == 12 and (result.run_dir / "model.pt").is_file()
