"""Image files on disk: which files count as a folder's images, and how one is read.

Training, evaluation, prediction, the galleries and the baselines all list and decode images through here, so
they agree on what a dataset holds and on what each picture looks like.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import ClassifyError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
QUARANTINE = "_quarantine"  # where `curate` moves rejected images: never part of a folder's images


class ImageReadError(ClassifyError):
    """A file that cannot be decoded as an image."""


def is_visible(name: str) -> bool:
    """False for hidden files and folders and for `_quarantine`: what a dataset never includes."""
    return not name.startswith(".") and name != QUARANTINE


def class_folders(folder: Path) -> list[str]:
    """Sorted names of the visible subfolders: the classes."""
    return sorted(child.name for child in Path(folder).iterdir() if child.is_dir() and is_visible(child.name))


def image_files(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively and sorted, with hidden files and folders left out."""
    folder = Path(folder)
    return sorted(path for path in folder.rglob("*")
                  if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
                  and all(is_visible(part) for part in path.relative_to(folder).parts))


def load_image(path: Path, mode: str = "RGB", min_side: int = 0) -> Image.Image:
    """The fully decoded image in `mode`, upright as viewers show it (EXIF orientation applied), or
    ImageReadError with a one-line reason.

    With `min_side`, a JPEG is decoded at 1/2, 1/4 or 1/8 scale when both sides still keep `min_side` pixels:
    several times faster for camera photos that a transform shrinks anyway.
    """
    try:
        with warnings.catch_warnings(), Image.open(path) as image:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # large but allowed: no warning spam
            if min_side:
                image.draft(None, (min_side, min_side))
            image.load()
            return _upright(image).convert(mode)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        reason = "not an image Pillow can read" if isinstance(error, UnidentifiedImageError) else str(error)
        raise ImageReadError(reason or type(error).__name__) from error


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; untouched (not copied, as exif_transpose would) when it
    is already upright, which saves a full copy of nearly every photo."""
    try:
        if image.getexif().get(ExifTags.Base.Orientation, 1) in (1, None):
            return image
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001  (damaged EXIF raises many types; it must not cost a readable picture)
        return image
