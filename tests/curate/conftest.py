"""Files for the curate tests, generated on disk: every kind of bad file and every kind of tricky good one.

Plain functions so any curate test (or bench) can drop them into a class folder:

    make_photo(width, height, seed) -> PIL RGB image no quality check flags (64 px a side or more), distinct per seed
    make_bad_files(folder) -> {file name: rejection reason that inspect_image must give}
    make_tricky_good_files(folder) -> {file name: quality flags inspect_image must give}

and as fixtures, `bad_files` / `tricky_good_files`: {absolute path: reason / flags} in a fresh tmp folder.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

# Stored 120x80 with EXIF orientation 6 (rotate 90° clockwise to view): seen as 80x120.
ROTATED_STORED_SIZE = (120, 80)
ORIENTATION_TAG = 0x0112


def make_photo(width: int, height: int, seed: int) -> Image.Image:
    """A colourful, sharp, busy picture: random shapes over a gradient with a little noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, size=3)
    slope = rng.uniform(-60, 60, size=(3, 2))
    pixels = np.stack([base[c] + slope[c, 0] * xs / width + slope[c, 1] * ys / height for c in range(3)], axis=-1)
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, x1 = sorted(rng.integers(0, width, size=2))
        y0, y1 = sorted(rng.integers(0, height, size=2))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((int(x0), int(y0), int(x1) + 4, int(y1) + 4), fill=colour)
    noisy = np.asarray(image).astype(np.int16) + rng.integers(-12, 13, size=(height, width, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, depth: int = 8, colour_type: int = 2) -> bytes:
    """PNG signature and IHDR: enough for Pillow to learn the size without any pixel data."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)


def encode_png48(image: Image.Image) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow can read these but not write them)."""
    samples = (np.asarray(image.convert("RGB")).astype(np.uint16) * 257).astype(">u2")
    rows = b"".join(b"\x00" + row.tobytes() for row in samples)
    return png_header(image.width, image.height, depth=16) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(
        b"IEND", b"")


def make_bad_files(folder: Path) -> dict[str, str]:
    """Write one file of every kind `curate` must reject; return {name: expected reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = encode(make_photo(160, 120, seed=1), "JPEG", quality=90)
    png = encode(make_photo(160, 120, seed=2), "PNG")
    noise = np.random.default_rng(3).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    huffman = jpeg.find(b"\xff\xc4")
    broken = jpeg[: huffman + 5] + b"\xff" * 16 + jpeg[huffman + 21 :]
    files = {
        "empty.jpg": (b"", "empty"),
        "page.jpg": (b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>no</body></html>\n",
                     "not-image"),
        "drawing.svg": ((b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                         b'<circle cx="32" cy="32" r="30" fill="red"/></svg>\n'), "not-image"),
        "notes.jpg": (b"These are not the pixels you are looking for.\n" * 20, "not-image"),
        "noise.jpg": (b"\x00" + noise, "not-image"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "truncated.png": (png[: len(png) // 2], "truncated"),
        "corrupt.jpg": (broken, "undecodable"),  # a JPEG whose Huffman table is garbage
        # 8000x8000 = 64 million pixels in a few kilobytes: decoded to RGB it would take 192 MB.
        "bomb.png": (encode(Image.new("1", (8000, 8000)), "PNG"), "too-many-pixels"),
        "tiny.png": (encode(make_photo(20, 20, seed=4), "PNG"), "too-small"),
        "banner.jpg": (encode(make_photo(640, 64, seed=5), "JPEG"), "extreme-aspect"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: reason for name, (_, reason) in files.items()}


def make_tricky_good_files(folder: Path) -> dict[str, tuple[str, ...]]:
    """Write one file of every unusual-but-valid kind `curate` must accept; return {name: expected flags}."""
    folder.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    palette = make_photo(96, 96, seed=12).quantize(64)
    palette.info["transparency"] = int(np.asarray(palette)[0, 0])
    grey = np.asarray(make_photo(96, 72, seed=13).convert("L"))
    frames = [make_photo(80, 64, seed=20 + i) for i in range(3)]
    files = {
        "rotated.jpg": (encode(make_photo(*ROTATED_STORED_SIZE, seed=10), "JPEG", exif=exif), ()),
        "cmyk.jpg": (encode(make_photo(100, 80, seed=11).convert("CMYK"), "JPEG"), ()),
        "palette.png": (encode(palette, "PNG", transparency=palette.info["transparency"]), ()),
        "deep.png": (encode(Image.fromarray(grey.astype(np.uint16) * 257), "PNG"), ("grayscale",)),
        "deep_rgb.png": (encode_png48(make_photo(90, 70, seed=16)), ()),
        "gray.jpg": (encode(Image.fromarray(grey, "L"), "JPEG", quality=92), ("grayscale",)),
        "photo.webp": (encode(make_photo(90, 90, seed=14), "WEBP", quality=90), ()),
        "png_named.jpg": (encode(make_photo(100, 100, seed=15), "PNG"), ()),
        "animated.gif": (encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
                         ("animated",)),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: flags for name, (_, flags) in files.items()}


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[Path, str]:
    """{path: expected rejection reason} for every bad-file kind, in a fresh folder."""
    folder = tmp_path / "bad"
    return {folder / name: reason for name, reason in make_bad_files(folder).items()}


@pytest.fixture
def tricky_good_files(tmp_path: Path) -> dict[Path, tuple[str, ...]]:
    """{path: expected quality flags} for every unusual-but-valid kind, in a fresh folder."""
    folder = tmp_path / "good"
    return {folder / name: flags for name, flags in make_tricky_good_files(folder).items()}
