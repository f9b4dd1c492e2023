"""Traces that a JPEG was edited from an earlier JPEG and saved again: which member of a duplicate group is a copy.

A JPEG's decoded luminance, cut into 8x8 blocks on its own grid and transformed, lies on the lattice of its own
quantisation table. A copy made by editing a decoded JPEG and saving it again keeps part of the earlier lattice as
well. Mirrored, the earlier grid lies at another phase (unless the width is a multiple of 8, where a mirror is
lossless and leaves nothing). Brightened or with a contrast change, every coefficient was scaled between two
quantisations by the same steps: stretched, some quantised values can no longer occur, which leaves periodic empty
bins in their histogram (shrunk, each bin takes about two earlier values, nearly evenly, which leaves little); a
single compression leaves a smooth, geometric histogram. Pure functions on arrays; `inspect` feeds them.
"""

from __future__ import annotations

import numpy as np

BLOCK = 8
# Side of the central window measured, in pixels: 256 blocks keep the cost near 0.4 ms a picture (96 px measured
# 0.27 ms but let the copies of brightness edits fall within the originals' spread).
WINDOW = 128
# Table steps under which the decoded coefficients are too noisy (8-bit rounding of RGB) to sit on the lattice.
MIN_STEP = 3
# Largest quantised value whose bin enters the histogram test; higher bins hold too few coefficients.
HISTOGRAM_BINS = 16
# Expected count under which a bin's deviation is noise, not a trace.
MIN_EXPECTED = 5.0


def _dct_matrix() -> np.ndarray:
    k = np.arange(BLOCK)
    matrix = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * BLOCK)) * np.sqrt(2 / BLOCK)
    matrix[0] /= np.sqrt(2)
    return matrix.astype(np.float32)


DCT = _dct_matrix()
TRACES = ("mirror_trace", "scaling_trace")


def luminance(rgb: np.ndarray) -> np.ndarray:
    """The JPEG (BT.601) luma of an RGB array, unrounded: within a rounding step of the Y the decoder produced."""
    pixels = rgb.astype(np.float32)
    return pixels[..., 0] * np.float32(0.299) + pixels[..., 1] * np.float32(0.587) + pixels[..., 2] * np.float32(0.114)


def block_coefficients(luma: np.ndarray, table: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """DCT coefficients, in steps of `table` (8x8, natural order), of the whole blocks of a central window of
    `luma` on a grid shifted by (dx, dy) pixels from the top left, as (block rows, block columns, 8, 8)."""
    height, width = luma.shape[0] - dy, luma.shape[1] - dx
    side_x, side_y = min(width, WINDOW) // BLOCK * BLOCK, min(height, WINDOW) // BLOCK * BLOCK
    left = dx + (width - side_x) // 2 // BLOCK * BLOCK
    top = dy + (height - side_y) // 2 // BLOCK * BLOCK
    rows, columns = side_y // BLOCK, side_x // BLOCK
    window = luma[top:top + side_y, left:left + side_x] - np.float32(128)
    # Stacked 8x8 products: one large product would go to a multi-threaded BLAS, many times slower in a busy pool.
    blocks = window.reshape(rows, BLOCK, columns, BLOCK).swapaxes(1, 2)
    return DCT @ blocks @ DCT.T * (1 / table)


def tested_values(luma: np.ndarray, table: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """The coefficients of `block_coefficients` at the AC positions whose steps are coarse enough to test (the DC
    term also carries the level shift of an edit), flat."""
    usable = table >= MIN_STEP
    usable[0, 0] = False
    return block_coefficients(luma, table, dx, dy)[..., usable]


def lattice_distance(luma: np.ndarray, table: np.ndarray, dx: int = 0, dy: int = 0) -> float:
    """Mean distance of the coefficients (of half a step or more) on the grid at (dx, dy) to the nearest step of
    `table`: near 0 on a grid the picture was quantised on, about 0.25 elsewhere."""
    values = tested_values(luma, table, dx, dy)
    offsets = np.abs(values - np.rint(values))[np.abs(values) >= 0.5]
    return float(offsets.mean()) if offsets.size else 0.0


def mirror_trace(luma: np.ndarray, table: np.ndarray, width: int) -> float:
    """How much nearer the lattice the grid of a mirrored earlier compression lies than the phase as far from the
    picture's own grid on the other side: about 0 for a picture compressed once, positive for one mirrored after an
    earlier compression with the same width and steps. `luma` starts on the picture's grid; `width` is the
    picture's, which places the mirrored grid.

    Off-grid distances grow with the distance from the own grid, symmetrically; so the control for phase p is 8 - p
    (and the mean of its two neighbours for p = 4, a shade lower, which only errs towards no trace).
    """
    phase = width % BLOCK
    if phase == 0 or min(luma.shape) < 2 * BLOCK:
        return 0.0
    if phase == BLOCK // 2:
        control = (lattice_distance(luma, table, phase - 1) + lattice_distance(luma, table, phase + 1)) / 2
    else:
        control = lattice_distance(luma, table, BLOCK - phase)
    return control - lattice_distance(luma, table, phase)


def scaling_trace(luma: np.ndarray, table: np.ndarray) -> float:
    """Mean squared deviation, in Poisson units, of each bin (2 to HISTOGRAM_BINS) of the histogram of quantised
    magnitudes from the geometric mean of its two neighbours: a few units after one compression, more when values
    were scaled between two."""
    if min(luma.shape) < BLOCK:
        return 0.0
    magnitudes = (np.abs(tested_values(luma, table)) + 0.5).astype(np.intp)  # rounded half up
    counts = np.bincount(magnitudes.ravel(), minlength=HISTOGRAM_BINS + 2)
    counts = counts[1:HISTOGRAM_BINS + 2].astype(np.float64)  # bin 0 holds the zeroed coefficients: no shape
    expected = np.sqrt(counts[:-2] * counts[2:])
    measured = expected >= MIN_EXPECTED
    if not measured.any():
        return 0.0
    deviation = (counts[1:-1] - expected) ** 2 / np.maximum(expected, 1.0)
    return float(deviation[measured].mean())


def measured_box(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the part of a picture the traces read: its central window and a block's margin
    for the shifted grids, cut at multiples of 8 pixels so that every phase keeps its meaning."""
    margin = WINDOW + BLOCK
    left, top = max(0, (width - margin) // 2 // BLOCK * BLOCK), max(0, (height - margin) // 2 // BLOCK * BLOCK)
    return left, top, min(width, left + margin), min(height, top + margin)


def recompression_traces(rgb: np.ndarray, table: np.ndarray, width: int) -> dict[str, float]:
    """Both traces of the `measured_box` of a picture `width` pixels wide, as RGB decoded from a JPEG whose
    luminance table is `table`."""
    luma = luminance(rgb)
    return {"mirror_trace": mirror_trace(luma, table, width), "scaling_trace": scaling_trace(luma, table)}
