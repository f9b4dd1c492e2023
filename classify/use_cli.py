"""`classify eval`, `classify predict`, `classify export`: using a trained `model.pt`, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import click
from tqdm import tqdm

from .checkpoint import CheckpointError, load_model
from .console import one_line, route_warnings
from .data import DataError, load_split
from .devices import DeviceError, resolve_device
from .evaluate import EvaluationError, evaluate_model, format_report
from .export import FORMATS, ExportError, default_path, export_model
from .models import ModelError
from .predict import Failure, Prediction, expand_paths, format_table, predict_paths

USER_ERRORS = (CheckpointError, DataError, DeviceError, EvaluationError, ExportError, ModelError)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

model_argument = click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
device_option = click.option("--device", default="auto", show_default=True,
                             help="auto (CUDA when present), cpu, cuda or cuda:N.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")


@click.command("eval", context_settings=CONTEXT)
@model_argument
@click.argument("data", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", default="val", show_default=True,
              help="Which split of DATA to evaluate (DATA/<split>/<class>/); ignored when DATA itself holds the "
                   "class folders.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for confusion.png, top_losses.png, predictions.png and evaluation.json. "
                   "Default: eval-<split> (or eval-<DATA folder name>) beside MODEL.")
@device_option
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Images per batch.")
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Processes decoding images in parallel (0: in the main process).")
@json_option
@quiet_option
def eval_command(model, data, split, out, device, batch_size, workers, as_json, quiet) -> None:  # type: ignore[no-untyped-def]
    """Measure MODEL on a labelled ImageFolder split: accuracy, per-class precision/recall/F1 and plots.

    \b
    Examples:
      classify eval runs/resnet18/model.pt data/            # data/val/<class>/...
      classify eval runs/resnet18/model.pt data/ --split train --json
      classify eval runs/resnet18/model.pt photos/test/     # photos/test/<class>/...

    Unreadable images are left out with one warning. Classes in DATA that the model
    was not trained on are an error; classes missing from DATA simply score 0 support.
    """
    route_warnings()
    try:
        model_file = load_model(model)
        dataset = load_split(data, split, model_file.classes)
        out = out or Path(model).parent / f"eval-{split if (data / split).is_dir() else data.name}"
        summary = evaluate_model(model_file, dataset, out, device=resolve_device(device), batch_size=batch_size,
                                 workers=workers, progress=not quiet)
    except USER_ERRORS as error:
        raise one_line(error) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    click.echo(format_report(summary))
    click.echo(f"wrote {', '.join(Path(path).name for path in summary['files'].values())} to {out}")


@click.command(context_settings=CONTEXT)
@model_argument
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-k", "--top-k", "top", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many of the most probable classes to show per image.")
@device_option
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Images per batch.")
@json_option
@quiet_option
def predict(model, paths, top, device, batch_size, as_json, quiet) -> None:  # type: ignore[no-untyped-def]
    """Label images with MODEL: each PATH is an image file or a folder searched recursively
    (hidden files and curate's _quarantine left out).

    \b
    Examples:
      classify predict runs/resnet18/model.pt photo.jpg
      classify predict runs/resnet18/model.pt holiday/ --top-k 1 --json

    A file that cannot be read gets a one-line `error:` on stderr and the others
    carry on. The exit code is 0 when at least one image was labelled, 1 when none was.
    """
    try:
        model_file = load_model(model)
        items = expand_paths(paths)
        results = list(tqdm(predict_paths(model_file, items, top=top, device=resolve_device(device),
                                          batch_size=batch_size),
                            total=len(items), desc="predict", unit="img", disable=quiet or len(items) < 2 * batch_size,
                            leave=False))
    except USER_ERRORS as error:
        raise one_line(error) from None
    predictions = [result for result in results if isinstance(result, Prediction)]
    failures = [result for result in results if isinstance(result, Failure)]
    for failure in failures:
        click.echo(f"error: {failure.path}: {failure.error}", err=True)
    if as_json:
        click.echo(json.dumps({"model": str(model), "predictions": [p.to_json() for p in predictions],
                               "errors": [f.to_json() for f in failures]}, indent=2, ensure_ascii=False))
    elif predictions:
        click.echo(format_table(predictions))
    if not predictions:
        raise click.ClickException("no image could be labelled" if items else "no image files found in the folders")


@click.command(context_settings=CONTEXT)
@model_argument
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="torchscript (torch.jit, for C++ and mobile) or onnx (needs pip install 'imgharvest[onnx]').")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write. Default: beside MODEL as model.torchscript.pt or model.onnx.")
@json_option
def export(model, fmt, out, as_json) -> None:  # type: ignore[no-untyped-def]
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
    try:
        model_file = load_model(model)
        result = export_model(model_file, out or default_path(model, fmt), fmt)
    except USER_ERRORS as error:
        raise one_line(error) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    elif result.checked_with:
        click.echo(f"wrote {result.path} ({fmt}); outputs match the checkpoint within {result.max_abs_diff:.1e} "
                   f"(checked with {result.checked_with})")
    else:
        click.echo(f"wrote {result.path} ({fmt}); outputs not checked: install onnxruntime to compare them")
