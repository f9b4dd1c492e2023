"""The cuts feeds, prints and previews make of a picture (SHAPES), slid along it: each shape's pHash at every place,
a 32nd of the cut's length apart, and the pHash geometry they share with inspect.py.

The named cuts of SHAPES sit at a few places (the centre, either end, the upper third). A cut made anywhere else is a
few percent of its length off the nearest of them, and a pHash changes by a bit or more for every 3% a picture
shifts, so most such cuts went unfound. Here each shape's cut is hashed at every place it can take, a PHASH_SIDE-th
of its length apart (the named places among them), so a copy cut anywhere lies within half a step of one.

The work is shared: the picture is resized across the axis the cuts move along once (Pillow's first pass), and the
DCT across it is taken once; each place then costs a small matrix product, the resize along it and the DCT folded
into one matrix per cut length. The named views' hashes and small copies are those of their places.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

# Side of the copy a pHash is taken from, and the first 8 rows of the (unnormalised) DCT-II that takes it, as
# scipy.fftpack.dct does: their low-frequency corner is the hash.
PHASH_SIDE = 32
PHASH_DCT = 2 * np.cos(np.pi * np.arange(8)[:, None] * (2 * np.arange(PHASH_SIDE)[None, :] + 1) / (2 * PHASH_SIDE))

# Side of the grey copies (of the whole picture and of its crops) that verify a match by correlation.
THUMBNAIL_SIDE = 16


@dataclass(frozen=True)
class Shape:
    """A feed's shape, `name`d for the report: the largest cut of `aspect` (width over height) that it keeps of a wider
    or taller picture, placed at `place` of the room it leaves (0: at the left or top edge, 1: at the right or bottom
    edge). A picture within `tolerance` of `aspect` either way is of this shape: a cut saved and resized stays within
    a pixel of it."""

    name: str
    aspect: float
    place: float = 0.5
    tolerance: float = 1.02


# The cuts hashed besides the crops, the shapes that feeds, prints and previews cut pictures to: squares (a feed's or a
# thumbnail's, centred or at either end), 4:5 portraits (centred or at either end), 2:3 pins, 9:16 stories, 5:4
# prints, 3:2 photos, 16:9 video frames and 1.91:1 link previews (to 2:1; centred or keeping the upper third, as a
# cropper that looks for faces does). Each is compared only with the whole picture (as is or mirrored) of a picture of
# its shape: any other pair through it matches two parts by chance.
SQUARE = "square"
SHAPES = {SQUARE: Shape("a square", 1.0), "square-start": Shape("a square", 1.0, 0.0),
          "square-end": Shape("a square", 1.0, 1.0), "portrait": Shape("4:5", 0.8, tolerance=1.04),
          "portrait-start": Shape("4:5", 0.8, 0.0, 1.04), "portrait-end": Shape("4:5", 0.8, 1.0, 1.04),
          "pin": Shape("2:3", 2 / 3, tolerance=1.04), "story": Shape("9:16", 9 / 16, tolerance=1.04),
          "print": Shape("5:4", 1.25, tolerance=1.03), "photo": Shape("3:2", 1.5, tolerance=1.04),
          "video": Shape("16:9", 16 / 9, tolerance=1.04), "wide": Shape("1.91:1", 1.91, tolerance=1.05),
          "wide-upper": Shape("1.91:1", 1.91, 1 / 3, 1.05)}
# One shape per name of SHAPES (a square, 4:5, 2:3, 9:16, 5:4, 3:2, 16:9, 1.91:1), wherever its named views sit.
FAMILIES: dict[str, Shape] = {shape.name: Shape(shape.name, shape.aspect, tolerance=shape.tolerance)
                              for shape in SHAPES.values()}

# The views of SHAPES of each shape of FAMILIES, to their places.
NAMED_PLACES = {name: {view: shape.place for view, shape in SHAPES.items() if shape.name == name} for name in FAMILIES}


@dataclass(frozen=True)
class Slides:
    """A picture's cuts at every place: `hashes`, per name of FAMILIES, the pHash of each place in order (uint64
    bytes), and its grey copy box-filtered to THUMBNAIL_SIDE rows (`rows`, for the cuts that move along the width)
    and to THUMBNAIL_SIDE columns (`columns`), which the small copy of any place is resized from, on demand."""

    width: int
    height: int
    hashes: dict[str, bytes]
    rows: bytes
    columns: bytes

    def values(self, name: str) -> np.ndarray:
        return np.frombuffer(self.hashes.get(name, b""), dtype=np.uint64)

    def thumbnails(self, name: str, places: np.ndarray) -> np.ndarray:
        """The THUMBNAIL_SIDE x THUMBNAIL_SIDE grey copy of each of `places` of the named shape's cut, as float32."""
        across, kept, starts = cut_places((self.width, self.height), FAMILIES[name])
        strip = np.frombuffer(self.rows if across else self.columns, dtype=np.uint8)
        strip = strip.reshape((THUMBNAIL_SIDE, self.width) if across else (self.height, THUMBNAIL_SIDE))
        return _small_copies(strip.astype(np.float32), across, kept, starts[places])


@dataclass(frozen=True)
class NamedCut:
    """A view of SHAPES taken from the slides, at its place: its pHash and its small grey copy."""

    hash: int
    thumbnail: np.ndarray


