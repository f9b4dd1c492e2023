"""The Python API: one call per step, each taking its command's options as keyword arguments and returning a
typed result. The commands are thin layers over these calls.

Every call's keyword options are the fields of one options dataclass, where their defaults are written once;
`inspect.signature` (and so a notebook's completion) shows them, and an unknown keyword is an OptionError.
`model` arguments take a path to a `model.pt` or a ModelFile already loaded with `load_model`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ParamSpec, TypeVar

from .baselines.experiment import BaselineOptions, run_experiment
from .baselines.train import BaselineResult
from .checkpoint import ModelFile, load_model
from .crossval import OWN_TRAIN_OPTIONS, CrossValidation, CrossValOptions
from .crossval import cross_validate as run_cross_validation
from .data import load_split
from .devices import resolve_device
from .embedding import Embeddings, EmbedOptions, embed_files, load_backbone
from .errors import ClassifyError, OptionError
from .evaluation import EvalOptions, Evaluation, evaluate_model
from .exporting import ExportOptions, ExportResult, default_path, export_model
from .finetune import STATE_NAME, TrainConfig, TrainResult, find_run, read_state, resume_config, run_dir_for
from .finetune import train as run_training
from .inference import InferenceOptions
from .prediction import Failure, Prediction, Predictions, expand_paths, predict_paths

P = ParamSpec("P")
R = TypeVar("R")
PathLike = str | os.PathLike
ModelLike = PathLike | ModelFile


def keyword_options(*options: type, exclude: Iterable[str] = ()) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Give a function taking `**options` the fields of the dataclasses `options` as keyword-only parameters with
    their defaults (the first dataclass's where two share a name), for `help()` and completion, and refuse any
    other keyword with a suggestion."""
    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(function)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        taken = {p.name for p in own} | set(exclude)
        added: list[inspect.Parameter] = []
        for fields in map(dataclasses.fields, options):
            for field in fields:
                if field.init and field.name not in taken:
                    taken.add(field.name)
                    added.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default,
                                                   annotation=field.type))
        allowed = {p.name for p in own + added}

        @functools.wraps(function)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            for name in kwargs:
                if name not in allowed:
                    close = difflib.get_close_matches(name, sorted(allowed), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else f"; it takes {', '.join(sorted(allowed))}"
                    raise OptionError(f"{function.__name__}() got an unknown option {name!r}{hint}")
            return function(*args, **kwargs)

        checked.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        return checked
    return decorate


def as_model(model: ModelLike) -> ModelFile:
    return model if isinstance(model, ModelFile) else load_model(model)


@keyword_options(TrainConfig, exclude=("data",))
def train(data: PathLike | None = None, *, resume: PathLike | None = None, progress: bool = True,
          **options: object) -> TrainResult:
    """Fine-tune a torchvision model on the ImageFolder `data` into `runs/<name>/`, as `classify train` does, and
    return the epochs' history with the best model's evaluation on the validation split.

    `resume` continues an interrupted run (a run folder, or its name under `runs`) with its own settings; only
    `data`, `epochs`, `patience`, `device`, `workers`, `compile` and `runs` may then be given. Under torchrun every
    process returns the same result.
    """
    if resume is not None:
        run_dir = find_run(os.fspath(resume), os.fspath(options.get("runs", TrainConfig.runs)))  # type: ignore[arg-type]
        state = read_state(run_dir)
        changes = {**options, **({"data": os.fspath(data)} if data is not None else {})}
        config = resume_config(state["config"], changes)
    else:
        if data is None:
            raise ClassifyError("missing DATA, the ImageFolder to train on (or resume a run)")
        state = None
        config = TrainConfig(data=data, **options)  # type: ignore[arg-type]
        run_dir = run_dir_for(config)
    try:
        return run_training(config, run_dir, state=state, progress=progress)
    except KeyboardInterrupt as interruption:
        if (run_dir / STATE_NAME).is_file():
            interruption.add_note(f"continue with: classify train --resume {run_dir}")
        raise


@keyword_options(EvalOptions)
def evaluate(model: ModelLike, data: PathLike, **options: object) -> Evaluation:
    """Measure `model` on the labelled split `data/<split>/<class>/` (or `data/<class>/`), as `classify eval` does:
    accuracy, per-class precision/recall/F1, each image's top classes, and the pictures written to `out`."""
    settings = EvalOptions(**options)  # type: ignore[arg-type]
    model_file = as_model(model)
    data = Path(data)
    dataset = load_split(data, settings.split, model_file.classes)
    out = Path(settings.out) if settings.out is not None else default_eval_dir(model_file, data, settings.split)
    return evaluate_model(model_file, dataset, out, device=resolve_device(settings.device),
                          batch_size=settings.batch_size, workers=settings.workers, top_k=settings.top_k,
                          progress=settings.progress)


def default_eval_dir(model_file: ModelFile, data: Path, split: str) -> Path:
    """`eval-<split>` (or `eval-<data folder name>`) beside the model file, or in the current folder."""
    beside = model_file.path.parent if model_file.path is not None else Path()
    return beside / f"eval-{split if (data / split).is_dir() else data.name}"


@keyword_options(InferenceOptions)
def predict(model: ModelLike, images: PathLike | Iterable[PathLike], **options: object) -> Predictions:
    """The `top_k` most probable classes of each image, as `classify predict` does; `images` are files or folders
    (searched recursively). A missing or unreadable file becomes a Failure and the others are still labelled."""
    settings = InferenceOptions(**options)  # type: ignore[arg-type]
    model_file = as_model(model)
    paths = [images] if isinstance(images, str | os.PathLike) else list(images)
    results = predict_paths(model_file, expand_paths(Path(path) for path in paths), top_k=settings.top_k,
                            device=resolve_device(settings.device), batch_size=settings.batch_size,
                            workers=settings.workers, progress=settings.progress)
    return Predictions([r for r in results if isinstance(r, Prediction)], [r for r in results if isinstance(r, Failure)])


@keyword_options(EmbedOptions)
def embed(paths: PathLike | Iterable[PathLike], backbone: PathLike | ModelFile, **options: object) -> Embeddings:
    """L2-normalised features of image files (or of the images in folders) from a frozen `backbone`: a `model.pt`
    written by `classify train`, or a torchvision model name with `weights` (DEFAULT, none or a path). With
    `cache`, features are kept by content hash, so only new images are run. A missing or unreadable file becomes
    a failure and the others are still embedded."""
    settings = EmbedOptions(**options)  # type: ignore[arg-type]
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    return embed_files(load_backbone(backbone, settings.weights), expand_paths(Path(path) for path in given),
                       settings)


@keyword_options(CrossValOptions, TrainConfig, exclude=OWN_TRAIN_OPTIONS)
def cross_validate(paths: Iterable[PathLike], labels: Iterable[int | str], classes: Iterable[str] | None = None,
                   **options: object) -> CrossValidation:
    """Out-of-sample class probabilities of every image by K-fold cross-validation, so no image is judged by a
    model that trained on it. `labels` are class names or indices into `classes` (default: the sorted names).

    mode="probe" fits a linear probe per fold on `backbone`'s features (as in `embed`, cached with `cache`);
    mode="finetune" runs `classify train` per fold, with train options (model, epochs, ...) as keywords.
    """
    own = {field.name for field in dataclasses.fields(CrossValOptions)}
    settings = CrossValOptions(**{k: v for k, v in options.items() if k in own})  # type: ignore[arg-type]
    return run_cross_validation(list(paths), list(labels), None if classes is None else list(classes), settings,
                                {k: v for k, v in options.items() if k not in own})


@keyword_options(ExportOptions)
def export(model: ModelLike, format: str, **options: object) -> ExportResult:
    """Write `model` as `format` (torchscript or onnx) to `out` (default: beside the model file), as `classify
    export` does, after checking the export gives the checkpoint's outputs."""
    settings = ExportOptions(**options)  # type: ignore[arg-type]
    model_file = as_model(model)
    if settings.out is not None:
        out = Path(settings.out)
    elif model_file.path is not None:
        out = default_path(model_file.path, format)
    else:
        raise ClassifyError("a model not loaded from a file has nowhere to be exported beside: pass out=PATH")
    return export_model(model_file, out, format)


@keyword_options(BaselineOptions)
def baseline(dataset: str | None = None, **options: object) -> BaselineResult:
    """Train and test a classic baseline on `dataset` (mnist, fashion-mnist, cifar10) or an ImageFolder `folder`,
    as `classify baseline` does, writing curves.png, confusion.png and results.json to `out`."""
    return run_experiment(dataset, BaselineOptions(**options))  # type: ignore[arg-type]
