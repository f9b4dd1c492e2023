"""Command-line edge of `classify`: options in, one-line errors and exit codes out; the work is `classify.api`'s."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from . import api
from .baselines.cli import baseline
from .console import CONTEXT, EXIT_CODES, command_edge
from .distributed import from_environment
from .evaluation import format_report
from .finetune import OPTIMIZER_DEFAULTS, TrainConfig
from .models import WEIGHTS_CHOICES
from .optimizers import OPTIMIZERS
from .transforms import AUGMENTS
from .use_cli import eval_command, export, predict

DEFAULT_LR = ", ".join(f"{name} {defaults.lr:g}" for name, defaults in OPTIMIZER_DEFAULTS.items())
DEFAULT_DECAY = ", ".join(f"{name} {defaults.weight_decay:g}" for name, defaults in OPTIMIZER_DEFAULTS.items())


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES)
def main() -> None:
    """Train, evaluate and use image classifiers on ImageFolder datasets."""


def _given_options(context: click.Context) -> dict:
    """The options the user set on the command line; the others keep TrainConfig's defaults (or, with --resume,
    the run's own settings)."""
    return {name: value for name, value in context.params.items()
            if name in TrainConfig.__dataclass_fields__ and name != "data"
            and context.get_parameter_source(name) == ParameterSource.COMMANDLINE}


@main.command(context_settings=CONTEXT, epilog=EXIT_CODES)
@click.argument("data", required=False, type=click.Path(path_type=str))
@click.option("--model", default=TrainConfig.model, show_default=True,
              help="Any torchvision classification model: resnet18, resnet50, mobilenet_v3_large, efficientnet_b0, "
                   "convnext_tiny, ...; its final layer is replaced for the dataset's classes.")
@click.option("--weights", default=TrainConfig.weights, show_default=True,
              help=f"Starting weights: {WEIGHTS_CHOICES}. DEFAULT downloads once into torch's cache.")
@click.option("--epochs", type=click.IntRange(min=1), default=TrainConfig.epochs, show_default=True,
              help="Epochs in all.")
@click.option("--freeze-epochs", type=click.IntRange(min=0), default=TrainConfig.freeze_epochs, show_default=True,
              help="First epochs training only the new head; then the whole model with discriminative learning "
                   "rates (earliest layers at lr/100). Ignored with --weights none.")
@click.option("--batch-size", type=click.IntRange(min=1), default=TrainConfig.batch_size, show_default=True,
              help="Images per step (per process under torchrun).")
@click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)), default=TrainConfig.optimizer, show_default=True,
              help=f"{'; '.join(f'{name}: {what}' for name, what in OPTIMIZERS.items())}. Norms and biases get no "
                   "weight decay.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help=f"Peak learning rate of the head. Default per optimizer: {DEFAULT_LR}.")
@click.option("--weight-decay", type=click.FloatRange(min=0), help=f"Default per optimizer: {DEFAULT_DECAY}.")
@click.option("--warmup", type=click.FloatRange(min=0, max=1), default=TrainConfig.warmup, show_default=True,
              help="Share of each phase's steps with a linear warmup before the cosine decay.")
@click.option("--label-smoothing", type=click.FloatRange(min=0, max=1, max_open=True),
              default=TrainConfig.label_smoothing, show_default=True, help="Label smoothing of the training loss.")
@click.option("--clip-grad", type=click.FloatRange(min=0), default=TrainConfig.clip_grad, show_default=True,
              help="Clip the gradient norm to this (0: no clipping).")
@click.option("--image-size", type=click.IntRange(min=16), default=TrainConfig.image_size, show_default=True,
              help="Training crop in pixels; evaluation resizes to 256/224 of it, then centre-crops.")
@click.option("--augment", type=click.Choice(AUGMENTS), default=TrainConfig.augment, show_default=True,
              help="light: random resized crop + flip; default: + small rotation, colour jitter, random erasing; "
                   "strong: + TrivialAugmentWide.")
@click.option("--balance", is_flag=True, default=TrainConfig.balance,
              help="Draw training images inversely to their class's size.")
@click.option("--val-fraction", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              default=TrainConfig.val_fraction, show_default=True,
              help="When DATA has no val/: share of each class held out for validation.")
@click.option("--seed", type=int, default=TrainConfig.seed, show_default=True,
              help="Seed of the split, the order and the init.")
@click.option("--patience", type=click.IntRange(min=0), default=TrainConfig.patience, show_default=True,
              help="Stop after this many epochs without a lower validation loss (0: never).")
@click.option("--device", default=TrainConfig.device, show_default=True,
              help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--workers", type=click.IntRange(min=0),
              help="Processes decoding images (0: in the main process). Default: CPU cores per process, at most 8.")
@click.option("--compile", is_flag=True, default=TrainConfig.compile,
              help="torch.compile the model (slow start, faster steps on GPUs).")
@click.option("--name", help="Run folder name under --runs. Default: the model's name, numbered when taken.")
@click.option("--runs", default=TrainConfig.runs, show_default=True, type=click.Path(file_okay=False, path_type=str),
              help="Folder holding run folders.")
@click.option("--resume", "resume", metavar="RUN",
              help="Continue an interrupted run (a run folder, or its name under --runs) with its own settings; "
                   "only DATA, --epochs, --patience, --device, --workers, --compile and --runs may change.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-epoch lines.")
@click.pass_context
@command_edge
def train(context: click.Context, data: str | None, resume: str | None, as_json: bool, quiet: bool,
          **_: object) -> None:
    """Fine-tune a torchvision model on the ImageFolder DATA (DATA/train/<class>/, DATA/val/<class>/).

    \b
    Examples:
      classify train data/                                  # resnet18, pretrained, 10 epochs
      classify train data/ --model convnext_tiny --epochs 20 --augment strong
      classify train data/ --weights none --image-size 64   # from scratch, offline
      classify train --resume resnet18 --epochs 15          # continue (and extend) a run
      torchrun --nproc-per-node 4 -m classify train data/   # one process per GPU (DDP)

    \b
    Writes runs/<name>/: model.pt (weights, architecture, classes, preprocessing and
    metrics: all `classify predict` needs), metrics.json and curves.png per epoch,
    then confusion.png, top_losses.png, predictions.png and evaluation.json for the
    best model on the validation split; last.pt lets --resume continue. Without val/,
    --val-fraction of each class is held out. Unreadable images are skipped with one
    warning each. Ctrl-C leaves no half-written file, and --resume goes on from
    the last finished epoch.
    """
    if data is None and resume is None:
        raise click.UsageError("missing argument DATA (or --resume RUN)")
    try:
        result = api.train(data, resume=resume, progress=not quiet, **_given_options(context))
    except KeyboardInterrupt as interruption:
        hint = "".join(f"; {note}" for note in getattr(interruption, "__notes__", []))
        click.echo(f"interrupted{hint}", err=True)
        sys.exit(130)
    if not from_environment().main:
        return
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    if result.evaluation:
        click.echo(format_report(result.evaluation.to_json(per_image=False)))
    stopped = " (stopped early)" if result.stopped_early else ""
    click.echo(f"best epoch {result.best_epoch} of {result.epochs_run}{stopped}: validation accuracy "
               f"{result.best_val_acc:.1%}")
    files = sorted(path.name for path in Path(result.run_dir).iterdir() if not path.name.startswith("."))
    click.echo(f"wrote {', '.join(files)} to {result.run_dir}")


main.add_command(baseline)
main.add_command(eval_command)
main.add_command(predict)
main.add_command(export)
