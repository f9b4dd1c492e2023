"""`classify.cross_validate`: out-of-sample probabilities by K folds, so a wrong label cannot be memorised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import classify
from classify.crossval import assign_folds
from classify.probe import fit_probe

from .conftest import COLOURS, save_untrained_model

FLIPPED = {0: "green", 25: "blue", 45: "red", 59: "green"}


def noisy_colours(root: Path, per_class: int, seed: int) -> list[Path]:
    """`root/<colour>/NNN.png`: 16 px squares of a class colour with strong pixel noise, `per_class` each."""
    rng = np.random.default_rng(seed)
    paths = []
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index:03}.png")
            paths.append(root / name / f"{index:03}.png")
    return paths


@pytest.fixture(scope="module")
def colours(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[str], list[str]]:
    """60 colour images (20 per class) with their true classes, and labels where four images are mislabelled."""
    paths = noisy_colours(tmp_path_factory.mktemp("colours"), 20, seed=0)
    true = [path.parent.name for path in paths]
    given = [FLIPPED.get(index, name) for index, name in enumerate(true)]
    assert all(given[index] != true[index] for index in FLIPPED)
    return paths, true, given


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random resnet18 at 32 px: its features already separate these colours linearly."""
    return save_untrained_model(tmp_path_factory.mktemp("backbone") / "model.pt", ["a", "b", "c"], seed=3)


def test_folds_are_stratified_and_fixed_by_the_seed():
    labels = np.repeat([0, 1, 2], [40, 13, 7])
    fold = assign_folds(labels, 4, seed=0)
    for target in range(3):
        counts = np.bincount(fold[labels == target], minlength=4)
        assert counts.max() - counts.min() <= 1
    assert np.array_equal(fold, assign_folds(labels, 4, seed=0))
    assert not np.array_equal(fold, assign_folds(labels, 4, seed=1))


def test_the_probe_gives_each_mislabelled_image_its_true_class_where_an_in_sample_fit_memorises_the_label(
        colours, backbone):
    paths, true, given = colours
    oos = classify.cross_validate(paths, given, folds=4, backbone=backbone, device="cpu", workers=0, progress=False)
    assert oos.paths == paths and oos.classes == ["blue", "green", "red"]
    assert oos.probabilities.shape == (60, 3) and sorted(set(oos.fold.tolist())) == [0, 1, 2, 3]
    np.testing.assert_allclose(oos.probabilities.sum(axis=1), 1, atol=1e-5)
    assert [oos.classes[i] for i in oos.labels] == given
    suggested = [oos.classes[i] for i in oos.probabilities.argmax(axis=1)]
    assert all(suggested[index] == true[index] for index in FLIPPED)
    assert oos.regularisation is not None
    in_sample = fit_probe(oos.embeddings, oos.labels, 3, 1e-4).probabilities(oos.embeddings).argmax(axis=1)
    assert all(oos.classes[in_sample[index]] == given[index] for index in FLIPPED)


def test_the_probe_uses_the_embed_features_and_the_cache(colours, backbone, tmp_path):
    paths, _, given = colours
    cache = tmp_path / "features.sqlite"
    first = classify.cross_validate(paths, given, backbone=backbone, cache=cache, regularisation=0.1, device="cpu",
                                    workers=0, progress=False)
    embedded = classify.embed(paths, backbone, cache=cache, device="cpu", workers=0, progress=False)
    assert np.array_equal(first.embeddings, embedded.vectors) and first.regularisation == 0.1
    again = classify.cross_validate(paths, given, backbone=backbone, cache=cache, regularisation=0.1, device="cpu",
                                    workers=0, progress=False)
    np.testing.assert_allclose(again.probabilities, first.probabilities, atol=1e-6)


def test_integer_labels_index_the_given_classes_and_unreadable_files_are_left_out(colours, backbone, tmp_path):
    paths, _, given = colours
    classes = ["red", "green", "blue"]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but no more")
    oos = classify.cross_validate([*paths, broken], [classes.index(name) for name in given] + [0], classes,
                                  backbone=backbone, device="cpu", workers=0, progress=False)
    assert oos.classes == classes and oos.paths == paths and [path for path, _ in oos.failures] == [broken]
    assert [classes[i] for i in oos.probabilities.argmax(axis=1)][:3] == ["red"] * 3


@pytest.mark.parametrize(("call", "message"), [
    ({"labels": ["red"]}, "1 labels; give one label per path"),
    ({"folds": 1}, "at least 2 folds"),
    ({"folds": 3}, "2 images cannot be split into 3 folds"),
    ({"labels": ["pink"] * 2, "classes": ["red", "green"]}, "'pink' is not one of the classes"),
    ({"labels": [0, 1]}, "integer labels need `classes`"),
    ({"epochs": 3}, "epochs: train option"),
    ({"backbone": None}, "the probe needs a backbone"),
    ({"mode": "fine-tune"}, "unknown mode 'fine-tune'"),
])
def test_mistakes_are_one_line_errors(colours, backbone, call, message):
    paths, _, given = colours
    arguments = {"labels": given[:2], "backbone": backbone, "folds": 2, **call}
    with pytest.raises(classify.ClassifyError, match=message):
        classify.cross_validate(paths[:2], arguments.pop("labels"), arguments.pop("classes", None), progress=False,
                                **arguments)


@pytest.mark.slow
def test_finetune_mode_trains_a_model_per_fold_and_judges_each_image_once(colours):
    paths, _, given = colours
    oos = classify.cross_validate(paths, given, mode="finetune", folds=2, weights="none", model="resnet18",
                                  image_size=32, epochs=6, batch_size=8, device="cpu", workers=0, progress=False)
    assert oos.paths == paths and oos.embeddings is None and oos.regularisation is None
    assert sorted(set(oos.fold.tolist())) == [0, 1]
    np.testing.assert_allclose(oos.probabilities.sum(axis=1), 1, atol=1e-5)
    accuracy = np.mean(oos.probabilities.argmax(axis=1) == oos.labels)
    assert accuracy > 0.6  # chance is 1/3; a model per fold learned the colours from the other fold


def test_the_probe_reaches_the_minimum_of_its_objective_and_leaves_torch_threads_as_they_were(colours, backbone):
    paths, _, given = colours
    threads = torch.get_num_threads()
    oos = classify.cross_validate(paths, given, backbone=backbone, device="cpu", workers=0, progress=False)
    assert torch.get_num_threads() == threads
    probe = fit_probe(oos.embeddings, oos.labels, 3, 0.1)
    weight, bias = probe.weight.clone().requires_grad_(), probe.bias.clone().requires_grad_()
    features = (torch.as_tensor(oos.embeddings) - probe.mean) / probe.scale
    loss = F.cross_entropy(features @ weight + bias, torch.as_tensor(oos.labels)) + 0.05 * weight.pow(2).sum()
    loss.backward()
    assert max(weight.grad.abs().max(), bias.grad.abs().max()) < 1e-4  # autograd agrees: a stationary point
