"""The audit's one contact with a model: out-of-sample probabilities and embeddings from `classify`'s public API.

Kept apart because importing `classify` loads torch, which a curate run without `--audit` never needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

import classify

from ..decide import Item
from ..options import CurateError
from .judge import Evidence

# Embeddings are cached here, by file content and backbone, so a later audit embeds only new images.
FEATURE_CACHE = ".imgharvest/features.sqlite"


def out_of_sample(root: Path, items: Sequence[Item], indices: Sequence[int], *, mode: str, backbone: str,
                  weights: str, folds: int, seed: int, device: str, batch_size: int, epochs: int, image_size: int,
                  cache: bool, progress: bool, workers: int | None) -> Evidence:
    """K-fold judgement of `items[indices]`, labelled by their class folders; classify's errors become CurateError.
    `workers` are the loader's processes (None: classify's default)."""
    classes = tuple(sorted({items[i].entry.class_name for i in indices}))
    if len(classes) < 2:
        raise CurateError(f"the audit compares classes, but {root} has {len(classes)}: it needs at least two")
    paths = [root / items[i].entry.path for i in indices]
    labels = [classes.index(items[i].entry.class_name) for i in indices]
    model_file = backbone.endswith(".pt")
    if mode == "finetune" and model_file:
        raise CurateError("the finetune audit trains a torchvision model per fold: give --backbone a model name "
                          "(resnet18, ...), or use --audit-mode probe with a model.pt")
    # The probe embeds with the backbone (a model.pt carries its own weights); finetune trains it as `classify train`.
    how = ({"backbone": backbone, "weights": None if model_file else weights} if mode == "probe"
           else {"model": backbone, "weights": weights, "epochs": epochs, "image_size": image_size})
    if workers is not None:
        how["workers"] = workers
    try:
        result = classify.cross_validate(
            paths, labels, classes, mode=mode, folds=folds, seed=seed, device=device, batch_size=batch_size,
            cache=root / FEATURE_CACHE if cache else None, progress=progress, **how)
    except classify.ClassifyError as error:
        raise CurateError(f"audit: {error}") from error
    by_path = {path: i for path, i in zip(paths, indices, strict=True)}
    embeddings = None if result.embeddings is None else np.asarray(result.embeddings, dtype=np.float32)
    return Evidence(
        classes=classes,
        indices=[by_path[Path(path)] for path in result.paths],
        labels=np.asarray(result.labels, dtype=np.int64),
        probabilities=np.asarray(result.probabilities, dtype=np.float64),
        embeddings=embeddings,
        failures=[(by_path[Path(path)], reason) for path, reason in result.failures],
    )
