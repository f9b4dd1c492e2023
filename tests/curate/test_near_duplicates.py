"""Near duplicates on real files through the whole pipeline: pictures with nothing to hash stay apart, mirrored,
slightly rotated, captioned copies and a feed's cuts are found, and the copy that stays is the original, not the
edit."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from collector.curate.inspect import SHAPES, SIDES, VIEWS, InspectOptions, inspect_image
from collector.curate.rgb import to_rgb
from collector.curate.run import curate
from tests.curate.conftest import make_photo
from tests.curate.datasets import jpeg, png


def write(root: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)


def photo(seed: int, size: tuple[int, int] = (240, 180)) -> Image.Image:
    """A photo-like picture with grain: detail down to single pixels, like a camera's."""
    grain = np.random.default_rng(seed).normal(0, 4, size=(size[1], size[0], 1))
    return Image.fromarray((np.asarray(make_photo(*size, seed=seed)) + grain).clip(0, 255).astype(np.uint8))


def matches(report: dict) -> dict[str, str]:
    """{path: how it matched its group's kept (or best) member} of every other group member in a JSON report."""
    return {m["path"]: m["match"] for group in report["groups"] for m in group["members"] if m["match"]}


def moved(root: Path) -> dict[str, str]:
    """{original path: quarantine reason} of every file curate moved."""
    quarantine = root / "_quarantine"
    return {path.relative_to(quarantine).as_posix().split("/", 1)[1]: path.relative_to(quarantine).parts[0]
            for path in quarantine.rglob("*") if path.is_file() and path.suffix != ".sqlite"}


def write_image(path: Path, image: Image.Image) -> Path:
    path.write_bytes(png(image))
    return path


def imagehash_distance(a: Path, b: Path) -> int:
    """imagehash.phash distance of two files' pixels as curate reads them (a 16-bit picture scaled to 8 bits)."""
    first, second = (imagehash.phash(to_rgb(Image.open(path))) for path in (a, b))
    return first - second


def test_blank_pictures_in_two_classes_stay_although_their_hashes_match(tmp_path: Path) -> None:
    root = tmp_path / "data"
    near_black = np.asarray(photo(1).convert("L"), np.uint16) * 238 // 255 + 16  # 16-bit values 16-254: near black
    write(root, {
        "train/bird/flat.jpg": jpeg(Image.new("RGB", (200, 150), (128, 128, 128))),
        "train/dog/deep.png": png(Image.fromarray(near_black)),
        "train/cat/white.jpg": jpeg(Image.new("RGB", (180, 180), (252, 252, 252))),
        "train/bird/photo.jpg": jpeg(photo(2)),
    })
    assert imagehash_distance(root / "train/bird/flat.jpg", root / "train/dog/deep.png") <= 8
    report = curate(root, workers=1, progress=False).to_json()
    assert report["groups"] == [] and report["label_conflicts"] == 0
    assert not (root / "_quarantine").exists() or moved(root) == {}


def test_identical_blank_pictures_across_classes_are_still_a_label_conflict(tmp_path: Path) -> None:
    root = tmp_path / "data"
    flat = png(Image.new("RGB", (200, 150), (128, 128, 128)))
    write(root, {"train/bird/flat.png": flat, "train/dog/flat.png": flat, "train/dog/photo.jpg": jpeg(photo(3))})
    curate(root, workers=1, progress=False)
    assert moved(root) == {"train/bird/flat.png": "label-conflict", "train/dog/flat.png": "label-conflict"}


