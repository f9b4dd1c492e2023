"""Semantic near-duplicates: copies the perceptual hashes missed, found in two steps. The embedding proposes (each
image's nearest neighbours), the pixels decide (the small grey copies the hash pass keeps must correlate under
mirroring, the centre crop and sub-pixel shifts).

Neighbours are searched among instance vectors: embeddings centred on the dataset's mean, less their components
along the class means. Raw CNN features are all positive, so any two pictures have a high raw cosine, and two
unrelated pictures of one distinct class share its direction. Embedding similarity alone did not tell a copy from
a look-alike (bench/audit_bench.py, earlier stand-in: at cosine 0.9, 1.7% of the pairs were copies), so it only
proposes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..decide import view_thumbnails
from ..inspect import THUMBNAIL_SIDE, Inspection

# Nearest neighbours each image proposes as copies: one found the most planted copies at 99% precision on
# bench/audit_thresholds.py's choice set (more neighbours bring look-alikes that need a far higher threshold).
NEIGHBOURS = 1
# Rows of the similarity matrix computed at once: 1024 x 10,000 float32 is 40 MB.
BLOCK = 1024
# Singular values below this share of the largest one are rounding, not class directions.
RANK_TOLERANCE = 1e-6
# Offsets, in thumbnail pixels, at which two grey copies are compared: a 10% crop shifts the centre view by up to
# 0.8 of a 16 px thumbnail's pixels.
SHIFTS = (-1.0, -0.5, 0.0, 0.5, 1.0)
# Pixels left out at each edge of the thumbnails when correlating, so a shift never compares invented borders.
MARGIN = 1
# Only pairs whose unshifted correlation reaches this are compared under every shift (the shifts cost 25 times as
# much); every planted mirror and 10% crop of bench/audit_thresholds.py's choice set measured above it.
SHIFT_GATE = 0.6
# Pairs of views compared: (view of the first picture, view of the second). "whole" and "centre" are the grey
# copies of the hash pass; "mirror" and "centre-mirror" the same flipped left to right.
VIEW_PAIRS = (("whole", "whole"), ("whole", "mirror"), ("centre", "whole"), ("whole", "centre"),
              ("centre-mirror", "whole"), ("whole", "centre-mirror"), ("centre", "centre"), ("centre", "mirror"))


def instance_vectors(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit vectors of the embeddings less the dataset mean and less their projection on the class-mean
    directions (a vector left with nothing stays zero)."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    mean = vectors.mean(axis=0)
    vectors = vectors - mean
    labels = np.asarray(labels)
    offsets = np.array([vectors[labels == j].mean(axis=0) for j in np.unique(labels)])
    _, singular, basis = np.linalg.svd(offsets, full_matrices=False)
    basis = basis[singular > RANK_TOLERANCE * max(singular.max(initial=0.0), 1e-12)]
    vectors = vectors - (vectors @ basis.T) @ basis
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 1e-9).astype(np.float32)


def neighbour_pairs(vectors: np.ndarray, neighbours: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with i < j, each pair once: every image with its `neighbours` most similar others (cosine of unit
    `vectors`)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    count = len(vectors)
    k = min(neighbours, count - 1)
    if k < 1:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    keys = []
    for start in range(0, count, BLOCK):
        block = vectors[start : start + BLOCK] @ vectors.T
        rows = np.arange(len(block))
        block[rows, rows + start] = -np.inf
        nearest = np.argpartition(-block, k - 1, axis=1)[:, :k]
        first = np.repeat(rows + start, k)
        second = nearest.ravel()
        keys.append(np.minimum(first, second) * count + np.maximum(first, second))
    unique = np.unique(np.concatenate(keys))
    return unique // count, unique % count


def shifted(pictures: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """(P, H, W) pictures moved by (dy, dx) pixels with bilinear interpolation, edge values repeated."""
    _, height, width = pictures.shape
    ys = np.clip(np.arange(height) - dy, 0, height - 1)
    xs = np.clip(np.arange(width) - dx, 0, width - 1)
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    wy, wx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    rows0, rows1 = pictures[:, y0], pictures[:, y1]
    top = rows0[:, :, x0] * (1 - wx) + rows0[:, :, x1] * wx
    bottom = rows1[:, :, x0] * (1 - wx) + rows1[:, :, x1] * wx
    return top * (1 - wy) + bottom * wy


def correlation(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Correlation of each pair of (P, H, W) pictures over their interior (MARGIN pixels in from each edge)."""
    a, b = first[:, MARGIN:-MARGIN, MARGIN:-MARGIN], second[:, MARGIN:-MARGIN, MARGIN:-MARGIN]
    a, b = a.reshape(len(a), a.shape[1] * a.shape[2]), b.reshape(len(b), b.shape[1] * b.shape[2])
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.maximum(norms, 1e-9)


def pixel_similarity(whole: np.ndarray, centre: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """For each pair (first[k], second[k]) of pictures, given by their (N, H, W) grey copies of the whole and of the
    centre: the best correlation over VIEW_PAIRS, under SHIFTS for the pairs that reach SHIFT_GATE unshifted."""
    views = {"whole": whole, "mirror": whole[:, :, ::-1], "centre": centre, "centre-mirror": centre[:, :, ::-1]}
    views = {name: np.asarray(pictures, dtype=np.float32) for name, pictures in views.items()}
    best = np.full(len(first), -1.0, dtype=np.float32)
    for a, b in VIEW_PAIRS:
        best = np.maximum(best, correlation(views[a][first], views[b][second]))
    close = np.flatnonzero(best >= SHIFT_GATE)
    for a, b in VIEW_PAIRS:
        left, right = views[a][first[close]], views[b][second[close]]
        for dy in SHIFTS:
            for dx in SHIFTS:
                if dy or dx:
                    best[close] = np.maximum(best[close], correlation(left, shifted(right, dy, dx)))
    return best


def copy_pairs(vectors: np.ndarray, whole: np.ndarray, centre: np.ndarray, neighbours: int, threshold: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity) with i < j for every pair of embedding neighbours whose pixel similarity reaches
    `threshold`; `vectors` are instance vectors, `whole` and `centre` the hash pass's grey copies as (N, H, W)."""
    first, second = neighbour_pairs(vectors, neighbours)
    similarity = pixel_similarity(whole, centre, first, second)
    alike = similarity >= threshold
    return first[alike], second[alike], similarity[alike]


def grey_copies(inspections: Sequence[Inspection]) -> tuple[np.ndarray, np.ndarray]:
    """The hash pass's grey copies of each picture's whole and centre, as (N, H, W) arrays."""
    rows = view_thumbnails(inspections, ("whole", "centre"))
    return rows.reshape(2, len(inspections), THUMBNAIL_SIDE, THUMBNAIL_SIDE)
