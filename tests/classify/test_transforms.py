"""From file to tensor: reduced-scale decoding must never cost a crop any of the pixels it is resized to."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image
from torchvision.transforms import v2

from classify.checkpoint import Preprocess
from classify.images import load_image
from classify.transforms import AUGMENTS, eval_pipeline, train_pipeline

PREPROCESS = Preprocess(resize=256, crop=224)


@pytest.fixture(scope="module")
def camera_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "camera.jpg"
    Image.new("RGB", (4032, 3024), (90, 140, 200)).save(path, quality=90)
    return path


@pytest.mark.parametrize("augment", AUGMENTS)
def test_the_smallest_training_crop_of_a_reduced_decode_still_spans_the_crop_size(tmp_path: Path,
                                                                                  augment: str) -> None:
    pipeline = train_pipeline(PREPROCESS, augment)
    [crop] = [step for step in pipeline.transform.transforms if isinstance(step, v2.RandomResizedCrop)]
    # The worst case: a square photo that half-scale decoding brings down to exactly the decode side.
    path = tmp_path / "square.jpg"
    Image.new("RGB", (2 * pipeline.decode_side,) * 2, (90, 140, 200)).save(path, quality=90)
    width, height = load_image(path, min_side=pipeline.decode_side).size
    assert width == height == pipeline.decode_side
    narrowest = math.sqrt(crop.scale[0] * width * height * crop.ratio[0])  # least area at the narrowest ratio
    assert narrowest >= PREPROCESS.crop
    assert pipeline(path).shape == (3, 224, 224)


def test_evaluation_decodes_just_enough_for_its_resize(camera_photo: Path) -> None:
    pipeline = eval_pipeline(PREPROCESS)
    assert min(load_image(camera_photo, min_side=pipeline.decode_side).size) >= PREPROCESS.resize
    assert pipeline(camera_photo).shape == (3, 224, 224)