def test_a_mirrored_copy_across_splits_is_found_and_leaves_val(tmp_path: Path) -> None:
    root = tmp_path / "data"
    original = photo(4)
    write(root, {"train/cat/p.jpg": jpeg(original), "val/cat/p_mirrored.jpg": jpeg(ImageOps.mirror(original)),
                 "train/cat/other.jpg": jpeg(photo(5)), "train/dog/q.jpg": jpeg(photo(6)),
                 "val/cat/q_mirrored.jpg": jpeg(ImageOps.mirror(photo(6)))})
    assert imagehash_distance(root / "train/cat/p.jpg", root / "val/cat/p_mirrored.jpg") > 16
    report = curate(root, workers=1, progress=False).to_json()
    assert moved(root) == {"val/cat/p_mirrored.jpg": "duplicate", "train/dog/q.jpg": "label-conflict",
                           "val/cat/q_mirrored.jpg": "label-conflict"}
    assert report["leakage_pairs_fixed"] == 2 and report["label_conflicts"] == 1
    assert matches(report) == {"val/cat/p_mirrored.jpg": "mirrored", "train/dog/q.jpg": "mirrored"}


def test_a_corner_cropped_copy_across_splits_is_found_through_a_corner_view_and_leaves_val(tmp_path: Path) -> None:
    root = tmp_path / "data"
    original = photo(15, (300, 225))
    write(root, {"train/cat/p.jpg": jpeg(original), "val/cat/p_corner.jpg": jpeg(original.crop((30, 22, 300, 225))),
                 "train/cat/other.jpg": jpeg(photo(16)), "val/cat/third.jpg": jpeg(photo(17))})
    assert imagehash_distance(root / "train/cat/p.jpg", root / "val/cat/p_corner.jpg") > 8
    before = curate(root, workers=1, progress=False, dry_run=True, views=("mirror", "centre")).to_json()
    assert before["groups"] == []
    report = curate(root, workers=1, progress=False).to_json()
    assert moved(root) == {"val/cat/p_corner.jpg": "duplicate"}
    assert report["leakage_pairs_fixed"] == 1
    assert matches(report) == {"val/cat/p_corner.jpg": "cropped"}


def assert_leak_found_only_with_the_default(tmp_path: Path, original: Image.Image, copy: Image.Image, seed: int,
                                            match: str, **without: object) -> None:
    """`copy` in val of `original` in train, beside two other photos: not grouped under the `without` options, found
    as a duplicate that leaves val under the defaults, matched as `match` says."""
    root = tmp_path / "data"
    write(root, {"train/cat/p.jpg": jpeg(original), "val/cat/p_copy.jpg": jpeg(copy),
                 "train/cat/other.jpg": jpeg(photo(seed)), "val/cat/third.jpg": jpeg(photo(seed + 1))})
    assert curate(root, workers=1, progress=False, dry_run=True, **without).to_json()["groups"] == []
    report = curate(root, workers=1, progress=False).to_json()
    assert moved(root) == {"val/cat/p_copy.jpg": "duplicate"}
    assert report["leakage_pairs_fixed"] == 1 and matches(report) == {"val/cat/p_copy.jpg": match}


def test_a_cropped_and_shrunk_copy_at_the_edge_of_the_threshold_is_found_as_it_looks_more_alike(
        tmp_path: Path) -> None:
    original = photo(40)
    cut = original.crop((10, 14, 221, 172))  # 12% off each side, unevenly: between the centre and a corner view
    # 8 bits through a crop view: beyond the view margin, so found only by the stricter correlation
    assert_leak_found_only_with_the_default(tmp_path, original, cut.resize((158, 118)), 41, "cropped",
                                            view_similarity=None)


