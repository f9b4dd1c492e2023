"""The audit's rules on arrays: confident learning, off-topic images and semantic copies, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from collector.curate.audit.confident import (
    calibrate,
    confident_joint,
    find_label_issues,
    per_class_thresholds,
    round_keeping_total,
)
from collector.curate.audit.offtopic import OffTopicRule, find_off_topic
from collector.curate.audit.semantic import neighbour_pairs, pixel_similarity, shifted


def noisy_probabilities(seed: int, images: int = 900, classes: int = 3, noise: float = 0.2,
                        sharpness: float = 6.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(given labels, out-of-sample-like probabilities, flipped mask): a model right about the true class most of
    the time, and a share `noise` of labels flipped at random to another class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, size=images)
    logits = rng.normal(size=(images, classes))
    logits[np.arange(images), truth] += sharpness * rng.uniform(0.3, 1.0, size=images)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    flipped = rng.random(images) < noise
    labels = truth.copy()
    labels[flipped] = (truth[flipped] + rng.integers(1, classes, size=flipped.sum())) % classes
    return labels, probabilities, flipped


def test_thresholds_are_the_mean_self_confidence_of_each_class():
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    assert per_class_thresholds(labels, probabilities) == pytest.approx([0.8, 0.7])


def test_confident_joint_counts_each_image_under_its_most_probable_confident_class():
    labels = np.array([0, 0, 1, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.7, 0.3], [0.85, 0.15], [0.2, 0.8], [0.5, 0.5]])
    # t = (0.8, (0.15 + 0.8 + 0.5) / 3 = 0.483): image 1 is confidently of no class, image 4 of class 1 only.
    assert confident_joint(labels, probabilities).tolist() == [[1, 0], [1, 2]]


def test_calibration_scales_each_row_to_its_class_size_in_whole_images():
    joint = np.array([[1, 0], [1, 2]])
    assert calibrate(joint, np.array([0, 0, 1, 1, 1])).tolist() == [[2, 0], [1, 2]]
    assert round_keeping_total(np.array([1.5, 1.5, 1.0]), 4).sum() == 4


def test_confident_learning_finds_randomly_flipped_labels():
    for seed in (1, 2, 3):
        labels, probabilities, flipped = noisy_probabilities(seed)
        found = np.zeros(len(labels), dtype=bool)
        found[find_label_issues(labels, probabilities).indices] = True
        precision = (found & flipped).sum() / found.sum()
        recall = (found & flipped).sum() / flipped.sum()
        assert precision > 0.85 and recall > 0.85, (seed, precision, recall)


def test_each_issue_suggests_the_class_the_model_believes_and_the_surest_come_first():
    labels, probabilities, _ = noisy_probabilities(4)
    issues = find_label_issues(labels, probabilities)
    assert (issues.suggested != labels[issues.indices]).all()
    assert (issues.suggested == probabilities[issues.indices].argmax(axis=1)).all()
    assert (np.diff(issues.score) <= 0).all()


def test_noise_estimate_is_close_to_the_flipped_share_per_class():
    labels, probabilities, flipped = noisy_probabilities(5, images=1500)
    issues = find_label_issues(labels, probabilities)
    for k in range(3):
        assert issues.noise[k] == pytest.approx(flipped[labels == k].mean(), abs=0.05)
    assert issues.joint.sum(axis=1).tolist() == np.bincount(labels).tolist()


def test_an_image_the_model_assigns_to_its_given_class_is_never_an_issue():
    labels, probabilities, _ = noisy_probabilities(6)
    issues = find_label_issues(labels, probabilities)
    assert not (probabilities[issues.indices].argmax(axis=1) == labels[issues.indices]).any()


def test_a_class_is_never_emptied():
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.1, 0.9], [0.2, 0.8], [0.1, 0.9], [0.2, 0.8]])
    issues = find_label_issues(labels, probabilities)
    assert (labels == 0).sum() - np.isin(issues.indices, np.flatnonzero(labels == 0)).sum() >= 1


def test_clean_labels_give_no_issues():
    labels, probabilities, _ = noisy_probabilities(7, noise=0.0, sharpness=12.0)
    assert len(find_label_issues(labels, probabilities).indices) <= 2


def clustered_embeddings(seed: int, per_class: int = 120, classes: int = 3, strays: int = 12,
                         dims: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit embeddings, labels, stray mask): tight clusters per class, plus strays from a cluster of their own
    spread over the given labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes + 1, dims))
    labels = np.repeat(np.arange(classes), per_class)
    vectors = centres[labels] + 0.35 * rng.normal(size=(len(labels), dims))
    stray_vectors = centres[classes] + 0.35 * rng.normal(size=(strays, dims))
    vectors = np.vstack([vectors, stray_vectors])
    labels = np.concatenate([labels, rng.integers(0, classes, size=strays)])
    stray = np.zeros(len(labels), dtype=bool)
    stray[-strays:] = True
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels, stray


def test_images_far_from_every_class_and_unsure_are_off_topic():
    embeddings, labels, stray = clustered_embeddings(1)
    probabilities = np.full((len(labels), 3), 0.1)
    probabilities[np.arange(len(labels)), labels] = 0.8
    probabilities[stray] = [0.4, 0.3, 0.3]
    found = find_off_topic(embeddings, labels, probabilities)
    assert set(found.indices.tolist()) == set(np.flatnonzero(stray).tolist())


def test_a_far_image_the_classifier_is_sure_of_is_not_off_topic():
    embeddings, labels, _ = clustered_embeddings(2)
    probabilities = np.full((len(labels), 3), 0.02)
    probabilities[:, 0] = 0.96
    assert len(find_off_topic(embeddings, labels, probabilities).indices) == 0
    unsure = np.full((len(labels), 3), 1 / 3)
    strict = find_off_topic(embeddings, labels, unsure, OffTopicRule(distance=1e6))
    assert len(strict.indices) == 0


def test_each_image_proposes_its_nearest_neighbours_once_across_blocks(monkeypatch):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(50, 16))
    vectors[40] = vectors[3] + 0.01 * rng.normal(size=16)
    vectors[45] = vectors[7] + 0.01 * rng.normal(size=16)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    monkeypatch.setattr("collector.curate.audit.semantic.BLOCK", 7)
    first, second = neighbour_pairs(vectors, 1)
    pairs = set(zip(first.tolist(), second.tolist(), strict=True))
    assert {(3, 40), (7, 45)} <= pairs
    assert all(a < b for a, b in pairs) and len(pairs) == len(first)
    assert len(pairs) <= 50


def test_shifting_by_whole_pixels_moves_the_picture():
    picture = np.arange(16.0).reshape(1, 4, 4)
    assert shifted(picture, 0, 1)[0, :, 1:].tolist() == picture[0, :, :3].tolist()
    assert shifted(picture, 0.5, 0)[0, 1:, :].tolist() == ((picture[0, 1:] + picture[0, :-1]) / 2).tolist()


def grey_views(pictures: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Whole and centre (middle 90%) 16 px grey copies of (H, W) arrays, as the hash pass keeps them."""
    from PIL import Image

    def small(array: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(array.astype(np.uint8)).resize((16, 16), Image.Resampling.BOX), float)

    whole = [small(p) for p in pictures]
    centre = [small(p[round(p.shape[0] * 0.05):round(p.shape[0] * 0.95), round(p.shape[1] * 0.05):round(p.shape[1] * 0.95)])
              for p in pictures]
    return np.array(whole), np.array(centre)


