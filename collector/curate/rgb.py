"""One way up and one conversion to 8-bit RGB for everything curate measures, writes and shows, so the hashes, a
normalised file and a report thumbnail all agree on what a picture looks like."""

from __future__ import annotations

import numpy as np
from PIL import ExifTags, Image, ImageOps

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
# What Pillow raises for EXIF data it cannot parse.
EXIF_ERRORS = (OSError, SyntaxError, ValueError, TypeError, KeyError)


def orientation(image: Image.Image) -> int:
    """The EXIF orientation, 1 (upright) to 8; 1 when the tag is absent, invalid or unreadable."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except EXIF_ERRORS:
        return 1
    return value if value in range(1, 9) else 1


def upright(image: Image.Image) -> Image.Image:
    """The image as a person sees it, EXIF orientation applied; the same object (not a copy) when already upright."""
    return image if orientation(image) == 1 else ImageOps.exif_transpose(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB as a viewer shows it: transparent areas over white, 16-bit samples scaled to 8 bits (not
    clipped), float samples stretched over 0-255. Raises ValueError (or Pillow's OSError) when impossible."""
    if image.mode == "RGB":
        return image
    if image.mode in (*SIXTEEN_BIT_MODES, "I", "F"):
        return Image.fromarray(to_8bit(np.asarray(image), sixteen_bit=image.mode in SIXTEEN_BIT_MODES)).convert("RGB")
    if image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def to_8bit(samples: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Single-channel integer or float samples as uint8. A 16-bit image keeps its scale (a dark 16-bit picture
    stays dark); 32-bit integers already within 0-255 are taken as 8-bit values, larger ones as 16-bit."""
    if samples.dtype.kind == "f":
        if not np.isfinite(samples).all():
            raise ValueError("some samples are not finite numbers")
        low, high = float(samples.min()), float(samples.max())
        scaled = (samples - low) / (high - low) * 255 if high > low else np.zeros_like(samples)
        return scaled.round().astype(np.uint8)
    if not sixteen_bit and samples.max() <= 255:
        return samples.clip(0, 255).astype(np.uint8)
    return (samples.astype(np.int64) >> 8).clip(0, 255).astype(np.uint8)
