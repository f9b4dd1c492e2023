"""`classify predict`: top-k from a model file for files and folders; bad files reported, the rest labelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from classify.prediction import Failure, Prediction, expand_paths, predict_paths
from classify.transforms import eval_transform
from classify.use_cli import predict
from tests.classify.conftest import save_untrained_model

CLASSES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_untrained_model(tmp_path_factory.mktemp("model") / "model.pt", CLASSES)


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    Image.new("RGB", (50, 40), (200, 30, 30)).save(folder / "red.jpg")
    Image.new("RGB", (40, 60), (30, 30, 200)).save(folder / "nested" / "blue.png")
    Image.new("RGB", (40, 40), (30, 200, 30)).save(folder / ".hidden.jpg")
    (folder / "_quarantine" / "exact-duplicate").mkdir(parents=True)
    Image.new("RGB", (40, 40), (30, 200, 30)).save(folder / "_quarantine" / "exact-duplicate" / "copy.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def invoke(*args: str):
    return CliRunner().invoke(predict, ["--quiet", "--device", "cpu", *map(str, args)], catch_exceptions=False)


def test_folders_expand_to_their_images_recursively_without_hidden_quarantined_or_other_files(images):
    found = expand_paths([images, images / "notes.txt", images / "missing.jpg"])
    assert found[:2] == [images / "nested" / "blue.png", images / "red.jpg"]
    assert found[2] == images / "notes.txt"  # named explicitly: tried, whatever its suffix
    assert found[3] == Failure(images / "missing.jpg", "no such file or folder")


def test_probabilities_are_the_models_softmax_ranked_best_first(model_path, images):
    from classify.checkpoint import load_model
    model_file = load_model(model_path)
    [result] = predict_paths(model_file, [images / "red.jpg"], top_k=3)
    with Image.open(images / "red.jpg") as image:
        expected = model_file.build()(eval_transform(model_file.preprocess)(image.convert("RGB"))[None]).softmax(1)[0]
    assert isinstance(result, Prediction)
    assert [g.label for g in result.top] == [CLASSES[i] for i in expected.argsort(descending=True).tolist()]
    assert [g.probability for g in result.top] == pytest.approx(expected.sort(descending=True).values.tolist(),
                                                                abs=1e-5)


def test_a_photo_is_read_upright_as_its_exif_orientation_says(model_path, tmp_path):
    upright = Image.new("RGB", (60, 30), (240, 240, 240))
    upright.paste((200, 30, 30), (0, 0, 20, 30))
    upright.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: stored rotated, shown turned 90 degrees clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "phone.png", exif=exif)
    from classify.checkpoint import load_model
    shown, phone = predict_paths(load_model(model_path), [tmp_path / "upright.png", tmp_path / "phone.png"], top_k=3)
    assert [g.probability for g in phone.top] == pytest.approx([g.probability for g in shown.top], abs=1e-6)


def test_top_k_larger_than_the_classes_shows_every_class(model_path, images):
    result = invoke(model_path, images / "red.jpg", "--top-k", "10", "--json")
    [prediction] = json.loads(result.stdout)["predictions"]
    assert sorted(guess["class"] for guess in prediction["top"]) == CLASSES
    assert sum(guess["probability"] for guess in prediction["top"]) == pytest.approx(1.0, abs=1e-5)


def test_unreadable_files_get_one_line_errors_and_the_rest_are_labelled(model_path, images, tmp_path):
    (tmp_path / "fake.jpg").write_bytes(b"<html>not a picture</html>")
    with Image.open(images / "red.jpg") as image:
        truncated = tmp_path / "truncated.jpg"
        image.resize((400, 400)).save(truncated, quality=95)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    result = invoke(model_path, tmp_path / "fake.jpg", images, truncated, tmp_path / "gone.png", "--top-k", "2")
    assert result.exit_code == 0, result.output
    errors = result.stderr.splitlines()
    assert len(errors) == 3
    assert errors[0].startswith(f"error: {tmp_path / 'fake.jpg'}: ")
    assert errors[1].startswith(f"error: {truncated}: ")
    assert errors[2] == f"error: {tmp_path / 'gone.png'}: no such file or folder"
    header, *rows = result.stdout.splitlines()
    assert header.split()[0] == "path"
    assert [row.split()[0] for row in rows] == [str(images / "nested" / "blue.png"), str(images / "red.jpg")]
    assert all(len(row.split()) == 5 for row in rows)  # path, then class and probability twice


def test_json_lists_predictions_and_errors(model_path, images, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = invoke(model_path, images / "red.jpg", tmp_path / "bad.png", "--json", "-k", "1")
    assert result.exit_code == 0
    output = json.loads(result.stdout)
    assert [p["path"] for p in output["predictions"]] == [str(images / "red.jpg")]
    assert len(output["predictions"][0]["top"]) == 1
    assert output["errors"][0]["path"] == str(tmp_path / "bad.png")


def test_nothing_labelled_exits_non_zero_with_a_one_line_cause(model_path, tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    result = invoke(model_path, tmp_path / "bad.jpg")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {tmp_path / 'bad.jpg'}: not an image Pillow can read",
                                          "Error: no image could be labelled"]
    (tmp_path / "empty").mkdir()
    result = invoke(model_path, tmp_path / "empty")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no image files found in the folders"


@pytest.mark.parametrize("content", [b"", b"not a model", None])
def test_a_bad_model_file_is_a_one_line_error(tmp_path, images, content):
    model = tmp_path / "model.pt"
    if content is not None:
        model.write_bytes(content)
    result = invoke(model, images)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and str(model) in result.stderr
    assert "Traceback" not in result.output
