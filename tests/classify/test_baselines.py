"""`classify baseline`: models, augmentation, data loading (offline MNIST copy, ImageFolder) and short real runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import classify
from classify.baselines import augment
from classify.baselines.cli import baseline
from classify.baselines.data import IDX_FILES, decompress_idx, load_folder
from classify.baselines.models import MODELS, FastNet, build
from classify.baselines.recipe import make_recipe, triangle

from .conftest import COLOURS

SHARED_MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "MNIST" / "raw"


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    """A data root holding only the gzip IDX files of the offline MNIST copy, as a user fetching by hand has."""
    if not SHARED_MNIST.is_dir():
        pytest.skip("offline MNIST copy (../shared/datasets/MNIST/raw) is absent")
    raw = tmp_path / "datasets" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for source in SHARED_MNIST.glob("*.gz"):
        shutil.copy(source, raw / source.name)
    return tmp_path / "datasets"


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 16, 16)])
@pytest.mark.parametrize("name", MODELS)
def test_each_model_maps_images_to_class_scores(name: str, shape: tuple[int, int, int]) -> None:
    model = build(name, shape, num_classes=7).eval()
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, 7)


def test_tutorial_models_keep_the_tutorials_widths() -> None:
    widths = [layer.out_features for layer in build("mlp", (1, 28, 28), 10) if isinstance(layer, torch.nn.Linear)]
    assert widths == [312, 256, 10]
    small = [layer for layer in build("cnn-small", (1, 28, 28), 10) if isinstance(layer, torch.nn.Linear)]
    assert (small[0].in_features, small[0].out_features, small[1].out_features) == (1568, 49, 10)
    colour = [layer.out_features for layer in build("mlp", (3, 32, 32), 10) if isinstance(layer, torch.nn.Linear)]
    assert colour == [1024, 512, 256, 64, 10]


def test_fast_net_whitening_decorrelates_its_input_patches() -> None:
    torch.manual_seed(0)
    base = torch.randn(64, 1, 12, 12)
    images = torch.cat([base, 0.8 * base + 0.2 * torch.randn_like(base), torch.randn_like(base)], dim=1)
    model = FastNet(3, 10)
    model.fit_whitening(images)
    with torch.no_grad():
        features = model.whiten(images)[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    covariance = features.T @ features / len(features)
    assert torch.allclose(covariance, torch.eye(12), atol=0.05)


def test_random_translate_moves_each_image_at_most_pad_pixels() -> None:
    torch.manual_seed(0)
    images = torch.zeros(200, 1, 9, 9)
    images[:, 0, 4, 4] = 1.0
    moved = augment.random_translate(images, pad=2)
    rows, cols = moved[:, 0].flatten(1).argmax(1).div(9, rounding_mode="floor"), moved[:, 0].flatten(1).argmax(1) % 9
    assert (moved.sum((1, 2, 3)) == 1).all()
    assert set(rows.tolist()) == {2, 3, 4, 5, 6} and set(cols.tolist()) == {2, 3, 4, 5, 6}
    assert torch.equal(augment.shifted(images, 1, -1)[:, 0, 5, 3], torch.ones(200))


def test_alternating_flips_mirror_every_image_once_per_two_epochs() -> None:
    base = torch.rand(100) < 0.5
    assert torch.equal(augment.alternating_flips(base, 0) ^ augment.alternating_flips(base, 1), torch.ones(100).bool())


def test_triangle_schedule_warms_up_then_decays() -> None:
    values = [triangle(step, 100) for step in range(101)]
    assert values[0] == pytest.approx(0.2) and max(values) == pytest.approx(1.0)
    assert values.index(max(values)) == 23 and values[-1] == pytest.approx(0.07)


def test_fast_recipe_scales_its_learning_rate_with_the_batch() -> None:
    assert make_recipe("fast", False, batch_size=512).lr == pytest.approx(make_recipe("fast", False).lr / 2)
    assert make_recipe("mlp", True, optimizer="sgd").lr == 0.1


def test_gzip_idx_files_are_decompressed_in_place(mnist_root: Path) -> None:
    raw = mnist_root / "MNIST" / "raw"
    written = decompress_idx(raw)
    assert sorted(path.name for path in written) == sorted(IDX_FILES)
    assert (raw / "t10k-labels-idx1-ubyte").stat().st_size == 10_008
    assert decompress_idx(raw) == []


@pytest.mark.slow
def test_short_mnist_run_reaches_85_percent(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(baseline, ["mnist", "--model", "mlp", "--epochs", "5", "--limit", "4000",
                                           "--data-root", str(mnist_root), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["accuracy_mean"] >= 0.85  # about 0.90 measured
    assert summary["train_seconds"][0] > 0 and summary["data_seconds"] >= 0
    assert len(summary["history"]) == 5 and summary["report"]["confusion"]
    assert (out / "curves.png").stat().st_size > 0 and (out / "confusion.png").stat().st_size > 0
    assert json.loads((out / "results.json").read_text())["accuracy_mean"] == summary["accuracy_mean"]


@pytest.mark.slow
def test_a_python_call_on_mnist_never_mirrors_digits_and_counts_loading_as_data_time(mnist_root: Path,
                                                                                   tmp_path: Path) -> None:
    digits = classify.baseline("mnist", model="fast", epochs=1, batch_size=64, limit=256, data_root=mnist_root,
                               download=False, out=tmp_path / "mnist", progress=False)
    assert digits.flip is False and digits.data_seconds > 0 and digits.recipe.tta
    assert json.loads((tmp_path / "mnist" / "results.json").read_text())["flip"] is False
    assert (tmp_path / "mnist" / "curves.png").is_file() and digits.files["results"] == tmp_path / "mnist" / "results.json"


def test_missing_dataset_offline_is_a_one_line_error_saying_where_to_put_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(baseline, ["fashion-mnist", "--data-root", str(tmp_path), "--no-download"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / "FashionMNIST" / "raw") in lines[0]
    assert "train-images-idx3-ubyte" in lines[0]


def test_folder_is_loaded_as_uint8_tensors_with_sorted_classes(colour_folder: Path) -> None:
    data = load_folder(colour_folder)
    assert data.classes == sorted(COLOURS)
    assert data.train.images.dtype == torch.uint8 and data.shape == (3, 16, 16)
    assert len(data.train.labels) == 48 and len(data.test.labels) == 18
    assert load_folder(colour_folder, image_size=8).shape == (3, 8, 8)


@pytest.mark.parametrize(("model", "epochs"), [("cnn-small", 8), ("fast", 4)])
def test_folder_run_learns_a_tiny_imagefolder(colour_folder: Path, tmp_path: Path, model: str, epochs: int) -> None:
    result = CliRunner().invoke(baseline, ["--folder", str(colour_folder), "--model", model, "--epochs", str(epochs),
                                           "--batch-size", "8", "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dataset"] == "colours" and summary["device"] == "cpu"
    assert summary["accuracy_mean"] >= 0.9


@pytest.mark.slow
def test_a_compiled_run_learns_and_reports_compilation_apart(colour_folder: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(baseline, ["--folder", str(colour_folder), "--model", "fast", "--epochs", "4",
                                           "--batch-size", "8", "--compile", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["compile_seconds"] > 0 and summary["accuracy_mean"] >= 0.9


def test_folder_without_test_split_is_a_one_line_error(colour_folder: Path) -> None:
    shutil.rmtree(colour_folder / "test")
    result = CliRunner().invoke(baseline, ["--folder", str(colour_folder)])
    assert result.exit_code == 1 and "has no test/ folder" in result.output


def test_dataset_and_folder_together_is_a_usage_error(colour_folder: Path) -> None:
    result = CliRunner().invoke(baseline, ["mnist", "--folder", str(colour_folder)])
    assert result.exit_code == 2 and "exactly one of DATASET or --folder" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(colour_folder: Path) -> None:
    result = CliRunner().invoke(baseline, ["--folder", str(colour_folder), "--device", "cuda"])
    assert result.exit_code == 1 and "no usable CUDA GPU" in result.output


def test_folder_images_are_read_upright_and_quarantine_is_not_a_class(colour_folder: Path) -> None:
    for split in ("train", "test"):
        shutil.copytree(colour_folder / split / "red", colour_folder / split / "_quarantine" / "red")
    upright = Image.new("RGB", (16, 16), (30, 200, 40))
    upright.paste((250, 250, 250), (0, 0, 16, 4))  # a white band along the top when shown upright
    exif = Image.Exif()
    exif[0x0112] = 3  # Orientation: stored upside down
    upright.rotate(180).save(colour_folder / "test" / "green" / "phone.jpg", exif=exif, quality=100)
    data = load_folder(colour_folder)
    assert data.classes == sorted(COLOURS)
    index = 6 + 6  # after blue's six images and green's six PNGs, which sort before phone.jpg
    top, bottom = data.test.images[index, :, :4].float().mean(), data.test.images[index, :, -4:].float().mean()
    assert top > 200 > bottom