@pytest.mark.parametrize("box", [(12, 0, 228, 162), (0, 9, 216, 171), (12, 18, 228, 180), (24, 9, 240, 171)])
def test_a_mirrored_copy_cut_from_the_middle_of_a_side_across_splits_is_found_through_the_side_views(
        tmp_path: Path, box: tuple[int, int, int, int]) -> None:
    original = photo(48)
    cut = ImageOps.mirror(original).crop(box)  # 10% off one side, the other axis cut evenly
    copy = cut.resize((cut.width * 4 // 5, cut.height * 4 // 5), Image.Resampling.BICUBIC)
    without = tuple(view for view in VIEWS if view not in SIDES)
    assert_leak_found_only_with_the_default(tmp_path, original, copy, 49, "mirrored, cropped", views=without)


def test_a_square_thumbnail_of_a_wide_photo_across_splits_is_found_through_the_square_view(tmp_path: Path) -> None:
    original = photo(44, (320, 180))
    thumbnail = original.crop((70, 0, 250, 180)).resize((150, 150), Image.Resampling.BICUBIC)
    assert_leak_found_only_with_the_default(tmp_path, original, thumbnail, 45, "cut to a square",
                                            views=without_shape("square"))


@pytest.mark.parametrize(("size", "box", "view", "match"), [
    ((320, 240), (0, 0, 240, 240), "square-start", "cut to a square"),  # a square at the left edge
    ((320, 240), (80, 0, 320, 240), "square-end", "cut to a square"),
    ((320, 240), (64, 0, 256, 240), "portrait", "cut to 4:5"),
    ((320, 240), (0, 0, 192, 240), "portrait-start", "cut to 4:5"),
    ((320, 240), (80, 0, 240, 240), "pin", "cut to 2:3"),
    ((320, 240), (93, 0, 228, 240), "story", "cut to 9:16"),
    ((240, 240), (0, 24, 240, 216), "print", "cut to 5:4"),  # of a square: a 5:4 cut of 4:3 is within a crop of it
    ((240, 240), (0, 40, 240, 200), "photo", "cut to 3:2"),
    ((240, 240), (0, 52, 240, 187), "video", "cut to 16:9"),
    ((320, 240), (0, 36, 320, 204), "wide", "cut to 1.91:1"),
    ((320, 240), (0, 24, 320, 192), "wide-upper", "cut to 1.91:1"),  # a preview that keeps the upper third
])
def test_a_feed_cut_of_a_photo_across_splits_is_found_through_the_view_of_its_shape(
        tmp_path: Path, size: tuple[int, int], box: tuple[int, int, int, int], view: str, match: str) -> None:
    original = photo(46, size)
    cut = original.crop(box)
    copy = cut.resize((cut.width * 4 // 5, cut.height * 4 // 5), Image.Resampling.BICUBIC)
    assert_leak_found_only_with_the_default(tmp_path, original, copy, 47, match, views=without_shape(view))


def without_shape(view: str) -> tuple[str, ...]:
    """Every view but those of the named cut's shape: neither its named views nor its cut at every place is hashed."""
    return tuple(other for other in VIEWS if other not in SHAPES or SHAPES[other].name != SHAPES[view].name)


@pytest.mark.parametrize(("size", "box", "view", "match"), [
    ((320, 240), (43, 0, 178, 240), "story", "cut to 9:16"),  # at 23% of the room
    ((320, 240), (25, 0, 265, 240), "square", "cut to a square"),  # at 31%: between the start and the centre
    ((240, 320), (0, 130, 240, 265), "video", "cut to 16:9"),  # of a portrait, at 70% of the room
    ((320, 240), (0, 62, 320, 230), "wide", "cut to 1.91:1"),  # at 86%: near the bottom
])
def test_a_cut_anywhere_along_a_photo_across_splits_is_found_at_its_place_where_no_named_view_holds_it(
        tmp_path: Path, size: tuple[int, int], box: tuple[int, int, int, int], view: str, match: str) -> None:
    original = photo(50, size)
    cut = original.crop(box)
    copy = cut.resize((cut.width * 4 // 5, cut.height * 4 // 5), Image.Resampling.BICUBIC)
    named = [name for name in VIEWS if name in SHAPES and SHAPES[name].name == SHAPES[view].name]
    views = inspect_image(write_image(tmp_path / "original.png", original), InspectOptions()).views
    whole = inspect_image(write_image(tmp_path / "copy.png", copy), InspectOptions()).hashes["phash"]
    assert min((views[name]["phash"] ^ whole).bit_count() for name in named) > 6  # beyond every named view's reach
    assert_leak_found_only_with_the_default(tmp_path, original, copy, 51, match, views=without_shape(view))


def test_a_mirrored_and_cropped_copy_in_another_class_is_a_label_conflict(tmp_path: Path) -> None:
    root = tmp_path / "data"
    original = photo(18, (300, 225))
    copy = ImageOps.mirror(original).crop((8, 10, 292, 217))
    write(root, {"train/cat/p.jpg": jpeg(original), "train/dog/p_mirrored.jpg": jpeg(copy),
                 "train/cat/other.jpg": jpeg(photo(19)), "train/dog/third.jpg": jpeg(photo(20))})
    assert imagehash_distance(root / "train/cat/p.jpg", root / "train/dog/p_mirrored.jpg") > 16
    report = curate(root, workers=1, progress=False).to_json()
    assert moved(root) == {"train/cat/p.jpg": "label-conflict", "train/dog/p_mirrored.jpg": "label-conflict"}
    assert report["label_conflicts"] == 1


def test_different_photos_stay_apart_through_every_view(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write(root, {f"{('train', 'val')[k % 2]}/cat/{k}.jpg": jpeg(photo(30 + k, (240 + 8 * k, 180))) for k in range(16)})
    report = curate(root, workers=1, progress=False, dry_run=True, min_similarity=None).to_json()
    assert report["groups"] == []


def test_a_slightly_rotated_copy_is_found_and_the_upright_original_stays(tmp_path: Path) -> None:
    root = tmp_path / "data"
    original = photo(7, (300, 225))
    rotated = original.rotate(5, Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
    write(root, {"train/cat/p.jpg": jpeg(original), "val/cat/p_rotated.jpg": jpeg(rotated),
                 "train/cat/other.jpg": jpeg(photo(8))})
    curate(root, workers=1, progress=False)
    assert moved(root) == {"val/cat/p_rotated.jpg": "duplicate"}


def test_a_watermarked_copy_loses_to_its_original_though_its_file_is_larger(tmp_path: Path) -> None:
    root = tmp_path / "data"
    original = photo(9, (320, 240))
    marked = original.copy()
    ImageDraw.Draw(marked).text((150, 200), "© stock.example", font=ImageFont.load_default(size=18),
                                fill=(255, 255, 255))
    write(root, {"val/cat/p_marked.jpg": jpeg(marked), "train/cat/p.jpg": jpeg(original),
                 "train/cat/other.jpg": jpeg(photo(10))})
    assert (root / "val/cat/p_marked.jpg").stat().st_size > (root / "train/cat/p.jpg").stat().st_size
    curate(root, workers=1, progress=False)
    assert moved(root) == {"val/cat/p_marked.jpg": "duplicate"}


def test_a_captioned_copy_across_splits_is_found_and_loses_to_its_original_though_it_has_more_pixels(
        tmp_path: Path) -> None:
    root = tmp_path / "data"
    original = photo(21, (300, 225))
    captioned = Image.new("RGB", (300, 265), (255, 255, 255))
    captioned.paste(original, (0, 40))
    ImageDraw.Draw(captioned).text((25, 6), "when the photo is", font=ImageFont.load_default(size=26), fill=(0, 0, 0))
    write(root, {"val/cat/p_captioned.jpg": jpeg(captioned), "train/cat/p.jpg": jpeg(original),
                 "train/cat/other.jpg": jpeg(photo(22)), "val/cat/third.jpg": jpeg(photo(23))})
    assert imagehash_distance(root / "train/cat/p.jpg", root / "val/cat/p_captioned.jpg") > 8
    report = curate(root, workers=1, progress=False).to_json()
    assert moved(root) == {"val/cat/p_captioned.jpg": "duplicate"}
    assert report["leakage_pairs_fixed"] == 1
    assert matches(report) == {"val/cat/p_captioned.jpg": "inside margins"}


def flat_colours() -> Image.Image:
    """A drawing of flat colours on a purple backdrop that fills its left edge: a margin until JPEG blurs it."""
    picture = Image.new("RGB", (160, 120), (68, 9, 179))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((45, 14, 160, 120), fill=(30, 60, 200))
    draw.rectangle((16, 38, 37, 80), fill=(220, 20, 160))
    draw.rectangle((112, 0, 160, 70), fill=(120, 170, 250))
    draw.ellipse((95, 60, 220, 170), fill=(20, 200, 220))
    draw.rectangle((45, 110, 160, 120), fill=(230, 160, 140))
    return picture


def test_a_half_size_copy_loses_to_its_original_though_compression_hid_the_original_s_backdrop_margin(
        tmp_path: Path) -> None:
    root = tmp_path / "data"
    write(root, {"train/dog/p.jpg": jpeg(flat_colours()), "train/cat/other.jpg": jpeg(photo(24))})
    with Image.open(root / "train/dog/p.jpg") as original:
        write(root, {"val/dog/p_half.jpg": jpeg(original.resize((80, 60)), 75)})
    margins = [inspect_image(root / path, InspectOptions()).metrics["content"] for path in ("train/dog/p.jpg",
                                                                                           "val/dog/p_half.jpg")]
    assert margins[0] < 1 and margins[1] == 1
    curate(root, workers=1, progress=False)
    assert moved(root) == {"val/dog/p_half.jpg": "duplicate"}


def test_an_upscale_and_a_recompressed_copy_lose_to_their_original(tmp_path: Path) -> None:
    root = tmp_path / "data"
    original = photo(11, (224, 168))
    write(root, {"train/cat/p.jpg": jpeg(original), "train/cat/p_2x.jpg": jpeg(original.resize((448, 336),
                                                                                               Image.Resampling.BICUBIC)),
                 "train/dog/q.jpg": jpeg(photo(12), 95), "train/dog/q_again.jpg": jpeg(photo(12), 40),
                 "train/dog/other.jpg": jpeg(photo(13))})
    curate(root, workers=1, progress=False)
    assert moved(root) == {"train/cat/p_2x.jpg": "duplicate", "train/dog/q_again.jpg": "duplicate"}


def patterned(seed: int) -> Image.Image:
    """One shared layout of light and shade (all a 64-bit pHash sees) under a pattern of its own (what the eye
    sees): two different pictures whose pHashes are 8 bits apart."""
    size = 256
    frequency = np.abs(np.fft.fftfreq(size) * size)
    ring = np.maximum(frequency[:, None], frequency[None, :])

    def band(band_seed: int, low: int, high: int) -> np.ndarray:
        rng = np.random.default_rng(band_seed)
        spectrum = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) * ((ring >= low) & (
            ring <= high))
        values = np.real(np.fft.ifft2(spectrum))
        return values / values.std()

    grey = 128 + 30 * band(0, 1, 3) + 45 * band(seed, 5, 8) + np.random.default_rng(seed + 10).normal(0, 4,
                                                                                                        (size, size))
    return Image.fromarray(grey.clip(0, 255).astype(np.uint8)).convert("RGB")


def test_two_different_pictures_at_the_edge_of_the_hash_threshold_are_not_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write(root, {"val/bird/a.jpg": jpeg(patterned(1)), "val/bird/b.jpg": jpeg(patterned(2)),
                 "train/bird/c.jpg": jpeg(photo(14))})
    assert imagehash_distance(root / "val/bird/a.jpg", root / "val/bird/b.jpg") <= 8
    assert curate(root, workers=1, progress=False, dry_run=True, min_similarity=None).groups != []
    report = curate(root, workers=1, progress=False, dry_run=True).to_json()
    assert report["groups"] == []
