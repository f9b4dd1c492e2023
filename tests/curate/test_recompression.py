"""Recompression traces on real Pillow JPEG encodes: a copy edited from a decoded JPEG and saved again carries the
earlier compression, the file it was made from does not, so in a group the file it was made from stays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from collector.curate.decide import MIRROR_TRACE, SCALING_TRACE, Item, edit_traces, rank
from collector.curate.inspect import InspectOptions, inspect_image, luminance_table
from collector.curate.layout import Entry
from collector.curate.recompression import TRACES, measured_box, mirror_trace, recompression_traces, scaling_trace
from collector.curate.run import curate
from tests.curate.conftest import make_photo


def grained(seed: int, size: tuple[int, int]) -> Image.Image:
    """A photo-like picture with a camera's grain, so that every block holds detail."""
    grain = np.random.default_rng(seed).normal(0, 3, size=(size[1], size[0], 1))
    return Image.fromarray((np.asarray(make_photo(*size, seed=seed)) + grain).clip(0, 255).astype(np.uint8))


def saved(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def traces(data: bytes) -> dict[str, float]:
    with Image.open(io.BytesIO(data)) as image:
        table = luminance_table(image)
        assert table is not None
        rgb = image.convert("RGB")
        return recompression_traces(np.asarray(rgb.crop(measured_box(*rgb.size))), table, rgb.width)


@pytest.mark.parametrize("quality", [60, 75, 90, 95])
def test_a_picture_compressed_once_carries_no_trace_at_any_quality(quality: int) -> None:
    for seed, size in enumerate([(301, 227), (250, 190), (389, 300), (213, 160)]):
        found = traces(saved(grained(seed, size), quality))
        assert found["mirror_trace"] <= MIRROR_TRACE, (seed, found)
        assert found["scaling_trace"] <= SCALING_TRACE, (seed, found)


def test_a_mirrored_re_encode_carries_its_sources_grid_at_another_phase() -> None:
    for seed in range(3):
        source = saved(grained(seed, (301, 227)))
        copy = saved(ImageOps.mirror(decoded(source)))
        assert traces(copy)["mirror_trace"] > MIRROR_TRACE >= traces(source)["mirror_trace"], seed


def test_a_mirror_of_a_width_that_is_a_multiple_of_8_leaves_no_trace() -> None:
    """Such a mirror moves whole blocks and flips signs: it is lossless, so nothing tells copy from source."""
    source = saved(grained(5, (304, 227)))
    luma = np.asarray(decoded(saved(ImageOps.mirror(decoded(source)))).convert("L"), np.float32)
    assert mirror_trace(luma, np.full((8, 8), 4.0, np.float32), luma.shape[1]) == 0.0


BRIGHTER = (lambda im: ImageEnhance.Brightness(im).enhance(1.45), (2, 3))
MORE_CONTRAST = (lambda im: ImageEnhance.Contrast(im).enhance(1.3), (0, 1, 2))


@pytest.mark.parametrize(("edit", "seeds"), [BRIGHTER, MORE_CONTRAST], ids=["brighter", "more-contrast"])
def test_a_re_encode_with_stretched_tones_shows_its_sources_steps(edit, seeds) -> None:  # type: ignore[no-untyped-def]
    """Stretched values skip some quantised bins, periodically. (Shrinking them, as darkening does, fills every
    bin about twice, nearly evenly: that leaves far less, and this trace mostly misses it.)"""
    for seed in seeds:
        source = saved(grained(seed, (301, 227)))
        copy = saved(edit(decoded(source)))
        assert traces(copy)["scaling_trace"] > SCALING_TRACE >= traces(source)["scaling_trace"], seed


def test_traces_need_a_grid_to_test() -> None:
    """A picture smaller than two blocks has no phase to compare; a flat one no histogram."""
    table = np.full((8, 8), 4.0, np.float32)
    assert mirror_trace(np.zeros((12, 13), np.float32), table, 13) == 0.0
    assert scaling_trace(np.full((64, 64), 128.0, np.float32), table) == 0.0


def test_lossless_files_carry_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    ImageOps.mirror(decoded(saved(grained(1, (301, 227))))).save(path)
    metrics = inspect_image(path, InspectOptions()).metrics
    assert {name: metrics[name] for name in TRACES} == dict.fromkeys(TRACES, 0.0)


@pytest.mark.parametrize("edit", [ImageOps.mirror, BRIGHTER[0]], ids=["mirrored", "brighter"])
def test_a_copy_edited_from_the_file_ranks_after_its_source(tmp_path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    source = saved(grained(3, (301, 227)))
    (tmp_path / "b.jpg").write_bytes(source)
    (tmp_path / "a_copy.jpg").write_bytes(saved(edit(decoded(source))))
    original, copy = (Item(Entry(name, "train", "cat"), inspect_image(tmp_path / name, InspectOptions()))
                      for name in ("b.jpg", "a_copy.jpg"))
    assert (edit_traces(original.inspection), edit_traces(copy.inspection)) == (0, 1)
    assert rank(original) < rank(copy)


def test_a_mirrored_copy_of_the_file_leaves_and_its_source_stays(tmp_path: Path) -> None:
    """Through the whole run: the copy is named to come first and sits in train, where the source is in val."""
    root = tmp_path / "data"
    source = saved(grained(4, (301, 227)))
    for relative, data in {"val/cat/p.jpg": source, "train/cat/a.jpg": saved(ImageOps.mirror(decoded(source))),
                           "train/cat/other.jpg": saved(grained(8, (250, 190)))}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    curate(root, workers=1, progress=False)
    assert sorted(path.name for path in (root / "_quarantine").rglob("*.jpg")) == ["a.jpg"]
