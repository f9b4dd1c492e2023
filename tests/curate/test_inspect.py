"""inspect_image on real files: every bad kind rejected for the right reason, every odd-but-good kind accepted."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
import warnings
import zlib
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from collector.curate.inspect import (
    CROPS,
    SIDES,
    VIEWS,
    WHOLE,
    InspectOptions,
    QualityThresholds,
    describe_non_image,
    hash_to_hex,
    inspect_image,
    pixel_digest,
    resized_boxes,
    view_boxes,
)
from tests.curate.conftest import ROTATED_STORED_SIZE, encode, make_photo, png_chunk, png_header

ALL_HASHES = InspectOptions(hash_kinds=("phash", "dhash", "whash", "ahash"))


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def test_every_bad_file_kind_is_rejected_with_its_reason(bad_files: dict[Path, str]) -> None:
    got = {path.name: inspect_image(path, ALL_HASHES).reason for path in bad_files}
    assert got == {path.name: reason for path, reason in bad_files.items()}


def test_rejected_files_carry_no_fingerprints_and_a_readable_detail(bad_files: dict[Path, str]) -> None:
    for path in bad_files:
        result = inspect_image(path, ALL_HASHES)
        assert not result.ok
        assert result.pixel_digest is None and result.hashes == {} and result.flags == ()
        assert result.detail and "\n" not in result.detail and "BytesIO" not in result.detail
        assert result.size == path.stat().st_size


def test_non_images_are_described_for_the_report(bad_files: dict[Path, str]) -> None:
    details = {path.name: inspect_image(path, ALL_HASHES).detail for path in bad_files}
    assert "HTML" in details["page.jpg"]
    assert "SVG" in details["drawing.svg"]
    assert "text" in details["notes.jpg"]
    assert "binary" in details["noise.jpg"]
    assert describe_non_image(b"<?xml version='1.0'?><data/>") == "an XML document, not an image"


def test_decompression_bomb_is_rejected_without_decoding_it(bad_files: dict[Path, str]) -> None:
    bomb = next(path for path in bad_files if path.name == "bomb.png")
    tracemalloc.start()
    try:
        result = inspect_image(bomb, InspectOptions())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.reason == "too-many-pixels" and (result.width, result.height) == (8000, 8000)
    assert peak < 5 * 2**20


def test_randomly_damaged_files_are_results_never_exceptions_or_warnings(
    tricky_good_files: dict[Path, tuple[str, ...]], tmp_path: Path
) -> None:
    rng = random.Random(0)
    photo = make_photo(96, 80, seed=42)
    seeds = [path.read_bytes() for path in tricky_good_files] + [encode(photo, fmt) for fmt in ("BMP", "TIFF")]
    reasons = set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for number in range(300):
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(data))
                if rng.random() < 0.7:
                    data[at] = rng.randrange(256)
                else:
                    del data[at : at + rng.randint(1, 64)]
            path = tmp_path / f"damaged{number}"
            path.write_bytes(bytes(data))
            reasons.add(inspect_image(path, ALL_HASHES).reason)
    assert {None, "undecodable", "truncated"} <= reasons


def test_a_huge_non_image_is_judged_by_its_head_alone(tmp_path: Path) -> None:
    path = tmp_path / "video.jpg"
    with path.open("wb") as handle:
        handle.write(b"\x00\x00\x00\x18ftypmp42")
        handle.truncate(2 * 2**30)  # sparse: two gigabytes on paper, nothing on disk
    tracemalloc.start()
    try:
        result = inspect_image(path, InspectOptions())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.reason == "not-image" and result.size == 2 * 2**30
    assert peak < 2**20


def test_a_header_past_pillows_own_bomb_limit_is_too_many_pixels(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(png_header(20000, 20000) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))
    result = inspect_image(path, InspectOptions())
    assert result.reason == "too-many-pixels"


def test_every_tricky_good_kind_is_accepted_with_its_flags(tricky_good_files: dict[Path, tuple[str, ...]]) -> None:
    for path, flags in tricky_good_files.items():
        result = inspect_image(path, ALL_HASHES)
        assert result.ok, (path.name, result.reason, result.detail)
        assert result.flags == flags, path.name
        assert set(result.hashes) == {"phash", "dhash", "whash", "ahash"}
        assert len(result.pixel_digest) == 64


def test_exif_orientation_is_applied_before_measuring_and_hashing(
    tricky_good_files: dict[Path, tuple[str, ...]], tmp_path: Path
) -> None:
    rotated = next(path for path in tricky_good_files if path.name == "rotated.jpg")
    result = inspect_image(rotated, ALL_HASHES)
    assert (result.width, result.height) == ROTATED_STORED_SIZE[::-1]
    upright = tmp_path / "upright.png"
    with Image.open(rotated) as stored:
        stored.transpose(Image.Transpose.ROTATE_270).save(upright)
    same = inspect_image(upright, ALL_HASHES)
    assert same.pixel_digest == result.pixel_digest
    assert same.hashes == result.hashes


def test_real_format_is_reported_whatever_the_extension(tricky_good_files: dict[Path, tuple[str, ...]]) -> None:
    formats = {path.name: inspect_image(path, InspectOptions()).format for path in tricky_good_files}
    assert formats["png_named.jpg"] == "PNG"
    assert formats["photo.webp"] == "WEBP"
    assert formats["animated.gif"] == "GIF"


def test_sixteen_bit_samples_are_scaled_not_clipped(tricky_good_files: dict[Path, tuple[str, ...]]) -> None:
    by_name = {path.name: inspect_image(path, InspectOptions()) for path in tricky_good_files}
    deep, eight_bit = by_name["deep.png"], by_name["gray.jpg"]
    assert deep.metrics["brightness"] == pytest.approx(eight_bit.metrics["brightness"], abs=2)


def test_sixteen_bit_colour_keeps_its_colours(tricky_good_files: dict[Path, tuple[str, ...]], tmp_path: Path) -> None:
    deep = next(path for path in tricky_good_files if path.name == "deep_rgb.png")
    make_photo(90, 70, seed=16).save(tmp_path / "eight_bit.png")
    assert inspect_image(deep, InspectOptions()).pixel_digest == inspect_image(
        tmp_path / "eight_bit.png", InspectOptions()).pixel_digest


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_animations_are_judged_by_their_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [make_photo(64, 48, seed=40 + i) for i in range(3)]
    path = tmp_path / f"moving.{fmt.lower()}"
    path.write_bytes(encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50))
    still = tmp_path / f"still.{fmt.lower()}"
    still.write_bytes(encode(frames[0], fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    moving, first = inspect_image(path, InspectOptions()), inspect_image(still, InspectOptions())
    assert moving.ok and "animated" in moving.flags and "animated" not in first.flags
    assert (moving.width, moving.height) == (64, 48)
    assert distance(moving.hashes["phash"], first.hashes["phash"]) <= 4


def test_a_multi_picture_jpeg_is_its_first_picture_and_not_an_animation(tmp_path: Path) -> None:
    pictures = [make_photo(160, 120, seed=43), make_photo(160, 120, seed=44)]
    path = tmp_path / "camera.jpg"
    path.write_bytes(encode(pictures[0], "MPO", save_all=True, append_images=pictures[1:]))
    first = tmp_path / "first.jpg"
    first.write_bytes(encode(pictures[0], "JPEG"))
    result = inspect_image(path, InspectOptions())
    assert result.ok and result.format == "MPO" and "animated" not in result.flags
    assert result.pixel_digest == inspect_image(first, InspectOptions()).pixel_digest


@pytest.mark.parametrize("mode", ["LA", "1", "P", "I", "YCbCr"])
def test_unusual_pixel_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    image = make_photo(64, 64, seed=41).convert("L" if mode == "I" else "RGB")
    path = tmp_path / f"{mode}.{'jpg' if mode == 'YCbCr' else 'tif' if mode == 'I' else 'png'}"
    image.convert(mode).save(path)
    result = inspect_image(path, InspectOptions())
    assert result.ok and result.pixel_digest, (mode, result.reason, result.detail)
    assert 5 < result.metrics["brightness"] < 250


def test_transparent_pixels_count_as_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(path)
    result = inspect_image(path, InspectOptions())
    assert result.ok and result.metrics["brightness"] == pytest.approx(255)
    assert "bright" in result.flags and "low-information" in result.flags


def test_same_pixels_in_different_formats_share_a_digest(tmp_path: Path) -> None:
    photo = make_photo(150, 100, seed=30)
    photo.save(tmp_path / "a.png")
    photo.save(tmp_path / "a.bmp")
    photo.save(tmp_path / "a.webp", lossless=True)
    photo.save(tmp_path / "b.jpg", quality=85)
    with Image.open(tmp_path / "b.jpg") as decoded:
        decoded.save(tmp_path / "b.png")
    digests = {name: inspect_image(tmp_path / name, InspectOptions()).pixel_digest
               for name in ("a.png", "a.bmp", "a.webp", "b.jpg", "b.png")}
    assert digests["a.png"] == digests["a.bmp"] == digests["a.webp"]
    assert digests["b.jpg"] == digests["b.png"]
    assert digests["a.png"] != digests["b.jpg"]


def test_big_images_are_digested_in_strips_to_the_same_value(tmp_path: Path) -> None:
    photo = make_photo(200, 150, seed=45).resize((1600, 1200))
    photo.save(tmp_path / "big.png", compress_level=1)
    photo.save(tmp_path / "big.bmp")
    whole = hashlib.sha256(b"1600x1200:" + photo.tobytes()).hexdigest()
    assert pixel_digest(photo) == whole
    assert inspect_image(tmp_path / "big.png", InspectOptions()).pixel_digest == whole
    assert inspect_image(tmp_path / "big.bmp", InspectOptions()).pixel_digest == whole


def test_one_changed_pixel_changes_the_digest(tmp_path: Path) -> None:
    photo = make_photo(80, 80, seed=31)
    photo.save(tmp_path / "a.png")
    photo.putpixel((40, 40), (0, 0, 0) if photo.getpixel((40, 40)) != (0, 0, 0) else (1, 1, 1))
    photo.save(tmp_path / "b.png")
    assert inspect_image(tmp_path / "a.png", InspectOptions()).pixel_digest != inspect_image(
        tmp_path / "b.png", InspectOptions()).pixel_digest


def test_hashes_are_imagehash_values_as_64_bit_ints(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    make_photo(128, 96, seed=32).save(path)
    result = inspect_image(path, ALL_HASHES)
    with Image.open(path) as image:
        assert str(imagehash.phash(image)) == hash_to_hex(result.hashes["phash"])
        assert str(imagehash.dhash(image)) == hash_to_hex(result.hashes["dhash"])
    assert imagehash.hex_to_hash(hash_to_hex(result.hashes["ahash"])) == imagehash.average_hash(Image.open(path))
    assert all(0 <= value < 2**64 for value in result.hashes.values())


def test_each_view_hash_is_imagehash_phash_of_that_crop_or_mirror(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    make_photo(128, 96, seed=34).save(path)  # within the analysis size: hashed as it is
    result = inspect_image(path, InspectOptions())
    grey = Image.open(path).convert("L")
    # 90% of each side leaves 12 x 10 px (even, so the centre is cut 6 and 5 px from each side); a 4:5 cut is 77 px
    # wide, 51 px cut away, 25 of them on the left; a 9:16 cut 54 px; a 1.85:1 cut 69 px high, 13 px cut at the top
    crops = {"centre": (6, 5, 122, 91), "top-left": (0, 0, 116, 86), "top-right": (12, 0, 128, 86),
             "bottom-left": (0, 10, 116, 96), "bottom-right": (12, 10, 128, 96), "top": (6, 0, 122, 86),
             "bottom": (6, 10, 122, 96), "left": (0, 5, 116, 91), "right": (12, 5, 128, 91)}
    # a 4:5 cut is 77 px wide, 51 px cut away, 25 of them on the left; a 2:3 one 64 px, a 9:16 one 54 px, a 5:4 one
    # 120 px; a 3:2 cut is 85 px high, 5 px cut at the top; a 16:9 one 72 px, a 1.91:1 one 67 px, 14 px at the top or 9
    # for the upper one (a third of the room)
    cuts = {"square": (16, 0, 112, 96), "square-start": (0, 0, 96, 96), "square-end": (32, 0, 128, 96),
            "portrait": (25, 0, 102, 96), "portrait-start": (0, 0, 77, 96), "portrait-end": (51, 0, 128, 96),
            "pin": (32, 0, 96, 96), "story": (37, 0, 91, 96), "print": (4, 0, 124, 96), "photo": (0, 5, 128, 90),
            "video": (0, 12, 128, 84), "wide": (0, 14, 128, 81), "wide-upper": (0, 9, 128, 76)}
    expected = {name: grey.crop(box) for name, box in (crops | cuts).items()}
    expected |= {"mirror": ImageOps.mirror(grey), "mirror-centre": ImageOps.mirror(expected["centre"]),
                 "content": grey}  # no margins: all of it is picture
    assert set(result.views) == set(VIEWS) == set(expected)
    for name, picture in expected.items():
        # a cut shares the vertical pass of the others across the picture, not Pillow's horizontal one: the same
        # hash but for the rounding between the passes
        within = 2 if name in cuts else 0
        assert distance(result.views[name]["phash"], int(str(imagehash.phash(picture)), 16)) <= within, name


@pytest.mark.parametrize("size", [(128, 96), (96, 128), (40, 128), (128, 40), (33, 32), (128, 128)])
@pytest.mark.parametrize("method", [Image.Resampling.LANCZOS, Image.Resampling.BOX])
def test_boxes_resized_together_are_each_box_cut_and_resized_but_for_the_rounding_between_passes(
        size: tuple[int, int], method) -> None:
    grey = make_photo(*size, seed=sum(size)).convert("L")
    boxes = view_boxes(grey.size, (3, 2, size[0] - 4, size[1] - 1))
    for side in (32, 16):
        copies = resized_boxes(grey, tuple(dict.fromkeys(boxes.values())), side, method)
        for name, box in boxes.items():
            copy, alone = (np.asarray(picture, np.int16) for picture in (
                copies[box], grey.crop(box).resize((side, side), method)))
            if name == WHOLE or name in CROPS or name in SIDES:  # each of Pillow's own first pass: the same pixels
                assert np.array_equal(copy, alone), name
            else:
                assert np.abs(copy - alone).mean() < 0.5 and np.abs(copy - alone).max() <= 8, name


def test_a_square_cut_from_the_middle_hashes_as_the_square_view_of_its_original(tmp_path: Path) -> None:
    photo = make_photo(128, 80, seed=36)
    photo.save(tmp_path / "original.png")
    photo.crop((24, 0, 104, 80)).save(tmp_path / "square.png")
    original, square = (inspect_image(tmp_path / name, InspectOptions()) for name in ("original.png", "square.png"))
    assert min((original.views[view]["phash"] ^ square.hashes["phash"]).bit_count() for view in VIEWS
               if view != "square") > 8
    assert original.views["square"]["phash"] == square.hashes["phash"]


def test_a_copy_cut_from_one_corner_hashes_as_that_corner_view_of_its_original(tmp_path: Path) -> None:
    photo = make_photo(128, 96, seed=35)
    photo.save(tmp_path / "original.png")
    photo.crop((12, 10, 128, 96)).save(tmp_path / "cut.png")
    original, cut = (inspect_image(tmp_path / name, InspectOptions()) for name in ("original.png", "cut.png"))
    assert (original.hashes["phash"] ^ cut.hashes["phash"]).bit_count() > 8
    assert original.views["bottom-right"]["phash"] == cut.hashes["phash"]


def test_a_copy_cut_from_the_middle_of_one_side_hashes_as_that_side_view_of_its_original(tmp_path: Path) -> None:
    photo = make_photo(128, 96, seed=37)
    photo.save(tmp_path / "original.png")
    photo.crop((0, 5, 116, 91)).save(tmp_path / "cut.png")  # 10% of the width off the right, the height centred
    original, cut = (inspect_image(tmp_path / name, InspectOptions()) for name in ("original.png", "cut.png"))
    assert (original.views["centre"]["phash"] ^ cut.hashes["phash"]).bit_count() > 0
    assert original.views["left"]["phash"] == cut.hashes["phash"]


@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0)])
def test_a_frame_added_to_a_photo_is_measured_as_margin_not_content(tmp_path: Path, colour: tuple[int, ...]) -> None:
    photo = make_photo(300, 200, seed=36)
    photo.save(tmp_path / "photo.jpg", quality=90)
    ImageOps.expand(photo, 20, colour).save(tmp_path / "framed.jpg", quality=90)
    original, framed = (inspect_image(tmp_path / name, InspectOptions()) for name in ("photo.jpg", "framed.jpg"))
    assert original.metrics["content"] == 1.0 and original.metrics["frame"] == 0.0
    assert framed.metrics["content"] == pytest.approx(300 * 200 / (340 * 240), abs=0.04)
    assert framed.metrics["frame"] == 1.0  # white or black: neutral, as frames are


def test_a_coloured_flat_edge_is_a_margin_but_no_frame(tmp_path: Path) -> None:
    photo = make_photo(300, 200, seed=38)
    ImageOps.expand(photo, 20, (200, 40, 40)).save(tmp_path / "red.jpg", quality=90)
    red = inspect_image(tmp_path / "red.jpg", InspectOptions())
    assert red.metrics["content"] == pytest.approx(300 * 200 / (340 * 240), abs=0.04)
    assert red.metrics["frame"] == 0.0


@pytest.mark.parametrize("below", [True, False])
def test_a_caption_bar_with_its_text_is_margin_and_the_picture_inside_hashes_as_the_original(
        tmp_path: Path, below: bool) -> None:
    photo = make_photo(300, 200, seed=37)
    canvas = Image.new("RGB", (300, 240), (255, 255, 255))
    canvas.paste(photo, (0, 0 if below else 40))
    ImageDraw.Draw(canvas).text((20, 205 if below else 5), "when the photo is", font=ImageFont.load_default(size=26),
                                fill=(0, 0, 0))
    photo.save(tmp_path / "photo.jpg", quality=90)
    canvas.save(tmp_path / "captioned.jpg", quality=90)
    original, captioned = (inspect_image(tmp_path / name, InspectOptions()) for name in ("photo.jpg", "captioned.jpg"))
    assert captioned.metrics["content"] == pytest.approx(200 / 240, abs=0.02)
    assert (original.hashes["phash"] ^ captioned.hashes["phash"]).bit_count() > 8
    assert (original.hashes["phash"] ^ captioned.views["content"]["phash"]).bit_count() <= 2


def test_near_copies_hash_close_and_other_pictures_far(tmp_path: Path) -> None:
    photo = make_photo(400, 300, seed=33)
    photo.save(tmp_path / "original.jpg", quality=95)
    photo.resize((200, 150)).save(tmp_path / "small.jpg", quality=70)
    ImageEnhance.Brightness(photo).enhance(1.15).save(tmp_path / "brighter.jpg")
    make_photo(400, 300, seed=34).save(tmp_path / "other.jpg")
    hashes = {p.stem: inspect_image(p, InspectOptions()).hashes["phash"] for p in tmp_path.glob("*.jpg")}
    assert distance(hashes["original"], hashes["small"]) <= 4
    assert distance(hashes["original"], hashes["brighter"]) <= 6
    assert distance(hashes["original"], hashes["other"]) > 16


@pytest.mark.parametrize(
    ("name", "make", "flag"),
    [
        ("dark", lambda p: ImageEnhance.Brightness(p).enhance(0.12), "dark"),
        ("bright", lambda p: Image.blend(p, Image.new("RGB", p.size, "white"), 0.9), "bright"),
        ("blurry", lambda p: p.filter(ImageFilter.GaussianBlur(10)), "blurry"),
        ("flat", lambda p: Image.new("RGB", p.size, (90, 120, 160)), "low-information"),
        ("grey", lambda p: p.convert("L").convert("RGB"), "grayscale"),
        ("small", lambda p: p.resize((48, 48)), "odd-size"),
        ("long", lambda p: p.resize((400, 100)), "odd-size"),
    ],
)
def test_poor_pictures_are_flagged(tmp_path: Path, name: str, make, flag: str) -> None:
    path = tmp_path / f"{name}.png"
    make(make_photo(320, 240, seed=35)).save(path)
    result = inspect_image(path, InspectOptions())
    assert result.ok and flag in result.flags, result.metrics


def test_quality_thresholds_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    make_photo(160, 120, seed=36).save(path)
    assert inspect_image(path, InspectOptions()).flags == ()
    strict = InspectOptions(quality=QualityThresholds(dark=250, blur=1e9))
    assert inspect_image(path, strict).flags == ("dark", "blurry")


def test_size_limits_follow_the_options(bad_files: dict[Path, str]) -> None:
    by_name = {path.name: path for path in bad_files}
    assert inspect_image(by_name["banner.jpg"], InspectOptions(max_aspect=12)).ok
    assert inspect_image(by_name["tiny.png"], InspectOptions(min_side=16)).ok
    assert inspect_image(by_name["banner.jpg"], InspectOptions(max_aspect=12, max_pixels=640 * 64)).ok
    assert inspect_image(by_name["banner.jpg"], InspectOptions(max_aspect=12, max_pixels=640 * 64 - 1)).reason == (
        "too-many-pixels")


def test_a_folder_or_missing_file_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    assert inspect_image(tmp_path, InspectOptions()).reason == "unreadable"
    assert inspect_image(tmp_path / "gone.jpg", InspectOptions()).reason == "unreadable"


def test_pixels_that_cannot_become_rgb_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "nan.tif"
    samples = np.linspace(0, 1, 40 * 40, dtype=np.float32).reshape(40, 40)
    samples[3, 4] = np.nan
    Image.fromarray(samples, "F").save(path)
    result = inspect_image(path, InspectOptions())
    assert result.reason == "not-rgb" and "not finite" in result.detail


def test_unknown_hash_kind_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="unknown hash kind nope"):
        InspectOptions(hash_kinds=("phash", "nope"))
