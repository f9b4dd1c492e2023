"""Every `classify` command meets the classic mistakes (missing paths, corrupt inputs, a file where a folder should
be, a read-only or full disk) with one line on stderr, exit code 1 and no traceback; and the API raises one root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import classify
from classify.cli import main

from .conftest import make_image_folder, save_untrained_model

CLASSES = ["circle", "square", "triangle"]
# Small enough that a failed run costs seconds: one epoch of a tiny network at 32 px.
TRAIN = ["--weights", "none", "--model", "shufflenet_v2_x0_5", "--image-size", "32", "--epochs", "1",
         "--batch-size", "6", "--workers", "0", "--device", "cpu", "-q"]
BASELINE = ["--model", "mlp", "--epochs", "1", "--batch-size", "8", "--device", "cpu"]


class Setup:
    """The files a mistake is made with, made fresh per test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = root / "runs"
        self.data = make_image_folder(root / "data", train=6, val=2)
        (root / "run").mkdir()
        self.model = save_untrained_model(root / "run" / "model.pt", CLASSES)
        self.file = root / "a-file"
        self.file.write_text("a file where a folder should be")
        self.corrupt_model = root / "corrupt.pt"
        self.corrupt_model.write_bytes(b"PK\x03\x04 not really a zip")
        self.corrupt_data = root / "corrupt-data"
        for split in ("train", "val", "test"):
            for name in CLASSES[:2]:
                folder = self.corrupt_data / split / name
                folder.mkdir(parents=True)
                for index in range(3):
                    (folder / f"{index}.jpg").write_bytes(b"<html>an error page saved as a picture</html>")
        self.colours = root / "colours"
        for split in ("train", "test"):
            for name, colour in (("red", (220, 30, 30)), ("blue", (30, 40, 220))):
                folder = self.colours / split / name
                folder.mkdir(parents=True)
                for index in range(4):
                    Image.new("RGB", (8, 8), colour).save(folder / f"{index}.png")


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def run(args: list[str]):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, [str(arg) for arg in args])


def assert_one_line_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    """Exit code 1 and one `Error:` line; `predict`'s own `error: PATH: reason` line per unusable file aside."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("error: ")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


MISTAKES: list[tuple[str, Callable[[Setup], list], str]] = [
    ("train: missing data", lambda s: ["train", s.root / "missing", *TRAIN, "--runs", s.runs], "no such folder"),
    ("train: every image corrupt", lambda s: ["train", s.corrupt_data, *TRAIN, "--runs", s.runs],
     "unreadable images in a row"),
    ("train: every image corrupt, found by a loader worker", lambda s: ["train", s.corrupt_data, *TRAIN,
                                                                        "--workers", "1", "--runs", s.runs],
     "unreadable images in a row"),
    ("train: corrupt weights", lambda s: ["train", s.data, *TRAIN, "--weights", s.corrupt_model, "--runs", s.runs],
     "not a readable state dict"),
    ("train: runs is a file", lambda s: ["train", s.data, *TRAIN, "--runs", s.file / "runs"], "Not a directory"),
    ("eval: missing model", lambda s: ["eval", s.root / "nope.pt", s.data, "-q"], "no such model file"),
    ("eval: corrupt model", lambda s: ["eval", s.corrupt_model, s.data, "-q"], "not a readable model file"),
    ("eval: missing data", lambda s: ["eval", s.model, s.root / "missing", "-q"], "no such folder"),
    ("eval: every image corrupt", lambda s: ["eval", "--device", "cpu", s.model, s.corrupt_data, "-q"],
     "none of the 6 images could be read"),
    ("eval: out is a file", lambda s: ["eval", "--device", "cpu", s.model, s.data, "-q", "--out", s.file / "out"],
     "Not a directory"),
    ("predict: missing model", lambda s: ["predict", s.root / "nope.pt", s.data], "no such model file"),
    ("predict: corrupt model", lambda s: ["predict", s.corrupt_model, s.data], "not a readable model file"),
    ("predict: only missing images", lambda s: ["predict", "--device", "cpu", s.model, s.root / "gone.jpg"],
     "no image could be labelled"),
    ("export: missing model", lambda s: ["export", s.root / "nope.pt", "--format", "torchscript"],
     "no such model file"),
    ("export: corrupt model", lambda s: ["export", s.corrupt_model, "--format", "torchscript"],
     "not a readable model file"),
    ("export: out in a file", lambda s: ["export", s.model, "--format", "torchscript", "--out", s.file / "m.pt"],
     "no such folder"),
    ("baseline: missing folder", lambda s: ["baseline", "--folder", s.root / "missing", *BASELINE],
     "has no train/ folder"),
    ("baseline: corrupt images", lambda s: ["baseline", "--folder", s.corrupt_data, *BASELINE], "cannot read image"),
    ("baseline: dataset absent offline", lambda s: ["baseline", "mnist", "--data-root", s.root / "none",
                                                    "--no-download", *BASELINE], "mnist not found"),
    ("baseline: out is a file", lambda s: ["baseline", "--folder", s.colours, *BASELINE, "--out", s.file / "out"],
     "Not a directory"),
]


@pytest.mark.parametrize(("make", "fragment"), [(make, fragment) for _, make, fragment in MISTAKES],
                         ids=[name for name, _, _ in MISTAKES])
def test_a_classic_mistake_is_one_line_and_exit_code_1(setup: Setup, make, fragment: str) -> None:  # type: ignore[no-untyped-def]
    assert_one_line_error(run(make(setup)), fragment)


def writes_into(folder: Path) -> dict[str, Callable[[Setup], list]]:
    """Each command that writes files, told to write them into `folder`."""
    return {
        "train": lambda s: ["train", s.data, *TRAIN, "--runs", folder],
        "eval": lambda s: ["eval", "--device", "cpu", s.model, s.data, "-q", "--out", folder],
        "export": lambda s: ["export", s.model, "--format", "torchscript", "--out", folder / "model.ts"],
        "baseline": lambda s: ["baseline", "--folder", s.colours, *BASELINE, "--out", folder],
    }


@pytest.mark.parametrize("command", ["train", "eval", "export", "baseline"])
def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_partial_file(setup: Setup, full_disk: Path,
                                                                            command: str) -> None:
    assert_one_line_error(run(writes_into(full_disk)[command](setup)), "No space left on device")
    assert not [path for path in full_disk.rglob("*") if path.is_file()]


@pytest.mark.parametrize("command", ["train", "eval", "export", "baseline"])
def test_a_read_only_output_is_one_line(setup: Setup, read_only_folder: Path, command: str) -> None:
    assert_one_line_error(run(writes_into(read_only_folder)[command](setup)), "Read-only file system")


@pytest.mark.parametrize("command", ["train", "eval", "predict", "export", "baseline"])
def test_every_command_documents_its_exit_codes(command: str) -> None:
    result = run([command, "--help"])
    assert result.exit_code == 0 and "Exit codes: 0 done; 1 " in " ".join(result.stdout.split())


def test_every_user_error_of_the_api_derives_from_one_root(setup: Setup) -> None:
    mistakes = [
        lambda: classify.train(setup.root / "missing"),
        lambda: classify.evaluate(setup.corrupt_model, setup.data),
        lambda: classify.predict(setup.root / "nope.pt", setup.data),
        lambda: classify.export(setup.model, "tflite"),
        lambda: classify.baseline("mnist", data_root=setup.root / "none", download=False),
        lambda: classify.baseline(folder=setup.colours, optimizer="nesterov"),
        lambda: classify.train(setup.data, epoch=3),
    ]
    for mistake in mistakes:
        with pytest.raises(classify.ClassifyError):
            mistake()
