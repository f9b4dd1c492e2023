"""`classify eval`, `classify predict`, `classify export`: using a trained `model.pt`, through `classify.api`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import api
from .console import CONTEXT, EXIT_CODES, command_edge
from .evaluation import EvalOptions, format_report
from .exporting import FORMATS
from .inference import InferenceOptions
from .prediction import format_table

model_argument = click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
device_option = click.option("--device", default=InferenceOptions.device, show_default=True,
                             help="auto (CUDA when present), cpu, cuda or cuda:N.")
batch_option = click.option("--batch-size", type=click.IntRange(min=1), default=InferenceOptions.batch_size,
                            show_default=True, help="Images per batch.")
workers_option = click.option("--workers", type=click.IntRange(min=0), default=InferenceOptions.workers,
                              show_default=True,
                              help="Processes decoding images in parallel (0: in the main process; none start for "
                                   "a single batch).")
top_option = click.option("-k", "--top-k", type=click.IntRange(min=1), default=InferenceOptions.top_k,
                          show_default=True, help="How many of the most probable classes to report per image.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")


@click.command("eval", context_settings=CONTEXT, epilog=EXIT_CODES)
@model_argument
@click.argument("data", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", default=EvalOptions.split, show_default=True,
              help="Which split of DATA to evaluate (DATA/<split>/<class>/); ignored when DATA itself holds the "
                   "class folders.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for confusion.png, top_losses.png, predictions.png and evaluation.json. "
                   "Default: eval-<split> (or eval-<DATA folder name>) beside MODEL.")
@device_option
@batch_option
@workers_option
@top_option
@json_option
@quiet_option
@command_edge
def eval_command(model: Path, data: Path, split: str, out: Path | None, device: str, batch_size: int, workers: int,
                 top_k: int, as_json: bool, quiet: bool) -> None:
    """Measure MODEL on a labelled ImageFolder split: accuracy, per-class precision/recall/F1, each image's top
    classes (the same probabilities `classify predict` gives) and plots.

    \b
    Examples:
      classify eval runs/resnet18/model.pt data/            # data/val/<class>/...
      classify eval runs/resnet18/model.pt data/ --split train --json
      classify eval runs/resnet18/model.pt photos/test/     # photos/test/<class>/...

    Unreadable images are left out with one warning. Classes in DATA that the model
    was not trained on are an error; classes missing from DATA simply score 0 support.
    """
    evaluation = api.evaluate(model, data, split=split, out=out, device=device, batch_size=batch_size,
                              workers=workers, top_k=top_k, progress=not quiet)
    if as_json:
        click.echo(json.dumps(evaluation.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(format_report(evaluation.to_json(per_image=False)))
    report = evaluation.files["report"]
    click.echo(f"wrote {', '.join(Path(path).name for path in evaluation.files.values())} to {Path(report).parent}")


@click.command(context_settings=CONTEXT, epilog=EXIT_CODES)
@model_argument
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@top_option
@device_option
@batch_option
@workers_option
@json_option
@quiet_option
@command_edge
def predict(model: Path, paths: tuple[Path, ...], top_k: int, device: str, batch_size: int, workers: int,
            as_json: bool, quiet: bool) -> None:
    """Label images with MODEL: each PATH is an image file or a folder searched recursively
    (hidden files and curate's _quarantine left out).

    \b
    Examples:
      classify predict runs/resnet18/model.pt photo.jpg
      classify predict runs/resnet18/model.pt holiday/ --top-k 1 --json

    A file that cannot be read gets a one-line `error:` on stderr and the others
    carry on; at least one labelled image counts as done (exit code 0).
    """
    result = api.predict(model, paths, top_k=top_k, device=device, batch_size=batch_size, workers=workers,
                         progress=not quiet)
    for failure in result.failures:
        click.echo(f"error: {failure.path}: {failure.error}", err=True)
    if as_json:
        click.echo(json.dumps({"model": str(model), **result.to_json()}, indent=2, ensure_ascii=False))
    elif result.predictions:
        click.echo(format_table(result.predictions))
    if not result.predictions:
        raise click.ClickException("no image could be labelled" if result.failures
                                   else "no image files found in the folders")


@click.command(context_settings=CONTEXT, epilog=EXIT_CODES)
@model_argument
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="torchscript (torch.jit, for C++ and mobile) or onnx (needs pip install 'imgharvest[onnx]').")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write. Default: beside MODEL as model.torchscript.pt or model.onnx.")
@json_option
@command_edge
def export(model: Path, fmt: str, out: Path | None, as_json: bool) -> None:
    """Export MODEL for use without this tool, and check the export gives the checkpoint's outputs.

    \b
    The exported model takes a float32 batch (N, 3, crop, crop), resized, centre-cropped
    and normalised as recorded in MODEL, and returns logits. Class names and that
    preprocessing are stored in the file as JSON under the metadata key `imgharvest`.

    \b
    Examples:
      classify export runs/resnet18/model.pt --format onnx
      classify export runs/resnet18/model.pt --format torchscript --out deploy/model.pt
    """
    result = api.export(model, fmt, out=out)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    elif result.checked_with:
        click.echo(f"wrote {result.path} ({fmt}); outputs match the checkpoint within {result.max_abs_diff:.1e} "
                   f"(checked with {result.checked_with})")
    else:
        click.echo(f"wrote {result.path} ({fmt}); outputs not checked: install onnxruntime to compare them")
