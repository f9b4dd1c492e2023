"""Confident learning (Northcutt et al., 2021) on out-of-sample class probabilities: which given labels are wrong.

Per class j, the threshold t_j is the mean probability of j over the images labelled j. An image is confidently
of class j when p_j >= t_j (the largest such j when several are). Counting given against confident classes gives
the confident joint, calibrated so each row sums to its class's size. For each given class k and other class j,
the joint's (k, j) count of images labelled k are issues: those with the largest margin p_j - p_k
("prune by noise rate"). An image the model itself assigns to its given class is never an issue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# p_j must reach t_j less this, so an image exactly at a threshold counts despite float rounding.
THRESHOLD_SLACK = 1e-6


@dataclass(frozen=True)
class LabelIssues:
    """Indices of the images whose given label is wrong, with what the probabilities suggest instead."""

    indices: np.ndarray  # int, sorted by `score`, most certain first
    suggested: np.ndarray  # int class per issue: the most probable class other than the given one
    score: np.ndarray  # p[suggested] - p[given] per issue, in (-1, 1]
    joint: np.ndarray  # int (C, C) calibrated confident joint: given class (rows) against true class (columns)
    noise: np.ndarray  # float (C,) estimated share of each given class whose label is wrong


def per_class_thresholds(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """t_j: the mean probability of class j over the images labelled j (inf for a class no image has)."""
    classes = probabilities.shape[1]
    thresholds = np.full(classes, np.inf)
    for j in range(classes):
        given = labels == j
        if given.any():
            thresholds[j] = probabilities[given, j].mean()
    return thresholds


def confident_joint(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Counts (given class, confident class) over the images confidently of at least one class; uncalibrated."""
    classes = probabilities.shape[1]
    confident = probabilities >= per_class_thresholds(labels, probabilities) - THRESHOLD_SLACK
    counted = confident.any(axis=1)
    guess = np.where(confident, probabilities, -1.0).argmax(axis=1)
    joint = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(joint, (labels[counted], guess[counted]), 1)
    return joint


def calibrate(joint: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Scale each row of the joint to its class's size, in whole images (rounding keeps each row's total)."""
    sizes = np.bincount(labels, minlength=joint.shape[0])
    rows = joint.sum(axis=1, keepdims=True)
    scaled = np.where(rows > 0, joint / np.maximum(rows, 1) * sizes[:, None], 0.0)
    return np.vstack([round_keeping_total(row, int(size)) for row, size in zip(scaled, sizes, strict=True)])


def round_keeping_total(values: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers close to `values` that add up to `total` (largest remainders round up)."""
    floors = np.floor(values).astype(np.int64)
    missing = total - int(floors.sum())
    if missing > 0 and values.sum() > 0:
        order = np.argsort(-(values - floors), kind="stable")
        floors[order[:missing]] += 1
    return floors


def find_label_issues(labels: np.ndarray, probabilities: np.ndarray, *, keep_per_class: int = 1) -> LabelIssues:
    """The label issues of images with given `labels` (int, N) and out-of-sample `probabilities` (N, C).

    At least `keep_per_class` images of each given class stay unflagged, so no class is emptied."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = probabilities.shape[1]
    joint = calibrate(confident_joint(labels, probabilities), labels)
    prune = joint.copy()
    np.fill_diagonal(prune, 0)
    sizes = np.bincount(labels, minlength=classes)
    for k in range(classes):
        allowed = max(0, int(sizes[k]) - keep_per_class)
        if prune[k].sum() > allowed:
            prune[k] = round_keeping_total(prune[k] * allowed / prune[k].sum(), allowed)
    flagged = np.zeros(len(labels), dtype=bool)
    for k in range(classes):
        members = np.flatnonzero(labels == k)
        for j in range(classes):
            if j != k and prune[k, j] > 0:
                margin = probabilities[members, j] - probabilities[members, k]
                flagged[members[np.argsort(-margin, kind="stable")[: prune[k, j]]]] = True
    flagged &= probabilities.argmax(axis=1) != labels
    indices = np.flatnonzero(flagged)
    others = probabilities[indices].copy()
    others[np.arange(len(indices)), labels[indices]] = -1.0
    suggested = others.argmax(axis=1)
    score = probabilities[indices, suggested] - probabilities[indices, labels[indices]]
    order = np.argsort(-score, kind="stable")
    rows = joint.sum(axis=1)
    noise = np.where(rows > 0, 1.0 - np.diag(joint) / np.maximum(rows, 1), 0.0)
    return LabelIssues(indices[order], suggested[order], score[order], joint, noise)
