"""Judging downloaded bytes: what is a usable image, whatever its name says."""

from __future__ import annotations

import pytest
from PIL import Image

from collector.validate import InvalidImage, validate_image
from tests.collect.helpers import encode
from tests.fake_engine.server import draw_image, png_header_only


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_validate_accepts_each_kept_format_and_reports_its_size(fmt):
    data = encode(Image.new("RGB", (64, 48), "teal"), fmt)
    info = validate_image(data)
    assert (info.format, info.width, info.height) == (fmt, 64, 48)


def test_validate_trusts_bytes_not_names_a_png_is_a_png():
    assert validate_image(encode(Image.new("RGB", (40, 40)), "PNG")).extension == "png"


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"<!DOCTYPE html><html>blocked</html>", "not-image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not-image"),
    (draw_image("x", (100, 80))[:700], "truncated"),
    (b"\xff\xd8\xff" + bytes(200), "undecodable"),
    (png_header_only(40_000, 40_000), "too-many-pixels"),
])
def test_validate_rejects_what_is_not_a_usable_image(data, reason):
    with pytest.raises(InvalidImage) as caught:
        validate_image(data)
    assert caught.value.reason == reason


def test_validate_rejects_images_below_min_side():
    with pytest.raises(InvalidImage, match="too-small"):
        validate_image(draw_image("small", (100, 20)), min_side=32)
