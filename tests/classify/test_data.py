"""ImageFolder splits: what is read, what is ignored, the stratified split, decode failures and the epoch sampler."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from classify.checkpoint import Preprocess
from classify.data import (
    DataError,
    EpochSampler,
    ImageDataset,
    Split,
    collate,
    load_split,
    stratified_split,
    training_splits,
)
from classify.transforms import eval_pipeline

from .conftest import make_image_folder


def test_a_split_has_sorted_classes_and_ignores_hidden_files_quarantine_and_non_images(image_folder: Path) -> None:
    (image_folder / "val" / "circle" / ".hidden.png").write_bytes(b"x")
    (image_folder / "val" / "circle" / "notes.txt").write_text("not an image")
    (image_folder / "val" / ".cache").mkdir()
    (image_folder / "val" / "_quarantine" / "circle").mkdir(parents=True)
    (image_folder / "val" / "_quarantine" / "circle" / "dup.png").write_bytes(b"x")
    split = load_split(image_folder, "val")
    assert split.classes == ["circle", "square", "triangle"]
    assert split.counts() == [4, 4, 4]
    assert all(path.parent.name == split.classes[target] for path, target in split.samples)


def test_a_folder_of_class_folders_is_a_split_itself(image_folder: Path) -> None:
    assert load_split(image_folder / "val", "val").counts() == [4, 4, 4]


def test_given_classes_fix_the_indices_and_absent_classes_are_allowed(image_folder: Path) -> None:
    split = load_split(image_folder, "val", ["triangle", "square", "circle", "star"])
    assert split.classes == ["triangle", "square", "circle", "star"]
    assert {split.classes[t] for p, t in split.samples if p.parent.name == "circle"} == {"circle"}
    assert split.counts()[3] == 0


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: root / "missing", "no such folder"),
    (lambda root: make_image_folder(root, val_split=False), "no val/ folder"),
    (lambda root: root, "no class folders"),
])
def test_unusable_split_folders_are_data_errors(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=message):
        load_split(make(tmp_path), "val")


def test_classes_the_model_does_not_know_are_a_data_error(image_folder: Path) -> None:
    with pytest.raises(DataError, match="triangle"):
        load_split(image_folder, "val", ["circle", "square"])


def test_stratified_split_holds_out_each_class_by_seed_without_overlap() -> None:
    samples = [(Path(f"{c}/{i}.png"), c) for c in range(3) for i in range(10)] + [(Path("3/0.png"), 3)]
    train, val = stratified_split(samples, 0.2, seed=1)
    assert Counter(t for _, t in val) == {0: 2, 1: 2, 2: 2}
    assert set(train).isdisjoint(val) and sorted(train + val) == sorted(samples)
    assert stratified_split(list(reversed(samples)), 0.2, seed=1) == (train, val)
    assert stratified_split(samples, 0.2, seed=2)[1] != val


def test_training_uses_val_folder_or_carves_validation_from_train(tmp_path: Path) -> None:
    with_val = make_image_folder(tmp_path / "a")
    train, val, carved = training_splits(with_val)
    assert (train.counts(), val.counts(), carved) == ([12, 12, 12], [4, 4, 4], False)
    without_val = make_image_folder(tmp_path / "b", val_split=False)
    train, val, carved = training_splits(without_val, val_fraction=0.25, seed=0)
    assert (train.counts(), val.counts(), carved) == ([9, 9, 9], [3, 3, 3], True)
    flat = training_splits(without_val / "train", val_fraction=0.25)
    assert flat[1].counts() == [3, 3, 3]


def test_a_val_folder_without_train_is_a_data_error(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "data", train=2)
    (root / "train").rename(root / "test")
    with pytest.raises(DataError, match="no train/ folder"):
        training_splits(root)


@pytest.mark.parametrize(("classes", "message"), [
    ((), "no class folders"),
    (("circle",), "only one class"),
])
def test_too_few_classes_are_data_errors(tmp_path: Path, classes: tuple[str, ...], message: str) -> None:
    root = make_image_folder(tmp_path / "data", train=2, classes=classes)
    (root / "train").mkdir(parents=True, exist_ok=True)
    with pytest.raises(DataError, match=message):
        training_splits(root)


def test_an_empty_class_is_a_data_error(image_folder: Path) -> None:
    (image_folder / "train" / "star").mkdir()
    with pytest.raises(DataError, match="no images for class.*star"):
        training_splits(image_folder)


def test_an_unreadable_image_is_replaced_by_the_next_and_reported(image_folder: Path) -> None:
    bad = image_folder / "val" / "circle" / "000.png"
    bad.write_bytes(b"not a png at all")
    split = load_split(image_folder, "val")
    dataset = ImageDataset(split, eval_pipeline(Preprocess(resize=32, crop=32)))
    images, targets, failures = collate([dataset[0], dataset[1]])
    assert images.shape == (2, 3, 32, 32) and targets.tolist() == [0, 0]
    assert failures == [(str(bad), "not an image Pillow can read")]
    assert torch.equal(images[0], images[1])  # the substitute is the next image


def test_a_run_of_unreadable_images_is_a_data_error(tmp_path: Path) -> None:
    samples = []
    for i in range(20):
        (tmp_path / f"{i}.png").write_bytes(b"broken")
        samples.append((tmp_path / f"{i}.png", 0))
    with pytest.raises(DataError, match="unreadable images in a row"):
        ImageDataset(Split(samples, ["a"]), eval_pipeline(Preprocess()))[0]


def test_processes_share_each_epoch_evenly_and_the_order_depends_on_seed_and_epoch() -> None:
    targets = [0] * 7 + [1] * 4
    parts = [list(EpochSampler(targets, seed=3, replicas=2, rank=rank)) for rank in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == 6
    assert set(parts[0] + parts[1]) == set(range(11))
    again = EpochSampler(targets, seed=3)
    first = list(again)
    assert list(again) == first
    again.set_epoch(1)
    assert list(again) != first


def test_balance_draws_classes_about_equally() -> None:
    targets = [0] * 900 + [1] * 100
    drawn = Counter(targets[i] for i in EpochSampler(targets, seed=0, balance=True))
    assert 400 < drawn[1] < 600
