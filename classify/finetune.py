"""Fine-tuning a torchvision model on an ImageFolder: the classic recipe, done carefully.

Two phases like the best-known high-level libraries: the new head alone for `freeze_epochs`, then everything with
discriminative learning rates (earliest layers slowest). AdamW (or another of `optimizers.py`), linear warmup then cosine
decay in each phase, label smoothing, gradient clipping, bf16 autocast and channels_last on CUDA, optional
torch.compile, early stopping on validation loss, the best model by validation accuracy, and a resumable state
after every epoch. Under torchrun each process trains on its share of every epoch (DDP) and only the first writes.
"""

from __future__ import annotations

import logging
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import distributed
from .atomic import write_json, write_torch
from .background import BackgroundWriter, snapshot
from .checkpoint import ModelFile, Preprocess, load_model, save_model
from .data import EpochSampler, ImageDataset, Split, collate, training_splits
from .distributed import Process
from .errors import ClassifyError
from .evaluation import Evaluation, evaluate_model
from .inference import autocast, memory_format
from .models import create_model, parameter_groups, set_body_trainable
from .optimizers import check_optimizer, make_optimizer
from .plots import plot_curves
from .transforms import AUGMENTS, eval_pipeline, train_pipeline

logger = logging.getLogger(__name__)

STATE_NAME = "last.pt"
# Body chunks for discriminative learning rates; their rates run geometrically from lr/100 up towards the head's lr.
BODY_CHUNKS = 3
LOWEST_LR_FACTOR = 0.01
# What `--resume` may change: where and how fast the rest runs, and how long; never the recipe itself.
RESUMABLE_CHANGES = ("data", "epochs", "patience", "device", "workers", "compile", "runs")


class TrainError(ClassifyError):
    """A run that cannot start or continue as asked."""


@dataclass(frozen=True)
class OptimizerDefaults:
    """Fine-tuning's learning rate and weight decay for one optimiser, and options of the torch class."""

    lr: float
    weight_decay: float
    options: dict = field(default_factory=dict)


# Keys are the shared vocabulary of classify.optimizers.
OPTIMIZER_DEFAULTS = {
    "adamw": OptimizerDefaults(1e-3, 0.05),
    "adam": OptimizerDefaults(1e-3, 0.0),
    "sgd": OptimizerDefaults(0.1, 5e-4),
    "momentum": OptimizerDefaults(0.01, 5e-4),
    "adagrad": OptimizerDefaults(0.01, 0.0),
    "rmsprop": OptimizerDefaults(1e-3, 1e-5, {"momentum": 0.9}),
}


