"""The whole product offline, through its real command lines: keywords in, a model that labels a new picture out.

The fake search engine serves two classes; `collect` builds the dataset, `curate` cleans it, `curate --audit` judges
every kept image out of sample (a random resnet18 as the backbone: nothing is downloaded), `classify train` fits a small model for one epoch on the CPU, `classify eval` re-measures it, and `classify predict` labels an image
nobody collected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from classify.cli import main as classify
from collector.cli import main as collect
from collector.curate.cli import curate

CLASSES = ["cat", "dog"]


def run(command, *args: object) -> str:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(command, [str(arg) for arg in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def files_under(folder: Path) -> list[Path]:
    """The images of a split folder: the files in its class folders (its own metadata.jsonl is not one)."""
    return sorted(path for path in folder.glob("*/**/*") if path.is_file())


@pytest.mark.slow
def test_keywords_to_a_model_that_labels_a_picture_it_never_saw(fake, tmp_path):
    data, runs = tmp_path / "data", tmp_path / "runs"

    collected = json.loads(run(collect, "--classes", *CLASSES, "--engine", "bing", "--endpoint",
                               f"bing={fake.url}/bing", "--allow-private-addresses", "--out", data, "--quiet",
                               "--json"))
    assert all(entry["saved"] >= 8 for entry in collected["classes"])
    assert (data / "manifest.sqlite").is_file()

    run(curate, data, "--quiet", "--workers", "1")
    assert (data / "curate_report.json").is_file() and (data / "curate_report.html").is_file()
    assert (data / "README.md").is_file() and (data / "train" / "metadata.jsonl").is_file()
    kept = {split: files_under(data / split) for split in ("train", "val")}
    assert kept["train"] and kept["val"]

    audited = json.loads(run(curate, data, "--audit", "--audit-mode", "probe", "--backbone", "resnet18", "--weights",
                             "none", "--folds", "2", "--device", "cpu", "--workers", "1", "--quiet", "--json"))
    audit = audited["audit"]
    assert audit["images"] == len(kept["train"]) + len(kept["val"]) and audit["classes"] == CLASSES
    assert {row["kind"] for row in audit["sources"]} == {"engine", "query", "domain"}
    assert sum(row["images"] for row in audit["sources"] if row["kind"] == "engine") == audit["images"]
    assert (data / ".imgharvest" / "features.sqlite").is_file()

    run(classify, "train", data, "--model", "resnet18", "--weights", "none", "--epochs", "1", "--image-size", "32",
        "--batch-size", "8", "--device", "cpu", "--workers", "0", "--runs", runs, "--name", "pets", "--quiet")
    run_dir = runs / "pets"
    for name in ("model.pt", "metrics.json", "curves.png", "confusion.png", "top_losses.png", "predictions.png",
                 "evaluation.json"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["classes"] == CLASSES
    assert json.loads((run_dir / "evaluation.json").read_text())["images"] == len(kept["val"])

    evaluated = json.loads(run(classify, "eval", run_dir / "model.pt", data, "--json", "--device", "cpu",
                               "--workers", "0", "--quiet"))
    assert evaluated["images"] == len(kept["val"]) and (run_dir / "eval-val" / "top_losses.png").is_file()

    unseen = tmp_path / "new.jpg"  # the fake's 99th cat: past the 12 results it serves, so never collected
    unseen.write_bytes(fake.fake.image("cat/99"))
    assert unseen.read_bytes() not in {path.read_bytes() for path in kept["train"] + kept["val"]}
    predicted = json.loads(run(classify, "predict", run_dir / "model.pt", unseen, "--top-k", "2", "--json",
                               "--device", "cpu"))
    [prediction] = predicted["predictions"]
    assert prediction["path"] == str(unseen) and not predicted["errors"]
    assert sorted(guess["class"] for guess in prediction["top"]) == CLASSES
    assert sum(guess["probability"] for guess in prediction["top"]) == pytest.approx(1.0, abs=1e-5)

