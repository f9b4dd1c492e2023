"""Command-line edge of `classify`: options in, one-line errors and exit codes out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from .baselines.cli import baseline
from .checkpoint import CheckpointError
from .console import one_line, route_warnings
from .data import DataError
from .devices import DeviceError
from .evaluate import EvaluationError, format_report
from .models import WEIGHTS_CHOICES, ModelError
from .train import OPTIMIZERS, STATE_NAME, TrainConfig, TrainError, find_run, read_state, resume_config, run_dir_for
from .train import train as run_training
from .transforms import AUGMENTS
from .use_cli import eval_command, export, predict

USER_ERRORS = (CheckpointError, DataError, DeviceError, EvaluationError, ModelError, TrainError)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """Train, evaluate and use image classifiers on ImageFolder datasets."""


def _changed_options(context: click.Context) -> dict:
    """The TrainConfig fields the user set on the command line (not left at their defaults)."""
    names = {"data", *TrainConfig.__dataclass_fields__}
    return {name: value for name, value in context.params.items()
            if name in names and context.get_parameter_source(name) == ParameterSource.COMMANDLINE}


@main.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("data", required=False, type=click.Path(path_type=str))
@click.option("--model", default="resnet18", show_default=True,
              help="Any torchvision classification model: resnet18, resnet50, mobilenet_v3_large, efficientnet_b0, "
                   "convnext_tiny, ...; its final layer is replaced for the dataset's classes.")
@click.option("--weights", default="DEFAULT", show_default=True,
              help=f"Starting weights: {WEIGHTS_CHOICES}. DEFAULT downloads once into torch's cache.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True, help="Epochs in all.")
@click.option("--freeze-epochs", type=click.IntRange(min=0), default=1, show_default=True,
              help="First epochs training only the new head; then the whole model with discriminative learning "
                   "rates (earliest layers at lr/100). Ignored with --weights none.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images per step (per process under torchrun).")
@click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)), default="adamw", show_default=True,
              help="Optimiser; norms and biases get no weight decay.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate of the head. Default: 1e-3 (adamw, adam, rmsprop) or 0.01 (sgd).")
@click.option("--weight-decay", type=click.FloatRange(min=0),
              help="Default: 0.05 (adamw), 5e-4 (sgd), 1e-5 (rmsprop), 0 (adam).")
@click.option("--warmup", type=click.FloatRange(min=0, max=1), default=0.1, show_default=True,
              help="Share of each phase's steps with a linear warmup before the cosine decay.")
@click.option("--label-smoothing", type=click.FloatRange(min=0, max=1, max_open=True), default=0.1,
              show_default=True, help="Label smoothing of the training loss.")
@click.option("--clip-grad", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Clip the gradient norm to this (0: no clipping).")
@click.option("--image-size", type=click.IntRange(min=16), default=224, show_default=True,
              help="Training crop in pixels; evaluation resizes to 256/224 of it, then centre-crops.")
@click.option("--augment", type=click.Choice(AUGMENTS), default="default", show_default=True,
              help="light: random resized crop + flip; default: + small rotation, colour jitter, random erasing; "
                   "strong: + TrivialAugmentWide.")
@click.option("--balance", is_flag=True, help="Draw training images inversely to their class's size.")
@click.option("--val-fraction", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.2,
              show_default=True, help="When DATA has no val/: share of each class held out for validation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split, the order and the init.")
@click.option("--patience", type=click.IntRange(min=0), default=5, show_default=True,
              help="Stop after this many epochs without a lower validation loss (0: never).")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--workers", type=click.IntRange(min=0),
              help="Processes decoding images (0: in the main process). Default: CPU cores per process, at most 8.")
@click.option("--compile", is_flag=True, help="torch.compile the model (slow start, faster steps on GPUs).")
@click.option("--name", help="Run folder name under --runs. Default: the model's name, numbered when taken.")
@click.option("--runs", default="runs", show_default=True, type=click.Path(file_okay=False, path_type=str),
              help="Folder holding run folders.")
@click.option("--resume", "resume", metavar="RUN",
              help="Continue an interrupted run (a run folder, or its name under --runs) with its own settings; "
                   "only DATA, --epochs, --patience, --device, --workers, --compile and --runs may change.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-epoch lines.")
@click.pass_context
def train(context: click.Context, data: str | None, resume: str | None, as_json: bool, quiet: bool,
          **options: object) -> None:
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
    route_warnings()
    run_dir = None
    try:
        if resume:
            run_dir = find_run(resume, options["runs"])  # type: ignore[arg-type]
            state = read_state(run_dir)
            config = resume_config(state["config"], _changed_options(context))
        else:
            if data is None:
                raise click.UsageError("missing argument DATA (or --resume RUN)")
            state = None
            config = TrainConfig(data=data, **options)  # type: ignore[arg-type]
            run_dir = run_dir_for(config)
        result = run_training(config, run_dir, state=state, progress=not quiet)
    except USER_ERRORS as error:
        raise one_line(error) from None
    except KeyboardInterrupt:
        hint = f"; continue with: classify train --resume {run_dir}" if run_dir and (run_dir / STATE_NAME).is_file() \
            else ""
        click.echo(f"interrupted{hint}", err=True)
        sys.exit(130)
    if result is None:
        return
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    if result.evaluation:
        click.echo(format_report(result.evaluation))
    stopped = " (stopped early)" if result.stopped_early else ""
    click.echo(f"best epoch {result.best_epoch} of {result.epochs_run}{stopped}: validation accuracy "
               f"{result.best_val_acc:.1%}")
    files = sorted(path.name for path in Path(result.run_dir).iterdir() if not path.name.startswith("."))
    click.echo(f"wrote {', '.join(files)} to {result.run_dir}")


main.add_command(baseline)
main.add_command(eval_command)
main.add_command(predict)
main.add_command(export)