@dataclass
class TrainConfig:
    """Every choice of a run; stored in its state so `--resume` continues with the same recipe."""

    data: str
    model: str = "resnet18"
    weights: str = "DEFAULT"
    epochs: int = 10
    freeze_epochs: int = 1
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float | None = None
    weight_decay: float | None = None
    warmup: float = 0.1
    label_smoothing: float = 0.1
    clip_grad: float = 1.0
    image_size: int = 224
    augment: str = "default"
    balance: bool = False
    val_fraction: float = 0.2
    seed: int = 0
    patience: int = 5
    device: str = "auto"
    workers: int | None = None
    compile: bool = False
    name: str | None = None
    runs: str = "runs"

    def __post_init__(self) -> None:
        # Paths are kept as strings: the config is stored as JSON-like data in the run's state.
        self.data, self.runs, self.weights = os.fspath(self.data), os.fspath(self.runs), os.fspath(self.weights)
        check_optimizer(self.optimizer)
        if self.augment not in AUGMENTS:
            raise TrainError(f"unknown augmentation {self.augment!r}; choose {', '.join(AUGMENTS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.image_size < 16:
            raise TrainError("--epochs and --batch-size must be at least 1, --image-size at least 16")

    @property
    def pretrained(self) -> bool:
        return self.weights.lower() != "none"

    @property
    def base_lr(self) -> float:
        return self.lr if self.lr is not None else OPTIMIZER_DEFAULTS[self.optimizer].lr


@dataclass
class TrainResult:
    """What `train` returns: where the run is, its epochs' history, and the best model's evaluation on the
    validation split."""

    run_dir: Path
    epochs_run: int
    best_epoch: int
    best_val_acc: float
    stopped_early: bool
    history: list[dict]
    evaluation: Evaluation | None = None

    def to_json(self) -> dict:
        return {"run": str(self.run_dir), "epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "best_val_acc": self.best_val_acc, "stopped_early": self.stopped_early, "history": self.history,
                "evaluation": self.evaluation.to_json() if self.evaluation else None}


def resume_config(saved: dict, changes: dict) -> TrainConfig:
    """The saved run's settings with the `changes` a resume may make; any other differing option is an error."""
    refused = sorted(name for name, value in changes.items()
                     if name not in RESUMABLE_CHANGES and saved.get(name) != value)
    if refused:
        raise TrainError(f"--resume continues a run with its own settings; {', '.join(refused)} cannot change "
                         f"(only {', '.join(RESUMABLE_CHANGES)} can)")
    known = {f.name for f in fields(TrainConfig)}
    return replace(TrainConfig(**{k: v for k, v in saved.items() if k in known}),
                   **{k: v for k, v in changes.items() if k in RESUMABLE_CHANGES})


def lr_factor(step: int, start: int, length: int, warmup: float) -> float:
    """Learning-rate multiplier at global `step` for a phase of `length` steps from `start`: linear warmup over
    `warmup` of the phase, then cosine decay to zero; zero outside the phase."""
    if not start <= step < start + length:
        return 0.0
    position = step - start
    warm = max(1, round(warmup * length)) if warmup > 0 else 0
    if position < warm:
        return (position + 1) / (warm + 1)
    progress = (position - warm) / max(1, length - warm)
    return 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class Phases:
    """Steps of the head-only phase and of the whole-model phase; a run from scratch has only the second."""

    head_steps: int
    all_steps: int

    def multiplier(self, group: str, scale: float, warmup: float):  # type: ignore[no-untyped-def]
        """The schedule of one parameter group: the head trains in both phases, the body only in the second."""
        def factor(step: int) -> float:
            later = lr_factor(step, self.head_steps, self.all_steps, warmup) * scale
            if group == "head":
                return lr_factor(step, 0, self.head_steps, warmup) + later
            return later
        return factor


def patience_after(lowest: float, bad_epochs: int, val_loss: float, tolerance: float = 1e-4) -> tuple[float, int]:
    """Early stopping's memory after an epoch: the lowest validation loss so far, and how many epochs in a row
    have failed to lower it by more than `tolerance`."""
    if val_loss < lowest - tolerance:
        return val_loss, 0
    return lowest, bad_epochs + 1


def run_dir_for(config: TrainConfig) -> Path:
    """`runs/<name>`; without a name, the model's name, numbered when taken (resnet18, resnet18-2, ...)."""
    runs = Path(config.runs)
    if config.name:
        return runs / config.name
    candidate, number = runs / config.model, 2
    while candidate.exists():
        candidate, number = runs / f"{config.model}-{number}", number + 1
    return candidate


def find_run(run: str, runs: str = "runs") -> Path:
    """`--resume RUN`: a run folder, or a name under `runs`."""
    for candidate in (Path(run), Path(runs) / run):
        if (candidate / STATE_NAME).is_file():
            return candidate
    raise TrainError(f"--resume {run}: no run to resume there (no {Path(run) / STATE_NAME} "
                     f"or {Path(runs) / run / STATE_NAME})")


def read_state(run_dir: Path) -> dict:
    path = run_dir / STATE_NAME
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many unrelated types for a damaged file
        raise TrainError(f"{path}: not a readable training state ({type(error).__name__})") from error


def preprocess_for(config: TrainConfig) -> Preprocess:
    """Evaluation resize and crop for the image size (the usual 256/224 ratio), with the weights' normalisation."""
    mean, std = Preprocess().mean, Preprocess().std
    if config.weights == "DEFAULT":
        try:
            transforms = torchvision.models.get_model_weights(config.model).DEFAULT.transforms()
            mean, std = tuple(transforms.mean), tuple(transforms.std)
        except (KeyError, ValueError, AttributeError):
            pass  # create_model reports the missing weights with a clearer message
    return Preprocess(resize=round(config.image_size * 256 / 224), crop=config.image_size, mean=mean, std=std)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_optimizer(model: nn.Module, head: set[str], config: TrainConfig, phases: Phases
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Parameter groups (body chunks and head, each split so norms and biases get no weight decay), and one
    step-wise scheduler covering both phases, so resuming restores the schedule with a single counter."""
    defaults = OPTIMIZER_DEFAULTS[config.optimizer]
    decay = defaults.weight_decay if config.weight_decay is None else config.weight_decay
    named = parameter_groups(model, head, BODY_CHUNKS) if config.pretrained else \
        [("head", list(model.named_parameters()))]
    bodies = len(named) - 1
    groups, lambdas = [], []
    for index, (name, parameters) in enumerate(named):
        scale = 1.0 if name == "head" else LOWEST_LR_FACTOR ** ((bodies - index) / bodies)
        for decayed in (True, False):
            chosen = [p for _, p in parameters if (p.ndim > 1) == decayed]
            if chosen:
                groups.append({"params": chosen, "weight_decay": decay if decayed else 0.0, "name": name})
                lambdas.append(phases.multiplier(name, scale, config.warmup))
    optimizer = make_optimizer(config.optimizer, groups, lr=config.base_lr, **defaults.options)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def _logits(outputs) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Models with auxiliary heads (inception_v3, googlenet) return a named tuple while training."""
    return outputs.logits if hasattr(outputs, "logits") else outputs


class Trainer:
    """One process's share of a run: data, model, optimiser and the epoch loop."""

    def __init__(self, config: TrainConfig, process: Process, device: torch.device, run_dir: Path,
                 writer: BackgroundWriter, progress: bool = True) -> None:
        self.config, self.process, self.device, self.run_dir = config, process, device, run_dir
        self.writer = writer
        self.progress = progress and process.main
        self.cuda = device.type == "cuda"
        self.memory_format = memory_format(device)
        self.train_split, self.val_split, self.carved = training_splits(Path(config.data), config.val_fraction,
                                                                        config.seed)
        self.classes = self.train_split.classes
        if self.carved and self.progress:
            tqdm.write(f"no val/ in {config.data}: holding out {config.val_fraction:.0%} of each class for "
                       f"validation (--seed {config.seed})", file=sys.stderr)
        self.preprocess = preprocess_for(config)
        seed_everything(config.seed)
        if not process.main:
            distributed.barrier(process)  # the main process downloads pretrained weights once for everyone
        self.model, self.head = create_model(config.model, len(self.classes), config.weights)
        if process.main:
            distributed.barrier(process)
        self.model = self.model.to(device, memory_format=self.memory_format)
        self.train_loader = self._train_loader()
        self.val_loader = self._val_loader()
        steps = len(self.train_loader)
        frozen = min(config.freeze_epochs, config.epochs) if config.pretrained else 0
        self.frozen_epochs = frozen
        self.phases = Phases(frozen * steps, (config.epochs - frozen) * steps)
        self.optimizer, self.scheduler = build_optimizer(self.model, self.head, config, self.phases)
        self.history: list[dict] = []
        self.best = {"epoch": 0, "val_acc": -1.0, "val_loss": math.inf}
        self.lowest_val_loss, self.bad_epochs, self.epoch = math.inf, 0, 0
        self.reported: set[str] = set()
        self.net: nn.Module = self.model
        self.net_frozen: bool | None = None

    @property
    def workers(self) -> int:
        if self.config.workers is not None:
            return self.config.workers
        return max(1, min(8, (os.cpu_count() or 1) // self.process.local_world_size))

    def _loader(self, dataset: ImageDataset, **options) -> DataLoader:  # type: ignore[no-untyped-def]
        return DataLoader(dataset, batch_size=self.config.batch_size, num_workers=self.workers, collate_fn=collate,
                          pin_memory=self.cuda, persistent_workers=self.workers > 0, **options)

    def _train_loader(self) -> DataLoader:
        dataset = ImageDataset(self.train_split, train_pipeline(self.preprocess, self.config.augment))
        self.sampler = EpochSampler(self.train_split.targets, seed=self.config.seed, balance=self.config.balance,
                                    replicas=self.process.world_size, rank=self.process.rank)
        # A last batch of one image breaks batch norm in training mode; dropping the remainder costs nothing
        # since every epoch's order differs.
        return self._loader(dataset, sampler=self.sampler, drop_last=len(self.sampler) > self.config.batch_size)

    def _val_loader(self) -> DataLoader:
        """This process's slice of the validation split, without padding, so sums over processes are exact."""
        share = Split(self.val_split.samples[self.process.rank::self.process.world_size], self.classes)
        return self._loader(ImageDataset(share, eval_pipeline(self.preprocess)))

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.history, self.best = state["epoch"], state["history"], state["best"]
        self.lowest_val_loss, self.bad_epochs = state["lowest_val_loss"], state["bad_epochs"]

    def state(self) -> dict:
        return {"config": asdict(self.config), "classes": self.classes, "epoch": self.epoch,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "history": self.history, "best": self.best,
                "lowest_val_loss": self.lowest_val_loss, "bad_epochs": self.bad_epochs}

    def _network(self, frozen: bool) -> nn.Module:
        """The model as trained in this phase: frozen or not, wrapped for DDP and compiled. DDP only synchronises
        parameters that require gradients when it is built, so it is rebuilt when the body thaws."""
        if self.net_frozen is not frozen:
            set_body_trainable(self.model, self.head, not frozen)
            net: nn.Module = self.model
            if self.process.distributed:
                net = DistributedDataParallel(net, device_ids=[self.device.index] if self.cuda else None)
            if self.config.compile:
                net = torch.compile(net)
            self.net, self.net_frozen = net, frozen
        return self.net

    def _report_failures(self, failures: list[tuple[str, str]]) -> None:
        for path, reason in failures:
            if path not in self.reported:
                self.reported.add(path)
                logger.warning("skipped unreadable image %s: %s", path, reason)

    def train_epoch(self) -> dict:
        net = self._network(self.epoch < self.frozen_epochs)
        net.train()
        self.sampler.set_epoch(self.epoch)
        seed_everything(self.config.seed * 1_000_003 + self.epoch * 1_009 + self.process.rank)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        total_loss = torch.zeros((), device=self.device, dtype=torch.float64)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        seen = 0
        bar = tqdm(self.train_loader, desc=f"epoch {self.epoch + 1}/{self.config.epochs}", unit="batch",
                   disable=not self.progress, leave=False, file=sys.stderr)
        for step, (images, targets, failures) in enumerate(bar):
            self._report_failures(failures)
            images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
            targets = targets.to(self.device, non_blocking=True)
            with autocast(self.device):
                logits = _logits(net(images))
                loss = F.cross_entropy(logits.float(), targets, label_smoothing=self.config.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.clip_grad > 0:
                nn.utils.clip_grad_norm_(trainable, self.config.clip_grad)
            self.optimizer.step()
            self.scheduler.step()
            total_loss += loss.detach() * len(targets)
            correct += (logits.detach().argmax(dim=1) == targets).sum()
            seen += len(targets)
            if self.progress and (step % 10 == 0 or step == len(self.train_loader) - 1):
                bar.set_postfix(loss=f"{total_loss.item() / seen:.3f}", acc=f"{correct.item() / seen:.1%}")
        loss_sum, right, count = distributed.all_sum([total_loss.item(), float(correct.item()), float(seen)],
                                                     self.process, self.device)
        if not math.isfinite(loss_sum):
            raise TrainError(f"the training loss became {loss_sum} in epoch {self.epoch + 1}; lower --lr "
                             "or keep --clip-grad on")
        return {"train_loss": loss_sum / max(count, 1), "train_acc": right / max(count, 1), "train_images": int(count)}

    @torch.inference_mode()
    def validate(self) -> dict:
        """Plain cross-entropy (no smoothing) and accuracy over the whole validation split, summed over processes."""
        self.model.eval()
        total_loss = torch.zeros((), device=self.device, dtype=torch.float64)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        seen = 0
        for images, targets, failures in tqdm(self.val_loader, desc="validate", unit="batch", leave=False,
                                              disable=not self.progress, file=sys.stderr):
            self._report_failures(failures)
            images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
            targets = targets.to(self.device, non_blocking=True)
            with autocast(self.device):
                logits = self.model(images).float()
            total_loss += F.cross_entropy(logits, targets, reduction="sum")
            correct += (logits.argmax(dim=1) == targets).sum()
            seen += len(targets)
        loss_sum, right, count = distributed.all_sum([total_loss.item(), float(correct.item()), float(seen)],
                                                     self.process, self.device)
        return {"val_loss": loss_sum / max(count, 1), "val_acc": right / max(count, 1)}

    def model_file(self, metrics: dict) -> ModelFile:
        return ModelFile(self.config.model, self.classes, self.model.state_dict(), self.preprocess, metrics)

    def fit(self) -> TrainResult:
        stopped = False
        while self.epoch < self.config.epochs and not stopped:
            started = time.perf_counter()
            phase = "head" if self.epoch < self.frozen_epochs else "all"
            entry = {"epoch": self.epoch + 1, "phase": phase, **self.train_epoch(), **self.validate()}
            entry["lr"] = max(group["lr"] for group in self.optimizer.param_groups)
            entry["seconds"] = time.perf_counter() - started
            entry["images_per_second"] = entry["train_images"] / entry["seconds"]
            self.history.append(entry)
            self.epoch += 1
            improved = (entry["val_acc"], -entry["val_loss"]) > (self.best["val_acc"], -self.best["val_loss"])
            if improved:
                self.best = {"epoch": entry["epoch"], "val_acc": entry["val_acc"], "val_loss": entry["val_loss"]}
            self.lowest_val_loss, self.bad_epochs = patience_after(self.lowest_val_loss, self.bad_epochs,
                                                                   entry["val_loss"])
            stopped = 0 < self.config.patience <= self.bad_epochs and self.epoch < self.config.epochs
            if self.process.main:
                self._write_epoch(entry, improved, stopped)
        return TrainResult(self.run_dir, self.epoch, self.best["epoch"], self.best["val_acc"], stopped, self.history)

    def _write_epoch(self, entry: dict, improved: bool, stopped: bool) -> None:
        """Snapshot this epoch's state now; write the files while the next epoch trains."""
        state = snapshot(self.state())
        best_model = None
        if improved:  # the weights just copied into `state`, not the live ones training goes on changing
            best_model = replace(self.model_file({"best": state["best"]}), state_dict=state["model"])
        metrics = {"classes": self.classes, "config": state["config"], "val_carved_from_train": self.carved,
                   "world_size": self.process.world_size, "best": state["best"], "epochs": state["history"]}
        title = f"{self.config.model} on {self.config.data}"

        def write() -> None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if best_model is not None:
                save_model(best_model, self.run_dir / "model.pt")
            write_json(metrics, self.run_dir / "metrics.json")
            plot_curves(metrics["epochs"], self.run_dir / "curves.png", title=title)
            write_torch(state, self.run_dir / STATE_NAME)

        self.writer.submit(write)
        if self.progress:
            note = " [best]" if improved else ""
            note += f"  (stopping: no lower val loss for {self.bad_epochs} epochs)" if stopped else ""
            tqdm.write(f"epoch {entry['epoch']}/{self.config.epochs} {entry['phase']:>4}  "
                       f"train loss {entry['train_loss']:.3f} acc {entry['train_acc']:.1%}  "
                       f"val loss {entry['val_loss']:.3f} acc {entry['val_acc']:.1%}  "
                       f"{entry['images_per_second']:.0f} img/s{note}", file=sys.stderr)


def train(config: TrainConfig, run_dir: Path, *, state: dict | None = None, progress: bool = True) -> TrainResult:
    """Train into `run_dir` (continuing from `state`, a run's `last.pt`, when given), then evaluate the best model
    on the validation split, writing its report and pictures beside it.

    Under torchrun every process returns the same result; only the first writes files and evaluates.
    """
    process, device = distributed.setup(config.device)
    try:
        with BackgroundWriter() as writer:
            trainer = Trainer(config, process, device, run_dir, writer, progress)
            if state is not None:
                if state["classes"] != trainer.classes:
                    raise TrainError(f"{config.data} has classes {trainer.classes}, the run to resume "
                                     f"{state['classes']}")
                trainer.restore(state)
                if trainer.epoch >= config.epochs:
                    raise TrainError(f"{run_dir} already ran {trainer.epoch} epochs; pass a larger --epochs to go on")
            elif process.main:
                run_dir.mkdir(parents=True, exist_ok=True)
            result = trainer.fit()
        evaluation = None
        if process.main:
            best = load_model(run_dir / "model.pt")
            evaluation = evaluate_model(best, trainer.val_split, run_dir, device=device, batch_size=config.batch_size,
                                        workers=trainer.workers, progress=progress)
            best.metrics = {"best": trainer.best, "evaluation": evaluation.to_json(per_image=False)}
            save_model(best, run_dir / "model.pt")
        result.evaluation = distributed.from_main(evaluation, process)  # type: ignore[assignment]
        return result
    finally:
        distributed.teardown()
