"""What counts as a folder's images, how each is read, and how files are replaced atomically."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from classify.atomic import atomic_path, write_json
from classify.images import ImageReadError, class_folders, image_files, load_image


def _save(path: Path, image: Image.Image | None = None, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (image or Image.new("RGB", (8, 8), (200, 30, 30))).save(path, **options)
    return path


def test_listing_skips_hidden_quarantined_and_non_image_files_but_keeps_underscore_names(tmp_path: Path) -> None:
    kept = [_save(tmp_path / "_MG" / "_0001.jpg"), _save(tmp_path / "cat" / "deep" / "a.PNG")]
    _save(tmp_path / ".cache" / "b.png")
    _save(tmp_path / "cat" / ".hidden.png")
    _save(tmp_path / "_quarantine" / "exact-duplicate" / "cat" / "c.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    assert image_files(tmp_path) == sorted(kept)
    assert class_folders(tmp_path) == ["_MG", "cat"]


def test_a_photo_is_read_upright_in_the_mode_asked_for(tmp_path: Path) -> None:
    upright = Image.new("RGB", (60, 30), (240, 240, 240))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: stored turned, shown turned 90 degrees clockwise
    path = _save(tmp_path / "phone.jpg", upright.transpose(Image.Transpose.ROTATE_90), exif=exif)
    assert load_image(path).size == (60, 30) and load_image(path).mode == "RGB"
    assert load_image(path, "L").mode == "L"


@pytest.mark.parametrize("content", [b"", b"<html>not a picture</html>", b"\xff\xd8\xff\xe0" + b"\x00" * 40])
def test_an_unreadable_file_is_an_image_read_error_with_a_reason(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=r"\S"):
        load_image(path)


def test_an_atomic_write_replaces_the_file_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json({"accuracy": 0.5}, target)
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half a fi")
        raise RuntimeError("interrupted")
    assert target.read_text() == '{\n  "accuracy": 0.5\n}\n'
    write_json({"accuracy": 0.9}, target)
    assert '"accuracy": 0.9' in target.read_text()
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"]


def test_a_large_jpeg_is_decoded_at_reduced_scale_keeping_the_side_asked_for(tmp_path: Path) -> None:
    photo = _save(tmp_path / "camera.jpg", Image.new("RGB", (4032, 3024), (90, 140, 200)), quality=90)
    assert load_image(photo, min_side=256).size == (504, 378)  # 1/8 scale
    assert load_image(photo, min_side=1000).size == (2016, 1512)  # 1/2 scale: 1/4 would leave 756
    assert load_image(photo, min_side=4000).size == (4032, 3024)
    png = _save(tmp_path / "scan.png", Image.new("RGB", (2000, 1500)))
    assert load_image(png, min_side=256).size == (2000, 1500)
