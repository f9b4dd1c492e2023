"""`classify.embed`: penultimate features from the one inference path, L2-normalised, cached by content hash."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

import classify
from classify.embedding import load_backbone
from classify.feature_cache import FeatureCache
from classify.inference import infer
from classify.prediction import expand_paths

from .conftest import save_untrained_model

CLASSES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_model(tmp_path_factory.mktemp("backbone") / "model.pt", CLASSES, seed=3)


def images_of(folder: Path) -> list[Path]:
    return [path for path in expand_paths([folder]) if isinstance(path, Path)]


def test_features_are_what_the_final_layer_turns_into_the_same_probabilities_predict_gives(backbone, shared_image_folder):
    paths = images_of(shared_image_folder / "val")
    model_file = classify.load_model(backbone)
    plain = infer(model_file, paths, workers=0, progress=False)
    with_features = infer(model_file, paths, workers=0, progress=False, features=True)
    assert np.array_equal(plain.probabilities, with_features.probabilities)
    head = model_file.build().fc
    logits = head(torch.from_numpy(with_features.features)).softmax(dim=1).detach().numpy()
    assert with_features.features.shape == (12, 512)
    np.testing.assert_allclose(logits, plain.probabilities, atol=1e-5)


def test_embed_keeps_input_order_normalises_and_reports_unreadable_and_missing_files(backbone, shared_image_folder,
                                                                                    tmp_path):
    paths = images_of(shared_image_folder / "val")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    given = [paths[0], broken, *paths[1:5], tmp_path / "missing.png"]
    result = classify.embed(given, backbone, device="cpu", workers=0, progress=False)
    assert result.paths == paths[:5]
    assert result.vectors.dtype == np.float32 and result.vectors.shape == (5, 512)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1, atol=1e-5)
    assert result.digests[0] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert [path for path, _ in result.failures] == [broken, tmp_path / "missing.png"]
    assert "not an image" in result.failures[0][1] and "no such file" in result.failures[1][1]


def test_a_copy_under_another_name_gets_the_same_vector(backbone, shared_image_folder, tmp_path):
    original = images_of(shared_image_folder / "val")[0]
    copy = shutil.copy(original, tmp_path / "copy.png")
    result = classify.embed([original, copy], backbone, device="cpu", workers=0, progress=False)
    assert result.digests[0] == result.digests[1] and np.array_equal(result.vectors[0], result.vectors[1])


def test_a_second_run_takes_cached_features_and_embeds_only_new_images(backbone, shared_image_folder, tmp_path):
    cache = tmp_path / "features.sqlite"
    paths = images_of(shared_image_folder / "train")
    first = classify.embed(paths[:20], backbone, cache=cache, device="cpu", workers=0, progress=False)
    with sqlite3.connect(cache) as connection:
        assert connection.execute("SELECT COUNT(*) FROM features").fetchone()[0] == 20
    # A cached vector is taken as it is: mark one, and the second run must return the mark, not a recomputation.
    marked = np.zeros(512, np.float32)
    marked[0] = 1
    store = FeatureCache(cache)
    store.put(first.backbone, [(first.digests[0], marked)])
    store.close()
    second = classify.embed(paths, backbone, cache=cache, device="cpu", workers=0, progress=False)
    assert np.array_equal(second.vectors[0], marked)
    np.testing.assert_allclose(second.vectors[1:20], first.vectors[1:20], atol=1e-6)
    with sqlite3.connect(cache) as connection:
        assert connection.execute("SELECT COUNT(*) FROM features").fetchone()[0] == len(paths)


def test_another_backbone_never_reads_the_first_ones_features(backbone, shared_image_folder, tmp_path):
    cache = tmp_path / "features.sqlite"
    paths = images_of(shared_image_folder / "val")[:4]
    other = save_untrained_model(tmp_path / "other.pt", CLASSES, seed=4)
    first = classify.embed(paths, backbone, cache=cache, device="cpu", workers=0, progress=False)
    second = classify.embed(paths, other, cache=cache, device="cpu", workers=0, progress=False)
    assert first.backbone != second.backbone
    assert not np.allclose(first.vectors, second.vectors)


def test_a_torchvision_name_with_random_weights_is_one_fixed_network(tmp_path):
    assert load_backbone("resnet18", "none").identity == load_backbone("resnet18", "none").identity
    assert load_backbone("resnet18", "none").model_file.preprocess.crop == 224


def test_mistakes_are_one_line_errors(backbone, shared_image_folder, tmp_path):
    paths = images_of(shared_image_folder / "val")[:2]
    with pytest.raises(classify.ClassifyError, match="applies to a torchvision model name"):
        classify.embed(paths, backbone, weights="DEFAULT")
    with pytest.raises(classify.ClassifyError, match="unknown model 'resnet1'"):
        classify.embed(paths, "resnet1", weights="none")
    not_a_cache = tmp_path / "features.sqlite"
    not_a_cache.write_text("some notes, not a database\n" * 100)
    with pytest.raises(classify.ClassifyError, match="delete the file to start afresh|delete it to start afresh"):
        classify.embed(paths, backbone, cache=not_a_cache, device="cpu", workers=0, progress=False)
    assert not_a_cache.read_text().startswith("some notes")
    with pytest.raises(classify.OptionError, match="did you mean 'batch_size'"):
        classify.embed(paths, backbone, batchsize=4)
