"""`classify train`: real training steps on tiny generated ImageFolders (and a slice of CIFAR-10 when present)."""

from __future__ import annotations

import json
import math
import tarfile
from itertools import pairwise
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

from classify import finetune as train_module
from classify.checkpoint import Preprocess, load_model
from classify.cli import main
from classify.finetune import Phases, TrainConfig, build_optimizer, lr_factor, patience_after
from classify.models import build_model, create_model, head_names
from classify.transforms import AUGMENTS, eval_transform, train_transform

from .conftest import make_image_folder

# A small, fast network with batch norm: enough to prove the loop, quick on a shared CPU.
FAST = ["--model", "shufflenet_v2_x0_5", "--image-size", "32"]
CIFAR = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cifar10-jpg.tar.gz"


@pytest.fixture
def small_folder(tmp_path: Path) -> Path:
    """Six training and two validation images per class: two steps an epoch, for tests of the loop's mechanics."""
    return make_image_folder(tmp_path / "small", train=6, val=2)


def invoke(runs: Path, *args: object):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["train", "--device", "cpu", "--workers", "0", "--batch-size", "8",
                                     "--runs", str(runs), *map(str, args)], catch_exceptions=False)


def last_state(run: Path) -> dict:
    return torch.load(run / "last.pt", map_location="cpu", weights_only=True)


