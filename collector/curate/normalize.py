"""`--normalize`: re-encode accepted images to plain RGB files that every loader reads the same way.

Lossy sources (JPEG, WebP) become RGB JPEG at quality 95; lossless ones (PNG, GIF, BMP, TIFF) become RGB PNG, so
drawings, screenshots and transparency keep their exact pixels. EXIF orientation is applied, transparency is laid
over white, 16-bit samples are scaled to 8. A file that already is what it would become is left alone, so a
second run changes nothing.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from .rgb import orientation, to_rgb, upright

LOSSY = frozenset({"JPEG", "WEBP", "MPO"})
EXTENSIONS = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",)}
JPEG_QUALITY = 95


@dataclass(frozen=True)
class Encoded:
    format: str  # JPEG or PNG
    data: bytes
    width: int
    height: int


def target_format(source_format: str) -> str:
    return "JPEG" if source_format in LOSSY else "PNG"


def output_path(source: str, fmt: str) -> str:
    """The source path with the extension of its new format (kept when it already fits)."""
    path = PurePosixPath(source)
    if path.suffix.lower() in EXTENSIONS[fmt]:
        return source
    return path.with_suffix(EXTENSIONS[fmt][0]).as_posix()


def normalize_image(path: Path, relative: str) -> Encoded | None:
    """The re-encoded file for `path`, or None when it is already a plain RGB JPEG or PNG under the right name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            fmt = target_format(image.format or "")
            plain = (image.format == fmt and image.mode == "RGB" and orientation(image) == 1
                     and not getattr(image, "is_animated", False) and output_path(relative, fmt) == relative)
            if plain:
                return None
            image.seek(0)
            rgb = to_rgb(upright(image))
    buffer = io.BytesIO()
    if fmt == "JPEG":
        rgb.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        rgb.save(buffer, "PNG")
    return Encoded(fmt, buffer.getvalue(), rgb.width, rgb.height)
