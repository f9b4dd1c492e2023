"""One RGB conversion: what curate hashes, what --normalize writes and what the report shows agree."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from collector.curate.html import thumbnail_uri
from collector.curate.normalize import normalize_image
from collector.curate.rgb import to_rgb

from .conftest import make_photo, make_tricky_good_files


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(to_rgb(image), dtype=np.int16)


def _colour(image: Image.Image) -> np.ndarray:
    """Mean red, green and blue: what a wrong mode conversion (black for white, clipped tones) changes grossly
    and a lossy re-encode hardly moves."""
    return np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(0)


def test_a_dark_sixteen_bit_image_stays_dark_and_a_bright_one_keeps_its_tones() -> None:
    dark = Image.fromarray(np.full((4, 4), 200, dtype=np.uint16))  # 200 of 65535: nearly black
    ramp = Image.fromarray((np.arange(16, dtype=np.uint16) * 4369).reshape(4, 4))  # 0 ... 65535
    assert dark.mode == "I;16" and _pixels(dark).max() == 0
    assert _pixels(ramp)[..., 0].ravel().tolist() == [v * 4369 >> 8 for v in range(16)]


def test_thirty_two_bit_integers_within_eight_bits_are_taken_as_they_are() -> None:
    assert _pixels(Image.fromarray(np.full((2, 2), 200, dtype=np.int32), "I")).max() == 200


def test_float_samples_are_stretched_and_non_finite_ones_refused() -> None:
    image = Image.fromarray(np.array([[0.25, 0.5], [0.75, 1.0]], dtype=np.float32), "F")
    assert _pixels(image)[..., 0].ravel().tolist() == [0, 85, 170, 255]
    with pytest.raises(ValueError, match="not finite"):
        to_rgb(Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32), "F"))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_transparent_pixels_become_white(mode: str) -> None:
    image = Image.new("RGBA", (2, 2), (200, 30, 30, 0)).convert(mode)
    assert _pixels(image).min() == 255


def test_a_transparent_palette_entry_becomes_white() -> None:
    image = Image.new("P", (2, 2), 1)
    image.putpalette([0, 0, 0, 200, 30, 30])
    image.info["transparency"] = 1
    assert _pixels(image).min() == 255


def test_a_large_sixteen_bit_image_gets_a_thumbnail(tmp_path: Path) -> None:
    grey = np.asarray(make_photo(1000, 750, seed=3).convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey).save(tmp_path / "deep.png")
    assert thumbnail_uri(tmp_path / "deep.png")


def test_normalized_files_and_thumbnails_show_the_pixels_curate_measured(tmp_path: Path) -> None:
    names = list(make_tricky_good_files(tmp_path))
    dark = np.asarray(make_photo(90, 60, seed=4).convert("L")).astype(np.uint16)  # values 0-255 of 65535
    Image.fromarray(dark).save(tmp_path / "dark16.png")
    for name in [*names, "dark16.png"]:
        path = tmp_path / name
        with Image.open(path) as image:
            measured = to_rgb(ImageOps.exif_transpose(image))
        encoded = normalize_image(path, name)
        written = measured if encoded is None else Image.open(io.BytesIO(encoded.data))
        assert written.size == measured.size, name
        assert np.abs(_colour(written) - _colour(measured)).max() < 2, name
        uri = thumbnail_uri(path)
        assert uri, name
        thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert thumb.size == measured.size, name  # every tricky file is under the thumbnail side
        assert np.abs(_colour(thumb) - _colour(measured)).max() < 2, name
