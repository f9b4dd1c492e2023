"""Semantic near-duplicates: pairs of images whose embeddings nearly coincide, as mirrored, cropped, rotated or
re-coloured copies do even when their perceptual hashes differ."""

from __future__ import annotations

import numpy as np

# Rows of the similarity matrix computed at once: 1024 x 10,000 float32 is 40 MB.
BLOCK = 1024


def similar_pairs(embeddings: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity) with i < j for every pair of unit embeddings whose cosine similarity is >= threshold."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    found_i, found_j, found_s = [], [], []
    for start in range(0, len(vectors), BLOCK):
        block = vectors[start : start + BLOCK] @ vectors.T
        rows, cols = np.nonzero(block >= threshold)
        rows = rows + start
        upper = cols > rows
        found_i.append(rows[upper])
        found_j.append(cols[upper])
        found_s.append(block[rows[upper] - start, cols[upper]])
    if not found_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return (np.concatenate(found_i).astype(np.int64), np.concatenate(found_j).astype(np.int64),
            np.concatenate(found_s))
