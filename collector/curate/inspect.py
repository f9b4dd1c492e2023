"""Judge one file for `curate`: is it a usable image, what are its fingerprints, and does it look poor.

Everything comes from a single full decode: the full pixels give the exact-duplicate digest (and prove the file
is not truncated), the margins and the detail measure, one small copy of them gives the perceptual hashes of
twenty-six views (as is, mirrored, the centre, the four corners and the middle of each side, the mirrored centre,
the picture inside its margins, and the cuts that feeds, prints and previews make: squares, portraits, pins, stories,
prints, photos, video frames, link previews) and of those cuts at every place along the picture (slides.py), the
small grey copies that verify a match, and the quality metrics.
"""

from __future__ import annotations

import codecs
import hashlib
import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import imagehash
import numpy as np
import PIL
from PIL import Image, ImageChops, ImageOps

from ..validate import DECODE_ERRORS, DEFAULT_MAX_PIXELS, decode_failure, sniff_format
from .recompression import TRACES, measured_box, recompression_traces
from .rgb import to_rgb, upright
from .slides import PHASH_DCT, PHASH_SIDE, SHAPES, THUMBNAIL_SIDE, NamedCut, Shape, Slides, slides

HASHERS = {
    "phash": imagehash.phash,
    "dhash": imagehash.dhash,
    "whash": imagehash.whash,
    "ahash": imagehash.average_hash,
}

# Longest side of the copy that hashes and metrics are computed on: metrics then mean the same at every image size.
ANALYSIS_SIDE = 128

# Share of each side kept by the crop views: the part a 5-degree rotation leaves unfilled and a 10% crop keeps, so
# that a copy cropped 10% from one corner is one of its original's views.
CROP_SHARE = 0.9

# The whole picture; the crops hashed besides it, each placed at (x, y) in the room CROP_SHARE leaves (0: at the
# left or top edge, 1: at the right or bottom edge); and the mirrored views, each the flip of another.
WHOLE = "whole"
CROPS = {"centre": (0.5, 0.5), "top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0),
         "bottom-right": (1.0, 1.0)}
# Crops at the middle of each side: with the centre and the corners, three places along each side, so that a crop cut
# anywhere lies within a quarter of the room of one of them. Each is compared only with the whole picture (as is or
# mirrored) of every other picture: a copy cut there matches through it as a whole, other pairs through it by chance.
SIDES = {"top": (0.5, 0.0), "bottom": (0.5, 1.0), "left": (0.0, 0.5), "right": (1.0, 0.5)}
MIRROR_OF = {"mirror": WHOLE, "mirror-centre": "centre"}
# The picture inside its margins (see `content_box`): a frame, bars or a caption bar left out.
CONTENT = "content"


VIEWS = ("mirror", "centre", "mirror-centre", "top-left", "top-right", "bottom-left", "bottom-right", *SIDES, CONTENT,
         *SHAPES)
# The views that keep every pixel: a match through one is as strong as a match of whole pictures.
LOSSLESS_VIEWS = frozenset({WHOLE, "mirror"})

# Pillow's major version: version 13 changed which of a resize's two passes runs first (see `resized_boxes`).
PILLOW_MAJOR = int(PIL.__version__.split(".")[0])

# Side of the grey copy `structure` is measured on: the one a pHash is taken from.
STRUCTURE_SIDE = 32

# Side of the central window, in pixels at the image's own size, whose finest detail is measured.
DETAIL_WINDOW = 128
# Lower edge of the finest band, as a share of the Nyquist frequency (see `measure_detail`).
DETAIL_BAND = 0.6

# A margin line (a row or column of a frame, letterbox bars) stays within this many levels of its side's edge
# colour; a photo's line crosses it, and JPEG noise in a flat frame stays well under it.
MARGIN_TOLERANCE = 12
OUTSIDE_TOLERANCE = [0] * (MARGIN_TOLERANCE + 1) + [255] * (255 - MARGIN_TOLERANCE)  # per channel, for Image.point
# A margin whose channels differ by no more than this is neutral (see `Margin.neutral`).
NEUTRAL_SPREAD = 16

# TIFF is not kept by `collect` but is a fine image in a hand-made dataset.
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")

ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})

Box = tuple[int, int, int, int]  # left, top, right, bottom, as Pillow crops

# Pixel bytes hashed at a time: images up to about 1.4 MP in one piece, bigger ones in strips.
DIGEST_STRIP_BYTES = 4 * 2**20