def cut_places(size: tuple[int, int], shape: Shape) -> tuple[bool, int, np.ndarray]:
    """Where the largest cut of `shape` lies on a picture of `size`: whether it moves along the width, how many
    pixels it keeps along that axis, and its first pixel at each place (both ends and the places of its named views
    among them, as `inspect.shaped_box` puts them); no places for a picture of the shape's own aspect."""
    width, height = size
    cut_width, cut_height = max(0, width - round(height * shape.aspect)), max(0, height - round(width / shape.aspect))
    across = cut_width > 0
    room, kept = (cut_width, width - cut_width) if across else (cut_height, height - cut_height)
    if not room:
        return across, kept, np.empty(0, dtype=np.intp)
    steps = math.ceil(room * PHASH_SIDE / kept)
    grid = np.rint(np.arange(steps + 1) * (room / steps))
    return across, kept, np.unique(np.concatenate([grid, _named_starts(room, shape.name)])).astype(np.intp)


def slides(grey: Image.Image) -> tuple[Slides, dict[str, NamedCut]]:
    """Every cut of FAMILIES at every place on `grey` (the analysis copy), hashed; and each view of SHAPES among
    them, with its small copy (none for a shape the picture has: its view is the whole picture)."""
    width, height = grey.size
    rows = grey.resize((width, PHASH_SIDE), Image.Resampling.LANCZOS)
    columns = grey.resize((PHASH_SIDE, height), Image.Resampling.LANCZOS)
    across_dct = PHASH_DCT @ np.asarray(rows, dtype=np.float64)  # 8 x width: the vertical DCT of every column
    down_dct = np.asarray(columns, dtype=np.float64) @ PHASH_DCT.T  # height x 8
    small_rows = grey.resize((width, THUMBNAIL_SIDE), Image.Resampling.BOX)
    small_columns = grey.resize((THUMBNAIL_SIDE, height), Image.Resampling.BOX)
    strips = {True: np.asarray(small_rows, dtype=np.float32), False: np.asarray(small_columns, dtype=np.float32)}
    names, lows, named, thumbnails = [], [], {}, {}
    for name, shape in FAMILIES.items():
        across, kept, starts = cut_places(grey.size, shape)
        if not starts.size:
            continue
        span = starts[:, None] + np.arange(kept)
        if across:
            lows.append((across_dct[:, span] @ _folded_dct(kept)).transpose(1, 0, 2).reshape(len(starts), -1))
        else:
            lows.append((_folded_dct(kept).T @ down_dct[span]).reshape(len(starts), -1))
        names.append(name)
        views = list(NAMED_PLACES[name])
        places = np.searchsorted(starts, _named_starts(starts[-1], name))
        named |= dict(zip(views, (sum(len(low) for low in lows[:-1]) + places).tolist(), strict=True))
        small = np.rint(_small_copies(strips[across], across, kept, starts[places])).astype(np.uint8)
        thumbnails |= dict(zip(views, small, strict=True))
    if not lows:
        return Slides(width, height, {}, small_rows.tobytes(), small_columns.tobytes()), {}
    low = np.concatenate(lows)
    bits = np.packbits(low > np.median(low, axis=1, keepdims=True), axis=1).view(">u8").ravel().astype(np.uint64)
    ends = np.cumsum([len(part) for part in lows])[:-1]
    hashes = {name: part.tobytes() for name, part in zip(names, np.split(bits, ends), strict=True)}
    return (Slides(width, height, hashes, small_rows.tobytes(), small_columns.tobytes()),
            {view: NamedCut(int(bits[place]), thumbnails[view]) for view, place in named.items()})


def _named_starts(room: int, name: str) -> list[int]:
    """The first pixel of each view of SHAPES of the named shape, in their order there."""
    return [math.floor(room * place) for place in NAMED_PLACES[name].values()]


def _small_copies(strip: np.ndarray, across: bool, kept: int, starts: np.ndarray) -> np.ndarray:
    """THUMBNAIL_SIDE x THUMBNAIL_SIDE copies of the cuts `kept` pixels long at `starts` of `strip` (the picture
    box-filtered across to THUMBNAIL_SIDE), box-filtered along as Pillow does."""
    box = _resampling(kept, THUMBNAIL_SIDE, Image.Resampling.BOX)
    span = starts[:, None] + np.arange(kept)
    if across:
        return (strip[:, span] @ box).transpose(1, 0, 2)
    return box.T @ strip[span]


@lru_cache(maxsize=256)
def _folded_dct(length: int) -> np.ndarray:
    """length x 8: a line of `length` pixels resized to PHASH_SIDE as Pillow's Lanczos does, then the pHash's DCT."""
    return _resampling(length, PHASH_SIDE, Image.Resampling.LANCZOS).astype(np.float64) @ PHASH_DCT.T


@lru_cache(maxsize=512)
def _resampling(length: int, side: int, method: Image.Resampling) -> np.ndarray:
    """length x side: Pillow's resampling weights from a line of `length` pixels to `side` (its precompute_coeffs):
    each output pixel a normalised window of the filter, stretched by the scale when shrinking."""
    scale = length / side
    support_scale = max(scale, 1.0)
    support = (3.0 if method == Image.Resampling.LANCZOS else 0.5) * support_scale
    weights = np.zeros((length, side), dtype=np.float32)
    for out in range(side):
        centre = (out + 0.5) * scale
        first, last = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), length)
        x = (np.arange(first, last) - centre + 0.5) / support_scale
        if method == Image.Resampling.LANCZOS:
            taps = np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
        else:
            taps = ((x >= -0.5) & (x < 0.5)).astype(np.float64)
        weights[first:last, out] = taps / taps.sum()
    return weights
