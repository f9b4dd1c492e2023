"""Each shape's cut at every place: as imagehash hashes that crop, its small copy as Pillow makes it, every place
from one end to the other."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from collector.curate.slides import FAMILIES, PHASH_SIDE, THUMBNAIL_SIDE, cut_places, slides
from tests.curate.conftest import make_photo


def grey_photo(size: tuple[int, int], seed: int = 3) -> Image.Image:
    return make_photo(*size, seed=seed).convert("L")


@pytest.mark.parametrize("size", [(128, 96), (96, 128), (128, 72), (100, 100)])
def test_every_place_hashes_as_imagehash_hashes_the_crop_and_its_small_copy_is_pillows(size: tuple[int, int]) -> None:
    grey = grey_photo(size)
    found, _ = slides(grey)
    bits, correlations = [], []
    for name, shape in FAMILIES.items():
        across, kept, starts = cut_places(size, shape)
        values = found.values(name)
        assert len(values) == len(starts)
        thumbnails = found.thumbnails(name, np.arange(len(starts))) if len(starts) else []
        for start, value, thumbnail in zip(starts.tolist(), values.tolist(), thumbnails, strict=True):
            box = (start, 0, start + kept, size[1]) if across else (0, start, size[0], start + kept)
            crop = grey.crop(box)
            bits.append((value ^ int(str(imagehash.phash(crop)), 16)).bit_count())
            pillows = np.asarray(crop.resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX), np.float32)
            correlations.append(np.corrcoef(thumbnail.ravel(), pillows.ravel())[0, 1])
    assert bits and max(bits) <= 4 and np.mean(np.array(bits) == 0) >= 0.8
    assert min(correlations) >= 0.97


def test_places_run_from_one_end_to_the_other_a_32nd_of_the_cut_apart() -> None:
    across, kept, starts = cut_places((128, 96), FAMILIES["9:16"])
    assert across and kept == 54
    assert starts[0] == 0 and starts[-1] == 128 - kept
    assert np.diff(starts).max() <= -(-kept // PHASH_SIDE)
    assert not cut_places((160, 90), FAMILIES["16:9"])[2].size  # the picture has the shape already
    assert cut_places((90, 160), FAMILIES["16:9"])[0] is False  # a 16:9 cut of a tall picture moves down it


def test_a_square_picture_has_no_places_for_a_square_cut() -> None:
    found, _ = slides(grey_photo((100, 100)))
    assert "a square" not in found.hashes and found.values("a square").size == 0