# Enough of the start of a file to tell an image format, or what else it is.
HEAD_BYTES = 512


@dataclass(frozen=True)
class QualityThresholds:
    """Where an accepted image starts to look poor; each crossing adds a flag, none rejects on its own.

    Defaults measured on 2,400 CIFAR-10 photos upscaled to 128-400 px and degraded copies of them (see the
    `measure_quality` docstring): each flags at most 1.5% of the untouched photos.
    """

    dark: float = 40.0  # mean brightness (0-255) below this: 0.2% of photos, 98% of photos at 20% exposure
    bright: float = 220.0  # mean brightness above this: 0.3% of photos, 91% of photos washed 80% towards white
    blur: float = 15.0  # Laplacian variance below this: 1.2% of photos, 57% of photos blurred by 2% of their size
    entropy: float = 3.0  # bits of the grey histogram below this: flat, near-empty pictures; 0% of photos
    grayscale: float = 0.02  # colourfulness below this: all grey copies, 1.5% of photos (mostly black and white)
    odd_min_side: int = 64  # accepted but smaller than this on its short side
    odd_aspect: float = 3.0  # accepted but longer than this many times its short side


@dataclass(frozen=True)
class InspectOptions:
    """What `inspect_image` rejects and computes; hash kinds are checked here so a typo fails before any work."""

    min_side: int = 32
    max_aspect: float = 5.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    hash_kinds: tuple[str, ...] = ("phash",)
    quality: QualityThresholds = field(default_factory=QualityThresholds)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.hash_kinds) - set(HASHERS))
        if unknown:
            raise ValueError(f"unknown hash kind {', '.join(unknown)}; choose from {', '.join(HASHERS)}")


@dataclass(frozen=True)
class Inspection:
    """What one file is. `reason` is None for an accepted image, else the slug of why it was rejected."""

    path: Path
    reason: str | None
    detail: str
    format: str | None
    width: int
    height: int
    size: int
    pixel_digest: str | None
    hashes: dict[str, int]
    flags: tuple[str, ...]
    metrics: dict[str, float]
    views: dict[str, dict[str, int]] = field(default_factory=dict)  # a name of VIEWS -> hashes of that view
    # THUMBNAIL_SIDE**2 grey levels, row by row, of the whole picture and of each view not in MIRROR_OF
    thumbnails: dict[str, bytes] = field(default_factory=dict)
    slides: Slides | None = None  # the cuts at every place (slides.py), with pHash among the hash kinds

    @property
    def ok(self) -> bool:
        return self.reason is None


class _Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def inspect_image(path: Path, options: InspectOptions) -> Inspection:
    """Inspect one file. Never raises for a bad file: a bad file is a result with a `reason`."""
    path = Path(path)
    seen = _Seen()
    try:
        try:
            handle = path.open("rb")
        except OSError as error:
            raise _Rejected("unreadable", error.strerror or str(error)) from error
        # Pillow warns about corrupt metadata it skips; the verdict is the result, not console noise.
        with handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _inspect_file(path, handle, options, seen)
    except _Rejected as rejected:
        return Inspection(path, rejected.reason, rejected.detail, seen.format, seen.width, seen.height, seen.size,
                          None, {}, (), {})


def hash_to_hex(value: int) -> str:
    """The 16-digit hex form imagehash prints and `imagehash.hex_to_hash` reads back."""
    return f"{value:016x}"


@dataclass
class _Seen:
    """What was learnt about a file before it was rejected, for the report."""

    format: str | None = None
    width: int = 0
    height: int = 0
    size: int = 0