def test_training_learns_the_tiny_dataset_and_writes_the_run_folder(image_folder: Path, tmp_path: Path) -> None:
    result = invoke(tmp_path / "runs", image_folder, "--weights", "none", "--image-size", "32", "--epochs", "3",
                    "--quiet")
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "resnet18"
    for name in ("model.pt", "metrics.json", "curves.png", "confusion.png", "top_losses.png", "predictions.png",
                 "evaluation.json", "last.pt"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert [entry["epoch"] for entry in metrics["epochs"]] == [1, 2, 3]
    model_file = load_model(run / "model.pt")
    assert model_file.classes == ["circle", "square", "triangle"] and model_file.preprocess.crop == 32
    evaluation = model_file.metrics["evaluation"]
    assert evaluation["accuracy"] == max(entry["val_acc"] for entry in metrics["epochs"]) >= 0.6  # chance: 1/3
    assert [row["name"] for row in evaluation["per_class"]] == model_file.classes
    assert "best epoch" in result.stdout and "precision" in result.stdout
    assert invoke(tmp_path / "runs", image_folder, "--weights", "none", *FAST, "--epochs", "1", "-q",
                  "--json").exit_code == 0
    assert (tmp_path / "runs" / "shufflenet_v2_x0_5").is_dir()


@pytest.mark.slow
def test_resume_after_an_interruption_ends_where_an_uninterrupted_run_ends(small_folder: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    common = [small_folder, "--weights", "none", *FAST, "--epochs", "2", "-q"]
    assert invoke(tmp_path, *common, "--name", "straight").exit_code == 0

    real_train_epoch = train_module.Trainer.train_epoch

    def interrupted_in_epoch_two(self):  # type: ignore[no-untyped-def]
        if self.epoch == 1:
            raise KeyboardInterrupt
        return real_train_epoch(self)

    monkeypatch.setattr(train_module.Trainer, "train_epoch", interrupted_in_epoch_two)
    stopped = invoke(tmp_path, *common, "--name", "cut")
    assert stopped.exit_code == 130 and f"--resume {tmp_path / 'cut'}" in stopped.stderr
    assert last_state(tmp_path / "cut")["epoch"] == 1
    monkeypatch.setattr(train_module.Trainer, "train_epoch", real_train_epoch)

    resumed = invoke(tmp_path, "--resume", "cut", "-q")
    assert resumed.exit_code == 0, resumed.output
    straight, cut = last_state(tmp_path / "straight"), last_state(tmp_path / "cut")
    assert cut["epoch"] == 2
    for name, tensor in straight["model"].items():
        assert torch.allclose(tensor.float(), cut["model"][name].float(), atol=1e-5), name
    assert [e["val_loss"] for e in straight["history"]] == pytest.approx([e["val_loss"] for e in cut["history"]])

    finished = invoke(tmp_path, "--resume", "cut")
    assert finished.exit_code == 1 and "pass a larger --epochs" in finished.stderr
    recipe = invoke(tmp_path, "--resume", "cut", "--epochs", "3", "--model", "resnet18")
    assert recipe.exit_code == 1 and "model cannot change" in recipe.stderr


def test_an_unreadable_image_costs_one_warning_and_no_epoch(small_folder: Path, tmp_path: Path) -> None:
    bad = small_folder / "train" / "circle" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    result = invoke(tmp_path, small_folder, "--weights", "none", *FAST, "--epochs", "2", "--batch-size", "6", "-q")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(bad) in warnings[0]
    assert json.loads((tmp_path / "shufflenet_v2_x0_5" / "metrics.json").read_text())["epochs"][1]["epoch"] == 2


@pytest.mark.parametrize("arch", ["resnet50", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny"])
def test_the_named_models_build_with_a_new_head_and_take_a_training_step(arch: str) -> None:
    torch.manual_seed(0)
    model, head = create_model(arch, 3)
    assert head and all(model.state_dict()[name].shape[0] == 3 for name in head)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, targets = torch.randn(2, 3, 32, 32), torch.tensor([0, 2])
    before = {name: p.detach().clone() for name, p in model.named_parameters() if name in head}
    F.cross_entropy(model(images), targets).backward()
    optimizer.step()
    assert all(not torch.equal(before[name], p) for name, p in model.named_parameters() if name in head)
    build_model(arch, 3).load_state_dict(model.state_dict())  # what `predict` and `eval` will rebuild


def test_local_weights_fill_the_body_and_the_first_epoch_trains_only_the_head(small_folder: Path,
                                                                              tmp_path: Path) -> None:
    torch.manual_seed(1)
    weights = tmp_path / "shufflenet.pth"
    pretrained = build_model("shufflenet_v2_x0_5", 1000).state_dict()
    torch.save(pretrained, weights)
    result = invoke(tmp_path / "runs", small_folder, "--weights", weights, *FAST, "--epochs", "1",
                    "--freeze-epochs", "1", "--name", "frozen")
    assert result.exit_code == 0, result.output
    assert "epoch 1/1 head" in result.stderr
    trained = load_model(tmp_path / "runs" / "frozen" / "model.pt").state_dict
    head = head_names("shufflenet_v2_x0_5", 3)
    parameters = {name for name, _ in build_model("shufflenet_v2_x0_5", 3).named_parameters()}
    assert all(torch.equal(trained[name], pretrained[name]) for name in parameters - head)
    assert trained["fc.weight"].shape == (3, 1024)

    foreign = tmp_path / "resnet18.pth"
    torch.save(build_model("resnet18", 1000).state_dict(), foreign)
    mismatched = invoke(tmp_path / "runs", small_folder, "--weights", foreign, *FAST)
    assert mismatched.exit_code == 1 and "does not fit shufflenet_v2_x0_5" in mismatched.stderr
    assert len(mismatched.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("augment", AUGMENTS)
def test_every_augmentation_level_gives_what_evaluation_gives(augment: str) -> None:
    preprocess = Preprocess(resize=36, crop=32)
    image = Image.new("RGB", (50, 40), (200, 30, 30))
    augmented = train_transform(preprocess, augment)(image)
    assert augmented.shape == eval_transform(preprocess)(image).shape == (3, 32, 32)
    assert augmented.dtype == torch.float32


def test_patience_counts_epochs_in_a_row_without_a_lower_validation_loss() -> None:
    lowest, bad = math.inf, 0
    counts = []
    for loss in (1.0, 0.8, 0.85, 0.79995, 0.9, 0.5):
        lowest, bad = patience_after(lowest, bad, loss)
        counts.append(bad)
    assert counts == [0, 0, 1, 2, 3, 0] and lowest == 0.5


def test_warmup_then_cosine_within_a_phase() -> None:
    factors = [lr_factor(step, 10, 20, 0.1) for step in range(35)]
    assert factors[:10] == [0.0] * 10 and factors[30:] == [0.0] * 5
    assert factors[10] < factors[11] < factors[12] == 1.0
    assert all(a >= b for a, b in pairwise(factors[12:30]))


def test_body_waits_for_the_second_phase_then_learns_slower_the_earlier_its_layers(tmp_path: Path) -> None:
    model, head = create_model("resnet18", 3)
    config = TrainConfig(data=str(tmp_path), weights="DEFAULT", warmup=0.0)
    phases = Phases(head_steps=5, all_steps=10)
    optimizer, scheduler = build_optimizer(model, head, config, phases)
    rates = {group["name"]: group["lr"] for group in optimizer.param_groups}
    assert rates["head"] == pytest.approx(1e-3) and rates["body0"] == rates["body2"] == 0.0
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    rates = {group["name"]: group["lr"] for group in optimizer.param_groups}
    assert 0 < rates["body0"] < rates["body1"] < rates["body2"] < rates["head"] == pytest.approx(1e-3)
    assert rates["body0"] == pytest.approx(1e-5)
    decay = {group["name"]: group["weight_decay"] for group in optimizer.param_groups if group["params"][0].ndim == 1}
    assert set(decay.values()) == {0.0}


@pytest.mark.parametrize(("make", "args", "message"), [
    (lambda root: root / "missing", [], "no such folder"),
    (lambda root: (root / "train").mkdir(parents=True) or root, [], "no class folders"),
    (lambda root: make_image_folder(root, train=2, classes=("circle",)), [], "only one class"),
    (lambda root: make_image_folder(root, train=2), ["--model", "resnet9000"], "unknown model"),
    (lambda root: make_image_folder(root, train=2), ["--weights", "nothing.pth"], "no such file"),
    (lambda root: root, ["--resume", "never-ran"], "no run to resume"),
])
def test_user_mistakes_are_one_line_errors(tmp_path: Path, make, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    data = make(tmp_path / "data") if args[:1] != ["--resume"] else None
    result = invoke(tmp_path / "runs", *([data] if data else []), "--weights", "none", *args)
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(image_folder: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", str(image_folder), "--device", "cuda", "--weights", "none"])
    assert result.exit_code == 1 and "no usable CUDA GPU" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def extract_cifar(root: Path, classes: tuple[str, ...], train: int, val: int) -> Path:
    """The first `train` training and `val` test JPEGs of each class, as root/train/<class>, root/val/<class>."""
    wanted = {"train": train, "test": val}
    counts: dict[tuple[str, str], int] = {}
    with tarfile.open(CIFAR) as archive:
        for member in archive:
            parts = member.name.split("/")
            if len(parts) != 4 or not member.isfile() or parts[2] not in classes:
                continue
            key = (parts[1], parts[2])
            if counts.get(key, 0) >= wanted[parts[1]]:
                continue
            counts[key] = counts.get(key, 0) + 1
            target = root / ("val" if parts[1] == "test" else "train") / parts[2] / parts[3]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
            if len(counts) == 2 * len(classes) and all(counts[k] >= wanted[k[0]] for k in counts):
                break
    return root


@pytest.mark.slow
@pytest.mark.skipif(not CIFAR.is_file(), reason=f"{CIFAR} absent (the offline dataset copy)")
def test_a_few_hundred_cifar10_images_are_learnt_well_above_chance(tmp_path: Path) -> None:
    data = extract_cifar(tmp_path / "cifar", ("airplane", "frog"), train=100, val=40)
    result = invoke(tmp_path / "runs", data, "--weights", "none", "--image-size", "32", "--epochs", "4",
                    "--batch-size", "32", "--lr", "3e-3", "--json", "-q")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["evaluation"]["images"] == 80
    assert summary["best_val_acc"] >= 0.7  # chance: 0.5; 0.84 measured
