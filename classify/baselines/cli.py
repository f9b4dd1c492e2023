"""`classify baseline`: the classic MNIST / Fashion-MNIST / CIFAR-10 baselines and a speed-run `fast` model."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import click
import numpy as np

from ..atomic import write_json
from ..devices import DeviceError, resolve_device
from ..plots import plot_confusion, plot_curves
from .data import BUILTIN, DatasetError, ImageData, load_builtin, load_folder
from .models import MODELS
from .recipe import OPTIMIZERS, make_recipe
from .train import BaselineResult, run_baseline

MODEL_HELP = ("mlp: the tutorial MLP (784-312-256-10 for grayscale, batch-normed 3072-1024-512-256-64-10 for colour); "
              "cnn: the tutorial CNN (5x5 conv 32-64 with a 1024-unit layer for grayscale, three conv blocks "
              "32-64-128 with a 768-unit layer for colour); cnn-small: conv 8-32 with a 49-unit layer and dropout; "
              "fast: a speed-run network (whitening, identity-initialised conv blocks, augmentation, label smoothing, "
              "lookahead, test-time augmentation).")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("dataset", type=click.Choice(BUILTIN), required=False)
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path),
              help="Use an ImageFolder tree with train/<class>/ and test/<class>/ instead of DATASET.")
@click.option("--model", "model_name", type=click.Choice(MODELS), default="cnn", show_default=True, help=MODEL_HELP)
@click.option("--optimizer", type=click.Choice(OPTIMIZERS),
              help="Optimizer; momentum is Nesterov SGD. Default: adam for mlp/cnn, momentum for fast.")
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the training set. Default: 10 "
              "(fast: 4 on grayscale, 10 on colour).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Default: 128 (fast: 1024).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Learning rate. Default per optimizer: sgd 0.1, momentum 0.01, adagrad 0.01, rmsprop/adam/adamw "
                   "0.001; for fast with sgd/momentum the speed-run rate scaled to the batch size.")
@click.option("--runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Independent trainings (seeds SEED, SEED+1, ...); accuracy is reported as mean and std.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first run.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--compile/--no-compile", "compile_model", default=None,
              help="torch.compile the model (default: on for CUDA, off for CPU); compile time is reported apart.")
@click.option("--limit", type=click.IntRange(min=1),
              help="Use only the first N training and N test images: a quick trial.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("data/datasets"),
              show_default=True, help="Where torchvision's datasets live (e.g. DATA_ROOT/MNIST/raw/).")
@click.option("--download/--no-download", default=True, show_default=True,
              help="Download a missing dataset (needs the network).")
@click.option("--image-size", type=click.IntRange(min=8),
              help="--folder only: resize images to this square size (default: keep a shared size, else 32).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for curves.png, confusion.png and results.json. Default: runs/baseline-DATASET-MODEL.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout instead of a summary.")
def baseline(dataset: str | None, folder: Path | None, model_name: str, optimizer: str | None, epochs: int | None,
             batch_size: int | None, lr: float | None, runs: int, seed: int, device: str,
             compile_model: bool | None, limit: int | None, data_root: Path, download: bool,
             image_size: int | None, out: Path | None, as_json: bool) -> None:
    """Train a classic baseline on DATASET (mnist, fashion-mnist, cifar10) or an ImageFolder (--folder) and
    report test accuracy, training seconds (data preparation and compilation apart), curves and a confusion
    matrix.

    \b
    Examples:
      classify baseline mnist --model mlp
      classify baseline cifar10 --model fast --runs 5
      classify baseline --folder data/cifar10-jpg --model fast
    """
    if (dataset is None) == (folder is None):
        raise click.UsageError("give exactly one of DATASET or --folder")
    try:
        torch_device = resolve_device(device)
        started = time.perf_counter()
        data = load_folder(folder, image_size) if folder else load_builtin(dataset, data_root, download)
        load_seconds = time.perf_counter() - started
    except (DeviceError, DatasetError) as error:
        raise click.ClickException(str(error)) from error
    data = ImageData(data.name, data.classes, data.train.head(limit), data.test.head(limit))
    grayscale = data.shape[0] == 1
    recipe = make_recipe(model_name, grayscale, optimizer, epochs, batch_size, lr)
    compile_model = torch_device.type == "cuda" if compile_model is None else compile_model
    # Digits change meaning when mirrored; clothes, objects and photos do not.
    flip = dataset != "mnist"
    result = run_baseline(data, model_name, recipe, torch_device, runs=runs, seed=seed, compile=compile_model,
                          flip=flip)
    result = dataclasses.replace(result, data_seconds=result.data_seconds + load_seconds)
    out = out or Path("runs") / f"baseline-{data.name}-{model_name}"
    summary = write_outputs(result, out)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(format_summary(summary, out))


def write_outputs(result: BaselineResult, out: Path) -> dict:
    """curves.png, confusion.png and results.json in `out`; returns the JSON summary."""
    out.mkdir(parents=True, exist_ok=True)
    title = f"{result.dataset} / {result.model} (val = test split)"
    summary = result.summary()
    summary["files"] = {
        "curves": str(plot_curves(result.history, out / "curves.png", title)),
        "confusion": str(plot_confusion(np.asarray(result.confusion), result.classes, out / "confusion.png", title)),
        "results": str(out / "results.json"),
    }
    write_json(summary, out / "results.json")
    return summary


def format_summary(summary: dict, out: Path) -> str:
    accuracy = f"{100 * summary['accuracy_mean']:.2f}%"
    if summary["runs"] > 1:
        accuracy += f" ± {100 * summary['accuracy_std']:.2f} over {summary['runs']} runs"
    return "\n".join([
        f"{summary['dataset']} / {summary['model']} on {summary['device']}: test accuracy {accuracy}",
        (f"training {summary['train_seconds_mean']:.2f} s per run ({summary['epochs']} epochs, batch "
         f"{summary['batch_size']}, {summary['optimizer']} lr {summary['lr']:.4g})"),
        (f"apart from training: data loading and preparation {summary['data_seconds']:.2f} s, compilation "
         f"{summary['compile_seconds']:.2f} s"),
        f"curves, confusion matrix and results.json in {out}",
    ])