def _inspect_file(path: Path, handle: BinaryIO, options: InspectOptions, seen: _Seen) -> Inspection:
    seen.size = os.fstat(handle.fileno()).st_size
    # Only the head is read before the format is known: a huge non-image costs nothing.
    head = handle.read(HEAD_BYTES)
    if not head:
        raise _Rejected("empty", "the file has zero bytes")
    handle.seek(0)
    image = _open(head, handle, options.max_pixels, seen)
    table = luminance_table(image)
    compression = jpeg_step(table)
    animated = _is_animated(image)
    _load(image)
    stored, image = image, upright(image)
    width, height = image.size
    seen.width, seen.height = width, height
    if min(width, height) < options.min_side:
        raise _Rejected("too-small", f"{width}x{height} is under the {options.min_side} px minimum side")
    aspect = max(width, height) / min(width, height)
    if aspect > options.max_aspect:
        limit = f"{options.max_aspect:g}:1"
        raise _Rejected("extreme-aspect", f"{width}x{height} is {aspect:.1f}:1, over the {limit} limit")
    rgb = _to_rgb(image)
    digest = pixel_digest(rgb)
    small = _analysis_copy(rgb)
    grey = small.convert("L")
    margins = find_margins(rgb)
    box = content_box(margins, width, height)
    boxes = view_boxes(grey.size, scaled_box(box, rgb.size, grey.size))
    cuts, named = slides(grey) if "phash" in options.hash_kinds else (None, None)
    copied = boxes if named is None else {name: box for name, box in boxes.items() if name not in SHAPES}
    lanczos, boxed = small_copies(grey, copied)
    views = view_hashes(grey, boxes, lanczos, options.hash_kinds, named)
    if named is not None:
        boxed |= {name: named[name].thumbnail if name in named else boxed[WHOLE] for name in SHAPES}
    hashes = views.pop(WHOLE)
    metrics = measure_quality(np.asarray(small)) | {
        "structure": measure_structure(grey), "detail": measure_detail(rgb, box),
        "content": measure_content(box, width, height), "frame": float(any(m.neutral for m in margins.values())),
        "jpeg_step": compression} | _traces(stored, image, rgb, table)
    flags = quality_flags(metrics, width, height, options.quality) + (("animated",) if animated else ())
    thumbnails = {name: copy.tobytes() for name, copy in boxed.items()}
    return Inspection(path, None, "", seen.format, width, height, seen.size, digest, hashes, flags, metrics, views,
                      thumbnails, cuts)


def _open(head: bytes, handle: BinaryIO, max_pixels: int, seen: _Seen) -> Image.Image:
    announced = sniff_format(head) or ("TIFF" if head[:4] in TIFF_MAGIC else None)
    if announced is None:
        raise _Rejected("not-image", describe_non_image(head))
    seen.format = announced
    try:
        image = Image.open(handle, formats=[announced])
    except Image.DecompressionBombError as error:
        raise _Rejected("too-many-pixels", str(error)) from error
    except DECODE_ERRORS as error:
        raise _Rejected(*decode_failure(error)) from error
    seen.format = image.format or announced
    width, height = image.size
    seen.width, seen.height = width, height
    if width * height > max_pixels:
        raise _Rejected("too-many-pixels", f"{width}x{height} is over the {max_pixels:,} pixel limit")
    if width < 1 or height < 1:
        raise _Rejected("undecodable", f"{width}x{height} has no pixels")
    return image


def _is_animated(image: Image.Image) -> bool:
    """Several frames meant to be played; a camera's multi-picture JPEG (MPO) holds stills, not an animation."""
    if image.format not in ANIMATED_FORMATS:
        return False
    try:
        animated = bool(getattr(image, "is_animated", False))
        if animated:
            image.seek(0)
        return animated
    except DECODE_ERRORS as error:
        raise _Rejected(*decode_failure(error)) from error


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except (*DECODE_ERRORS, MemoryError) as error:
        raise _Rejected(*decode_failure(error)) from error


def _to_rgb(image: Image.Image) -> Image.Image:
    try:
        return to_rgb(image)
    except (OSError, ValueError, TypeError) as error:
        raise _Rejected("not-rgb", f"{image.mode} pixels cannot be converted to RGB: {error}") from error


