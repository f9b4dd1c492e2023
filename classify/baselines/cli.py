"""`classify baseline`: the classic MNIST / Fashion-MNIST / CIFAR-10 baselines and a speed-run `fast` model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import api
from ..console import CONTEXT, EXIT_CODES, command_edge
from ..optimizers import OPTIMIZERS
from .data import BUILTIN
from .experiment import BaselineOptions, format_summary
from .models import MODELS
from .recipe import (
    FAST_BATCH,
    FAST_EPOCHS,
    FAST_OPTIMIZER,
    TUTORIAL_BATCH,
    TUTORIAL_EPOCHS,
    TUTORIAL_LR,
    TUTORIAL_OPTIMIZER,
)

MODEL_HELP = ("mlp: the tutorial MLP (784-312-256-10 for grayscale, batch-normed 3072-1024-512-256-64-10 for colour); "
              "cnn: the tutorial CNN (5x5 conv 32-64 with a 1024-unit layer for grayscale, three conv blocks "
              "32-64-128 with a 768-unit layer for colour); cnn-small: conv 8-32 with a 49-unit layer and dropout; "
              "fast: a speed-run network (whitening, identity-initialised conv blocks, augmentation, label smoothing, "
              "lookahead, test-time augmentation).")


@click.command(context_settings=CONTEXT, epilog=EXIT_CODES)
@click.argument("dataset", type=click.Choice(BUILTIN), required=False)
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path),
              help="Use an ImageFolder tree with train/<class>/ and test/<class>/ instead of DATASET.")
@click.option("--model", type=click.Choice(MODELS), default=BaselineOptions.model, show_default=True, help=MODEL_HELP)
@click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)),
              help=f"{'; '.join(f'{name}: {what}' for name, what in OPTIMIZERS.items())}. Default: "
                   f"{TUTORIAL_OPTIMIZER} for mlp/cnn, {FAST_OPTIMIZER} for fast.")
@click.option("--epochs", type=click.IntRange(min=1), help=f"Passes over the training set. Default: {TUTORIAL_EPOCHS} "
              f"(fast: {FAST_EPOCHS['grayscale']} on grayscale, {FAST_EPOCHS['colour']} on colour).")
@click.option("--batch-size", type=click.IntRange(min=1), help=f"Default: {TUTORIAL_BATCH} (fast: {FAST_BATCH}).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Learning rate. Default per optimizer: "
                   f"{', '.join(f'{name} {lr:g}' for name, lr in TUTORIAL_LR.items())}; for fast with sgd/momentum "
                   "the speed-run rate scaled to the batch size.")
@click.option("--runs", type=click.IntRange(min=1), default=BaselineOptions.runs, show_default=True,
              help="Independent trainings (seeds SEED, SEED+1, ...); accuracy is reported as mean and std.")
@click.option("--seed", type=int, default=BaselineOptions.seed, show_default=True, help="Seed of the first run.")
@click.option("--device", default=BaselineOptions.device, show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--compile/--no-compile", "compile", default=BaselineOptions.compile,
              help="torch.compile the model (default: on for CUDA, off for CPU); compile time is reported apart.")
@click.option("--limit", type=click.IntRange(min=1),
              help="Use only the first N training and N test images: a quick trial.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=BaselineOptions.data_root,
              show_default=True, help="Where torchvision's datasets live (e.g. DATA_ROOT/MNIST/raw/).")
@click.option("--download/--no-download", default=BaselineOptions.download, show_default=True,
              help="Download a missing dataset (needs the network).")
@click.option("--image-size", type=click.IntRange(min=8),
              help="--folder only: resize images to this square size (default: keep a shared size, else 32).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for curves.png, confusion.png and results.json. Default: runs/baseline-DATASET-MODEL.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout instead of a summary.")
@command_edge
def baseline(dataset: str | None, as_json: bool, **options: object) -> None:
    """Train a classic baseline on DATASET (mnist, fashion-mnist, cifar10) or an ImageFolder (--folder) and
    report test accuracy, training seconds (data preparation and compilation apart), curves and a confusion
    matrix.

    \b
    Examples:
      classify baseline mnist --model mlp
      classify baseline cifar10 --model fast --runs 5
      classify baseline --folder data/cifar10-jpg --model fast
    """
    if (dataset is None) == (options["folder"] is None):
        raise click.UsageError("give exactly one of DATASET or --folder")
    summary = api.baseline(dataset, **options).summary()
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))
