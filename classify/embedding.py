"""Image features from a frozen backbone: what enters its final layer, L2-normalised, for probes, similarity
search and off-topic scores. Features come from the same inference path as `predict`, and are cached by the
image's content hash and the backbone's identity."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision
from tqdm import tqdm

from .checkpoint import ModelFile, Preprocess, load_model
from .devices import resolve_device
from .errors import ClassifyError
from .feature_cache import FeatureCache
from .inference import infer_batches
from .models import create_model
from .prediction import Failure

# Images run through the model between two writes to the cache: an interruption loses at most this many.
CACHE_CHUNK = 1024
# A torchvision backbone is built with one output: its head is never used, only what enters it.
FEATURES_ONLY = ["features"]
RANDOM_INIT_SEED = 0  # `weights="none"` is a fixed random network, so its features can be cached like any other


@dataclass(frozen=True)
class EmbedOptions:
    """How `embed` runs the backbone. `weights` applies to a torchvision model name only (DEFAULT, none or a
    path, as `classify train --weights`); `cache` is a SQLite file, None for no cache."""

    weights: str | None = None
    device: str = "auto"
    batch_size: int = 64
    workers: int = 2
    cache: str | os.PathLike | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.workers < 0:
            raise ClassifyError("batch_size must be at least 1, workers at least 0")


@dataclass
class Embeddings:
    """Features of the images that decoded, in input order, with each one's content hash; and the files that did
    not, with the reason. `backbone` is the identity the cache keys them by."""

    paths: list[Path]
    vectors: np.ndarray
    digests: list[str]
    failures: list[tuple[Path, str]] = field(default_factory=list)
    backbone: str = ""


@dataclass(frozen=True)
class Backbone:
    model_file: ModelFile
    identity: str


def load_backbone(backbone: str | os.PathLike | ModelFile, weights: str | None = None) -> Backbone:
    """A `model.pt` (path or loaded) as it is, or a torchvision model name with `weights` (default: DEFAULT).

    The identity is a digest of the architecture, preprocessing and every weight, so it names exactly what
    computes the features, however the file was named or re-saved.
    """
    if isinstance(backbone, ModelFile) or Path(backbone).suffix == ".pt" or Path(backbone).is_file():
        if weights is not None:
            raise ClassifyError(f"weights={weights!r} applies to a torchvision model name, not to the model file "
                                f"{backbone if not isinstance(backbone, ModelFile) else backbone.path}")
        model_file = backbone if isinstance(backbone, ModelFile) else load_model(backbone)
    else:
        model_file = torchvision_backbone(str(backbone), weights or "DEFAULT")
    return Backbone(model_file, model_identity(model_file))


def torchvision_backbone(arch: str, weights: str) -> ModelFile:
    """`arch` with pretrained, local or (seeded) random weights, and the preprocessing its weights expect."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        model, _ = create_model(arch, len(FEATURES_ONLY), weights)
    preprocess = Preprocess()
    if weights == "DEFAULT":
        transforms = torchvision.models.get_model_weights(arch).DEFAULT.transforms()
        preprocess = Preprocess(mean=tuple(transforms.mean), std=tuple(transforms.std))
    return ModelFile(arch, FEATURES_ONLY, model.state_dict(), preprocess)


def model_identity(model_file: ModelFile) -> str:
    """sha256 over the architecture, the preprocessing and every tensor's bytes, in name order."""
    digest = hashlib.sha256(f"{model_file.arch}|{model_file.preprocess}".encode())
    for name in sorted(model_file.state_dict):
        digest.update(name.encode())
        digest.update(model_file.state_dict[name].detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_files(backbone: Backbone, items: Sequence[Path | Failure], settings: EmbedOptions) -> Embeddings:
    """Hash every file, take what the cache has, run the backbone over the rest (each distinct content once), and
    put the input back in order."""
    failures: dict[Path, str] = {item.path: item.error for item in items if isinstance(item, Failure)}
    digests: dict[Path, str] = {}
    files = [item for item in items if not isinstance(item, Failure)]
    for path in tqdm(files, desc="hash", unit="img", leave=False, disable=not settings.progress or len(files) < 2):
        try:
            digests[path] = file_digest(path)
        except OSError as error:
            failures[path] = error.strerror or type(error).__name__
    cache = FeatureCache(settings.cache) if settings.cache is not None else None
    try:
        known = cache.get(backbone.identity, list(digests.values())) if cache else {}
        first = {digest: path for path, digest in reversed(digests.items())}  # one file per content
        todo = [path for digest, path in first.items() if digest not in known]
        known.update(_run(backbone, todo, digests, cache, settings, failures))
    finally:
        if cache:
            cache.close()
    kept = [path for path in files if path in digests and digests[path] in known]
    failed = [(path, failures.get(path) or failures[first[digests[path]]]) for path in _input_order(items)
              if path in failures or (path in digests and digests[path] not in known)]
    dimension = next(iter(known.values())).shape[0] if known else 0
    vectors = np.stack([known[digests[path]] for path in kept]) if kept else np.zeros((0, dimension), np.float32)
    return Embeddings(kept, vectors, [digests[path] for path in kept], failed, backbone.identity)


def _input_order(items: Iterable[Path | Failure]) -> list[Path]:
    return [item.path if isinstance(item, Failure) else item for item in items]


def _run(backbone: Backbone, todo: list[Path], digests: dict[Path, str], cache: FeatureCache | None,
         settings: EmbedOptions, failures: dict[Path, str]) -> dict[str, np.ndarray]:
    """Features of the `todo` files in one pass over them, written to the cache every CACHE_CHUNK images."""
    found: dict[str, np.ndarray] = {}
    pending: list[tuple[str, np.ndarray]] = []
    batches = infer_batches(backbone.model_file, todo, device=resolve_device(settings.device),
                            batch_size=settings.batch_size, workers=settings.workers, features=True)
    with tqdm(total=len(todo), desc="embed", unit="img", disable=not settings.progress or not todo) as bar:
        for batch in batches:
            vectors = normalise(np.asarray(batch.features))
            pending += [(digests[todo[index]], vector) for index, vector in zip(batch.indices.tolist(), vectors,
                                                                                 strict=True)]
            failures.update((todo[index], reason) for index, reason in batch.unreadable)
            if cache and len(pending) >= CACHE_CHUNK:
                cache.put(backbone.identity, pending)
                found.update(pending)
                pending = []
            bar.update(len(batch.indices) + len(batch.unreadable))
    if cache and pending:
        cache.put(backbone.identity, pending)
    found.update(pending)
    return found