def pixel_digest(rgb: Image.Image) -> str:
    """sha256 of the size and the RGB bytes. Big images go through in strips: no second full-size copy, and
    measured twice as fast on a 6 MP photo as one `tobytes()`."""
    width, height = rgb.size
    digest = hashlib.sha256(f"{width}x{height}:".encode())
    rows = max(1, DIGEST_STRIP_BYTES // (width * 3))
    if rows >= height:
        digest.update(rgb.tobytes())
    else:
        for top in range(0, height, rows):
            digest.update(rgb.crop((0, top, width, min(height, top + rows))).tobytes())
    return digest.hexdigest()


def _analysis_copy(rgb: Image.Image) -> Image.Image:
    width, height = rgb.size
    scale = ANALYSIS_SIDE / max(width, height)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return rgb.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def jpeg_step(table: np.ndarray | None) -> float:
    """Mean step of a JPEG's luminance quantisation table (11.5 at quality 90, 58 at 50, 167 at 15); 0 for a
    lossless file. A recompressed copy has coarser steps than its source."""
    return float(table.mean()) if table is not None else 0.0


def luminance_table(image: Image.Image) -> np.ndarray | None:
    """A JPEG's luminance quantisation table as 8x8 steps in natural order (as Pillow gives it); None otherwise."""
    tables = getattr(image, "quantization", None)
    return np.array(tables[min(tables)], np.float32).reshape(8, 8) if tables else None


def _traces(stored: Image.Image, image: Image.Image, rgb: Image.Image, table: np.ndarray | None) -> dict[str, float]:
    """Recompression traces on the pixels as stored (the grid is the file's, before any EXIF turn); a CMYK JPEG's
    first channel is no luminance, so it has none."""
    if table is None or stored.mode not in ("RGB", "L"):
        return dict.fromkeys(TRACES, 0.0)
    pixels = rgb if stored is image else _to_rgb(stored)
    return recompression_traces(np.asarray(pixels.crop(measured_box(*pixels.size))), table, pixels.width)


def view_boxes(size: tuple[int, int], content: Box) -> dict[str, Box]:
    """Where each view lies on a picture of `size`: the whole of it, its crops (CROPS, SIDES): what a small rotation
    or a crop leaves of it, what lies inside its margins (`content`, see `content_box`), and its cut to each of
    SHAPES. Every view of VIEWS is one of them, or one of them mirrored (MIRROR_OF), flipped only where a hash needs
    it."""
    crops = {name: crop_box(size, x, y) for name, (x, y) in (CROPS | SIDES).items()}
    shaped = {name: shaped_box(size, shape) for name, shape in SHAPES.items()}
    return {WHOLE: (0, 0, *size)} | crops | {CONTENT: content} | shaped


def scaled_box(box: Box, size: tuple[int, int], to: tuple[int, int]) -> Box:
    """`box` on a picture of `size` carried to a copy of it of size `to`, rounded inwards: no margin pixel is
    blended into the copy's edge. The box keeps at least half of each side (`find_margins`), so it never empties."""
    left, top, right, bottom = box
    x, y = to[0] / size[0], to[1] / size[1]
    return math.ceil(left * x), math.ceil(top * y), math.floor(right * x), math.floor(bottom * y)


def crop_box(size: tuple[int, int], x: float, y: float) -> Box:
    """CROP_SHARE of each side, placed at `x`, `y` of the room it leaves (see CROPS, SIDES); the room is even, so
    that the centre is cut equally from both sides."""
    width, height = size
    room_x, room_y = 2 * round(width * (1 - CROP_SHARE) / 2), 2 * round(height * (1 - CROP_SHARE) / 2)
    left, top = round(room_x * x), round(room_y * y)
    return left, top, left + width - room_x, top + height - room_y


def shaped_box(size: tuple[int, int], shape: Shape) -> Box:
    """The largest cut of the shape's aspect, placed where it says; the whole picture when it has that aspect."""
    width, height = size
    cut_width, cut_height = max(0, width - round(height * shape.aspect)), max(0, height - round(width / shape.aspect))
    left, top = math.floor(cut_width * shape.place), math.floor(cut_height * shape.place)
    return left, top, left + width - cut_width, top + height - cut_height


def small_copies(grey: Image.Image, boxes: dict[str, Box]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each view's PHASH_SIDE Lanczos copy, which its pHash is taken from, and its THUMBNAIL_SIDE box-filtered copy,
    which verifies a match; views on the same box share their copies. The copies are read into numpy as one sheet
    per size: one conversion per copy cost a third as much as the resizes."""
    position = {box: k for k, box in enumerate(dict.fromkeys(boxes.values()))}
    sizes = ((PHASH_SIDE, Image.Resampling.LANCZOS), (THUMBNAIL_SIDE, Image.Resampling.BOX))
    sheets = [Image.new("L", (side * len(position), side)) for side, _ in sizes]
    for sheet, (side, method) in zip(sheets, sizes, strict=True):
        for box, copy in resized_boxes(grey, tuple(position), side, method).items():
            sheet.paste(copy, (side * position[box], 0))
    lanczos, boxed = (np.asarray(sheet).reshape(side, len(position), side).swapaxes(0, 1)
                      for sheet, (side, _) in zip(sheets, sizes, strict=True))
    return ({name: lanczos[position[box]] for name, box in boxes.items()},
            {name: boxed[position[box]] for name, box in boxes.items()})


def resized_boxes(picture: Image.Image, boxes: tuple[Box, ...], side: int, method: Image.Resampling
                  ) -> dict[Box, Image.Image]:
    """Each box of `picture` cut and resized to `side` x `side`, with one first pass for the boxes that can share it.
    Pillow resizes in two passes, each line on its own, so boxes on the same columns share the horizontal pass and
    boxes on the same rows the vertical one. A box shares the pass that more boxes share (the crops are three to a
    column, the cuts across a landscape picture all of its rows), Pillow's own first pass when as many share either
    and always for the whole picture, whose hash is then imagehash's. In Pillow's order a copy is pixel for pixel
    `picture.crop(box).resize(...)`; in the other it differs by the rounding and clipping of the pass between, which
    changes 0.03 pHash bits in the mean over every view of 3,549 bench pictures, 0.14 over a pin's."""
    width, height = picture.size
    columns = Counter((left, right) for left, _, right, _ in boxes)
    rows = Counter((top, bottom) for _, top, _, bottom in boxes)
    groups: dict[tuple[bool, int, int], list[Box]] = {}
    for box in boxes:
        left, top, right, bottom = box
        across, down = columns[left, right], rows[top, bottom]
        pillows = _vertical_pass_first(right - left, bottom - top, side)
        vertical = pillows if down == across or box == (0, 0, width, height) else down > across
        groups.setdefault((vertical, top, bottom) if vertical else (vertical, left, right), []).append(box)
    copies = {}
    for (vertical, start, end), members in groups.items():
        if len(members) == 1:
            copies[members[0]] = picture.crop(members[0]).resize((side, side), method)
        elif vertical:
            strip = picture.crop((0, start, width, end)).resize((width, side), method)
            copies |= {box: strip.crop((box[0], 0, box[2], side)).resize((side, side), method) for box in members}
        else:
            strip = picture.crop((start, 0, end, height)).resize((side, height), method)
            copies |= {box: strip.crop((0, box[1], side, box[3])).resize((side, side), method) for box in members}
    return copies


def _vertical_pass_first(width: int, height: int, side: int) -> bool:
    """Whether Pillow resizes a `width` x `height` picture to `side` x `side` vertical pass first: from Pillow 13
    on, when the height shrinks by more than twice as much as the width."""
    return PILLOW_MAJOR >= 13 and height - side > max(0, 2 * (width - side))


def measure_structure(grey: Image.Image) -> float:
    """Standard deviation of the grey levels a pHash sees: near 0, its bits come from noise, not the picture."""
    return float(np.asarray(grey.resize((STRUCTURE_SIDE, STRUCTURE_SIDE), Image.Resampling.BOX), np.float32).std())


def measure_detail(rgb: Image.Image, box: Box) -> float:
    """Spectral energy of a window at the centre of `box` (the picture inside its margins) in its finest band (above
    0.6 of the Nyquist frequency, on each axis) over the band below (0.3 to 0.6), at the image's own size.

    A photo carries sensor grain and fine texture up to the Nyquist frequency (ratio about 1-2); every resampling,
    recompression or overlay smooths the finest band first, and an upscale by 1.5 or more leaves it empty. The band
    edges kept the original of the most upscaled pairs on the bench's selection set (0.5/0.25 and 0.67/0.33 tried).
    """
    box_left, box_top, box_right, box_bottom = box
    width, height = box_right - box_left, box_bottom - box_top
    side_x, side_y = min(width, DETAIL_WINDOW), min(height, DETAIL_WINDOW)
    left, top = box_left + (width - side_x) // 2, box_top + (height - side_y) // 2
    window = np.asarray(rgb.crop((left, top, left + side_x, top + side_y)).convert("L"), np.float32)
    window = (window - window.mean()) * np.outer(np.hanning(side_y), np.hanning(side_x))
    power = np.abs(np.fft.rfft2(window)) ** 2
    band = np.maximum(np.abs(np.fft.fftfreq(side_y))[:, None], np.fft.rfftfreq(side_x)[None, :]) * 2
    finest = float(power[band > DETAIL_BAND].sum())
    below = float(power[(band > DETAIL_BAND / 2) & (band <= DETAIL_BAND)].sum())
    return finest / below if below > 0 else 0.0


def view_hashes(grey: Image.Image, boxes: dict[str, Box], lanczos: dict[str, np.ndarray], kinds: tuple[str, ...],
                named: dict[str, NamedCut] | None = None) -> dict[str, dict[str, int]]:
    """{view: {kind: hash}} of the whole picture and every view of VIEWS, on `grey` where `view_boxes` says. The
    pHashes are taken all at once from the views' Lanczos copies (`small_copies`), a mirrored view's from its
    source's copy flipped, a cut's of SHAPES from its place among the slides (`named`) where given:
    imagehash.phash's values wherever a picture has structure (12,375 of 12,465 views of 831 bench files; the 90
    others were of its 6 blank files, whose coefficients are rounding noise and whose hashes never match: see
    `decide.MIN_STRUCTURE`)."""
    names = (WHOLE, *VIEWS)
    found: dict[str, dict[str, int]] = {name: {} for name in names}
    for kind in kinds:
        if kind == "phash":
            copied = tuple(name for name in names if named is None or name not in SHAPES)
            for name, value in zip(copied, phashes(lanczos, copied), strict=True):
                found[name][kind] = value
            for name in SHAPES if named is not None else ():
                found[name][kind] = named[name].hash if name in named else found[WHOLE][kind]
        else:
            for name in names:
                picture = grey.crop(boxes[MIRROR_OF.get(name, name)])
                found[name][kind] = _hash_int(HASHERS[kind](ImageOps.mirror(picture) if name in MIRROR_OF else picture))
    return found


def phashes(small: dict[str, np.ndarray], names: tuple[str, ...]) -> list[int]:
    """imagehash.phash of each view in `names` (one of `small`, or one of them mirrored) from its 32x32 Lanczos copy
    (`small_copies`): the low 8x8 corner of its DCT-II, each bit set where a coefficient exceeds their median."""
    stacked = np.stack([small[MIRROR_OF[name]][:, ::-1] if name in MIRROR_OF else small[name] for name in names])
    low = (PHASH_DCT @ stacked.astype(np.float64) @ PHASH_DCT.T).reshape(len(names), -1)
    bits = low > np.median(low, axis=1, keepdims=True)
    return [int.from_bytes(row.tobytes(), "big") for row in np.packbits(bits, axis=1)]


def _hash_int(value: imagehash.ImageHash) -> int:
    return int.from_bytes(np.packbits(value.hash.ravel()).tobytes(), "big")


@dataclass(frozen=True)
class Margin:
    """A band along one side of a picture that holds none of it: `depth` lines of about `colour`."""

    depth: int
    colour: tuple[float, float, float]

    @property
    def neutral(self) -> bool:
        """White, grey or black, as frames, bars, padding and caption bars are: a coloured flat edge is more likely
        the picture's own backdrop, which compression can make or unmake a margin of."""
        return self.depth > 0 and max(self.colour) - min(self.colour) <= NEUTRAL_SPREAD


NO_MARGIN = Margin(0, (0.0, 0.0, 0.0))  # a side whose edge line is not uniform: no band, so no colour to it


def find_margins(rgb: Image.Image) -> dict[str, Margin]:
    """The margin along each side (top, bottom, left, right). A margin starts with a uniform line along a side and
    ends after the deepest line of that colour within a quarter of the side, so that a frame, bars, a padded canvas
    or a caption bar with its text is a margin. A side is read past its edge line only when that line is uniform, so
    a photo costs four lines whatever its size."""
    width, height = rgb.size
    margins = {}
    for side in ("top", "bottom", "left", "right"):
        limit = (height if side in ("top", "bottom") else width) // 4
        line = rgb.crop(_edge_box(side, width, height, 1))
        # A channel spanning more than twice the tolerance strays beyond it from any colour: a photo's edge, told
        # at the cost of one call.
        if not limit or any(high - low > 2 * MARGIN_TOLERANCE for low, high in line.getextrema()):
            margins[side] = NO_MARGIN
            continue
        edge = np.asarray(line, np.float32).reshape(-1, 3)
        colour = edge.mean(axis=0)
        depth = 0
        if np.abs(edge - colour).max() <= MARGIN_TOLERANCE:
            strip = rgb.crop(_edge_box(side, width, height, limit))
            uniform = np.flatnonzero(_uniform_lines(strip, tuple(round(c) for c in colour), side))
            depth = int(uniform[-1]) + 1 if uniform.size else 0
        margins[side] = Margin(depth, (float(colour[0]), float(colour[1]), float(colour[2])))
    return margins


def content_box(margins: dict[str, Margin], width: int, height: int) -> Box:
    """(left, top, right, bottom) of the picture inside its margins."""
    return (margins["left"].depth, margins["top"].depth, width - margins["right"].depth,
            height - margins["bottom"].depth)


def measure_content(box: Box, width: int, height: int) -> float:
    """Share of the picture inside its margins (`content_box`): 1 for a photo, less for a copy given a frame, bars
    or a caption, whose added pixels hold nothing of the picture."""
    left, top, right, bottom = box
    return (right - left) * (bottom - top) / (width * height)


def _edge_box(side: str, width: int, height: int, depth: int) -> Box:
    """The `depth` lines of pixels next to one side."""
    return {"top": (0, 0, width, depth), "bottom": (0, height - depth, width, height),
            "left": (0, 0, depth, height), "right": (width - depth, 0, width, height)}[side]


def _uniform_lines(strip: Image.Image, colour: tuple[int, ...], side: str) -> np.ndarray:
    """For each line of a strip along `side`, from the edge inwards: whether every pixel of it lies within
    MARGIN_TOLERANCE levels of `colour` in every channel."""
    difference = ImageChops.difference(strip, Image.new("RGB", strip.size, colour))
    # A pixel is outside when some channel is; as grey, 255 in any one channel is at least 29.
    outside = np.asarray(difference.point(OUTSIDE_TOLERANCE * 3).convert("L"))
    uniform = ~outside.any(axis=1 if side in ("top", "bottom") else 0)
    return uniform[::-1] if side in ("bottom", "right") else uniform


def measure_quality(rgb: np.ndarray) -> dict[str, float]:
    """Brightness, contrast, sharpness, information and colourfulness of an RGB array (the analysis copy).

    blur: variance of the 4-neighbour Laplacian after stretching the 1st-99th percentile grey range to 0-255, so
    that under- or over-exposure alone does not read as blur. colour: mean(max - min) / mean(max) over the
    channels, a saturation that survives darkening (0 for grey pictures).
    """
    red, green, blue = (rgb[..., channel] for channel in range(3))
    grey = red * np.float32(0.299) + green * np.float32(0.587) + blue * np.float32(0.114)
    counts = np.bincount(grey.astype(np.uint8).ravel(), minlength=256)
    share = counts[counts > 0] / grey.size
    cumulative = np.cumsum(counts)
    low, high = np.searchsorted(cumulative, [0.01 * grey.size, 0.99 * grey.size])
    stretch = 255 / max(float(high - low), 16.0)
    brightest = np.maximum(np.maximum(red, green), blue)
    dimmest = np.minimum(np.minimum(red, green), blue)
    return {
        "brightness": float(grey.mean()),
        "contrast": float(grey.std()),
        "blur": _laplacian_variance(grey) * stretch**2,
        "entropy": float(-(share * np.log2(share)).sum()) + 0.0,
        "colour": float((brightest - dimmest).mean()) / max(float(brightest.mean()), 1.0),
    }


def _laplacian_variance(grey: np.ndarray) -> float:
    if min(grey.shape) < 3:
        return 0.0
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(laplacian.var())


def quality_flags(metrics: dict[str, float], width: int, height: int, limits: QualityThresholds) -> tuple[str, ...]:
    """The quality flags `metrics` earn, in a fixed order."""
    aspect = max(width, height) / min(width, height)
    checks = (
        ("dark", metrics["brightness"] < limits.dark),
        ("bright", metrics["brightness"] > limits.bright),
        ("blurry", metrics["blur"] < limits.blur),
        ("low-information", metrics["entropy"] < limits.entropy),
        ("grayscale", metrics["colour"] < limits.grayscale),
        ("odd-size", min(width, height) < limits.odd_min_side or aspect > limits.odd_aspect),
    )
    return tuple(name for name, hit in checks if hit)


def describe_non_image(data: bytes) -> str:
    """A short guess at what a non-image file is, for the report."""
    head = data[:HEAD_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head:
        return "an HTML page, not an image"
    if b"<svg" in head:
        return "an SVG drawing (vector graphics are not decoded)"
    if head.startswith(b"<?xml"):
        return "an XML document, not an image"
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:HEAD_BYTES], final=False)
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        return f"unknown binary data starting {data[:8].hex(' ')}"
    return "a text file, not an image"
