"""Judge downloaded bytes by decoding them: servers lie about Content-Type and URLs lie about extensions."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 50_000_000

# Leading bytes of the formats we keep, and the extension each is saved under.
MAGIC: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG", "png"),
    (b"GIF87a", 0, "GIF", "gif"),
    (b"GIF89a", 0, "GIF", "gif"),
    (b"WEBP", 8, "WEBP", "webp"),
    (b"BM", 0, "BMP", "bmp"),
)
EXTENSIONS = {fmt: ext for _, _, fmt, ext in MAGIC}
# What Pillow raises for bytes it cannot decode (UnidentifiedImageError is an OSError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError)


class InvalidImage(Exception):
    """The bytes are not an image we keep; `reason` is a short slug for the manifest."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def sniff_format(data: bytes) -> str | None:
    """The format the magic bytes announce, or None."""
    for magic, offset, fmt, _ in MAGIC:
        if data[offset : offset + len(magic)] == magic and (fmt != "WEBP" or data[:4] == b"RIFF"):
            return fmt
    return None


def decode_failure(error: BaseException) -> tuple[str, str]:
    """(reason, detail) for an exception Pillow raised while decoding: `truncated` or `undecodable`."""
    text = "Pillow cannot read its header" if isinstance(error, UnidentifiedImageError) else str(error)
    text = text or type(error).__name__
    truncated = isinstance(error, EOFError) or "truncated" in text.lower()
    return ("truncated" if truncated else "undecodable"), text


def validate_image(data: bytes, *, min_side: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Fully decode `data` and return what it is, or raise InvalidImage saying why it is unusable."""
    if not data:
        raise InvalidImage("empty")
    announced = sniff_format(data)
    if announced is None:
        raise InvalidImage("not-image", repr(data[:16]))
    try:
        image = Image.open(io.BytesIO(data), formats=[announced])
        width, height = image.size
        if width * height > max_pixels:
            raise InvalidImage("too-many-pixels", f"{width}x{height}")
        image.load()
    except Image.DecompressionBombError as error:
        raise InvalidImage("too-many-pixels", str(error)) from error
    except DECODE_ERRORS as error:
        raise InvalidImage(*decode_failure(error)) from error
    if min(width, height) < min_side:
        raise InvalidImage("too-small", f"{width}x{height}")
    return ImageInfo(announced, width, height)