def test_pixels_confirm_mirrored_and_off_centre_cropped_copies_and_reject_other_pictures():
    rng = np.random.default_rng(4)
    base = np.kron(rng.uniform(0, 255, size=(5, 5)), np.ones((32, 32)))  # 160 px of 32 px blocks
    other = np.kron(rng.uniform(0, 255, size=(5, 5)), np.ones((32, 32)))
    mirror = base[:, ::-1]
    cropped = base[2:146, 13:157]  # 10% off: 2 px top, 14 bottom, 13 left, 3 right
    whole, centre = grey_views([base, mirror, cropped, other])
    similarity = pixel_similarity(whole, centre, np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert similarity[0] > 0.99 and similarity[1] > 0.95
    assert similarity[2] < 0.5


def test_pictures_alike_in_no_view_are_never_compared_under_shifts_and_nothing_is_paired():
    rng = np.random.default_rng(5)
    pictures = [np.kron(rng.uniform(0, 255, size=(5, 5)), np.ones((32, 32))) for _ in range(3)]
    whole, centre = grey_views(pictures)
    similarity = pixel_similarity(whole, centre, np.array([0, 1]), np.array([1, 2]))
    assert (similarity < 0.6).all()
    assert pixel_similarity(whole, centre, np.array([], dtype=int), np.array([], dtype=int)).shape == (0,)
