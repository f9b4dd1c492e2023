"""Off-topic images: pictures of none of the dataset's classes, so neither their label nor any other fits.

Two signals must agree. In embedding space, each class has a centre (the normalised mean of its images) and a
typical spread of its members' cosine similarity to it (median and MAD, robust to the off-topic ones inside);
an image is far when, for every class, its similarity lies more than `distance` spreads below that class's
median. And the out-of-sample classifier must be unsure: its top probability under `confidence` of the way from
chance (1/C) to certainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A MAD times this estimates a standard deviation for normally distributed similarities.
MAD_TO_SIGMA = 1.4826
# The smallest spread a class gets, so a class of near-identical pictures does not call everything else far.
MIN_SPREAD = 0.01


@dataclass(frozen=True)
class OffTopicRule:
    """Chosen on bench/audit_thresholds.py's choice set (best F1: no setting reached precision 0.9 over ten flags
    there); held-out figures in README.md."""

    distance: float = 1.0  # spreads below every class's median similarity
    confidence: float = 0.4  # top probability under chance + this share of the way to 1


@dataclass(frozen=True)
class OffTopic:
    indices: np.ndarray  # int: the off-topic images, most out of place first
    nearness: np.ndarray  # float (N,): each image's best (largest) z-score of similarity over the classes
    top_probability: np.ndarray  # float (N,)


def class_centres(embeddings: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """(C, D) unit vectors: each class's normalised mean embedding (zeros for a class with no image)."""
    centres = np.zeros((classes, embeddings.shape[1]), dtype=np.float64)
    np.add.at(centres, labels, embeddings)
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    return np.divide(centres, norms, out=np.zeros_like(centres), where=norms > 0)


def nearness(embeddings: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Each image's largest z-score of cosine similarity to a class centre, against that class's own members."""
    centres = class_centres(embeddings, labels, classes)
    similarity = embeddings @ centres.T  # (N, C)
    z = np.full_like(similarity, -np.inf)
    for j in range(classes):
        own = similarity[labels == j, j]
        if len(own):
            median = np.median(own)
            spread = max(MAD_TO_SIGMA * np.median(np.abs(own - median)), MIN_SPREAD)
            z[:, j] = (similarity[:, j] - median) / spread
    return z.max(axis=1)


def find_off_topic(embeddings: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                   rule: OffTopicRule = OffTopicRule()) -> OffTopic:
    """The off-topic images among N with unit `embeddings` (N, D), given `labels` and out-of-sample probabilities."""
    labels = np.asarray(labels, dtype=np.int64)
    classes = probabilities.shape[1]
    near = nearness(np.asarray(embeddings, dtype=np.float64), labels, classes)
    top = np.asarray(probabilities, dtype=np.float64).max(axis=1)
    chance = 1.0 / classes
    unsure = top < chance + rule.confidence * (1.0 - chance)
    found = np.flatnonzero((near < -rule.distance) & unsure)
    return OffTopic(found[np.argsort(near[found], kind="stable")], near, top)
