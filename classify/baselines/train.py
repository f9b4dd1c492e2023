"""Training and testing a baseline: the whole dataset sits on the device as uint8, batches are indexed,
normalised and augmented there, and only the training steps are timed.

On CUDA the steps run under bf16 autocast, channels_last and (by default) torch.compile; compilation happens
in a warm-up on real batches before the clock starts, and the weights are reset afterwards, so the timed run
is exactly the run a user would get.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .. import metrics
from . import augment
from .data import ImageData, TensorSplit
from .models import FastNet, build
from .recipe import Recipe, build_optimizer, set_rates, triangle

EVAL_BATCH = 2000
WHITENING_PIXELS = 5000 * 32 * 32
LOOKAHEAD_EVERY = 5  # steps between pulls towards the weight average
LOOKAHEAD_START = 0.3  # share of training before the average starts (and the whitening bias freezes)


@dataclass
class RunResult:
    accuracy: float
    train_seconds: float
    compile_seconds: float
    history: list[dict]
    confusion: np.ndarray


@dataclass
class DeviceData:
    """A dataset moved once to the device, with the statistics every batch is normalised by."""

    train: TensorSplit
    test: TensorSplit
    mean: torch.Tensor
    std: torch.Tensor
    flip: bool  # whether mirrored images are still the same class (not for digits)

    @classmethod
    def prepare(cls, data: ImageData, device: torch.device, flip: bool) -> DeviceData:
        train, test = (TensorSplit(split.images.to(device), split.labels.to(device)) for split in (data.train, data.test))
        mean, std = augment.channel_stats(train.images)
        return cls(train, test, mean, std.clamp_min(1e-3), flip)


@dataclass
class BaselineTrainer:
    """One training run of `model_name` under `recipe` on `data`."""

    model_name: str
    recipe: Recipe
    data: DeviceData
    num_classes: int
    device: torch.device
    compile: bool
    progress: Callable[[dict], None] = field(default=lambda entry: None)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> torch.autocast | nullcontext:
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda else nullcontext()

    def build_model(self) -> nn.Module:
        model = build(self.model_name, tuple(self.data.train.images.shape[1:]), self.num_classes).to(self.device)
        return model.to(memory_format=torch.channels_last) if self.cuda else model

    def batches(self, epoch: int, flips: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of shuffled, augmented training batches; the incomplete last batch is dropped so every
        step has the same shape (one compiled graph) and the same noise level."""
        train = self.data.train
        batch_size = min(self.recipe.batch_size, len(train.labels))
        order = torch.randperm(len(train.labels), device=self.device)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            index = order[start:start + batch_size]
            images = augment.normalise(train.images[index], self.data.mean, self.data.std)
            images = augment.random_translate(images, self.recipe.translate)
            if flips is not None:
                images = augment.flip_where(images, flips[index])
            if self.cuda:
                images = images.contiguous(memory_format=torch.channels_last)
            yield images, train.labels[index]

    def steps_per_epoch(self) -> int:
        return max(1, len(self.data.train.labels) // self.recipe.batch_size)

    def run(self, seed: int) -> RunResult:
        torch.manual_seed(seed)
        model = self.build_model()
        initial = copy.deepcopy(model.state_dict())
        step_model = torch.compile(model) if self.compile else model
        compile_seconds = self.warm_up(model, step_model) if self.compile else 0.0
        model.load_state_dict(initial)
        torch.manual_seed(seed)
        return self.train(model, step_model, compile_seconds)

    def warm_up(self, model: nn.Module, step_model: nn.Module) -> float:
        """Compile the training and evaluation graphs on real batches; the weights are reset afterwards."""
        started = time.perf_counter()
        if isinstance(model, FastNet):  # the first eigendecomposition on a GPU also initialises its solver
            self.fit_whitening(model)
        optimizer = build_optimizer(self.recipe, model, isinstance(model, FastNet))
        criterion = nn.CrossEntropyLoss(label_smoothing=self.recipe.label_smoothing)
        step_model.train()
        for (images, labels), _ in zip(self.batches(0, None), range(3), strict=False):
            self.step(step_model, optimizer, criterion, images, labels)
        self.predict(step_model, self.data.test.images, tta=self.recipe.tta)
        self.synchronize()
        return time.perf_counter() - started

    def fit_whitening(self, model: FastNet) -> None:
        # About 5000 CIFAR-sized images' worth of patches, however large the images are.
        count = max(1, min(5000, WHITENING_PIXELS // self.data.train.images[0, 0].numel()))
        model.fit_whitening(augment.normalise(self.data.train.images[:count], self.data.mean, self.data.std))

    def step(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: nn.Module,
             images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.autocast():
            logits = model(images)
            loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach(), (logits.argmax(1) == labels).sum()

    def train(self, model: nn.Module, step_model: nn.Module, compile_seconds: float) -> RunResult:
        recipe, fast = self.recipe, isinstance(model, FastNet)
        self.synchronize()
        started = time.perf_counter()
        if fast:
            self.fit_whitening(model)
        optimizer = build_optimizer(recipe, model, fast)
        base_rates = [group["lr"] for group in optimizer.param_groups]
        criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        flip_base = torch.rand(len(self.data.train.labels), device=self.device) < 0.5 if self.data.flip and \
            recipe.translate else None
        total_steps = recipe.epochs * self.steps_per_epoch()
        average = Lookahead(model) if recipe.lookahead else None
        step, train_seconds, history = 0, 0.0, []
        for epoch in range(recipe.epochs):
            step_model.train()
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), device=self.device, dtype=torch.int64)
            seen = 0
            flips = augment.alternating_flips(flip_base, epoch) if flip_base is not None else None
            for images, labels in self.batches(epoch, flips):
                multiplier = triangle(step, total_steps) if recipe.schedule == "triangle" else 1.0
                frozen = {"whiten"} if step >= LOOKAHEAD_START * total_steps else set()
                set_rates(optimizer, base_rates, multiplier, frozen)
                loss, hits = self.step(step_model, optimizer, criterion, images, labels)
                loss_sum += loss * len(labels)
                correct += hits
                seen += len(labels)
                step += 1
                if average is not None and step >= LOOKAHEAD_START * total_steps and step % LOOKAHEAD_EVERY == 0:
                    average.pull(model, decay=0.95**LOOKAHEAD_EVERY * (step / total_steps) ** 3)
            if average is not None and step >= LOOKAHEAD_START * total_steps:
                average.pull(model, decay=1.0)
            self.synchronize()
            train_seconds += time.perf_counter() - started
            logits = self.predict(step_model, self.data.test.images)
            test_loss, test_acc = self.score(logits)
            entry = {"epoch": epoch + 1, "train_loss": float(loss_sum) / max(seen, 1),
                     "train_acc": int(correct) / max(seen, 1), "val_loss": test_loss, "val_acc": test_acc,
                     "seconds": train_seconds}
            history.append(entry)
            self.progress(entry)
            self.synchronize()
            started = time.perf_counter()
        logits = self.predict(step_model, self.data.test.images, tta=recipe.tta)
        history[-1]["val_loss"], history[-1]["val_acc"] = self.score(logits)
        predictions = logits.argmax(1).cpu().numpy()
        matrix = metrics.confusion_matrix(self.data.test.labels.cpu().numpy(), predictions, self.num_classes)
        return RunResult(metrics.accuracy(matrix), train_seconds, compile_seconds, history, matrix)

    @torch.no_grad()
    def predict(self, model: nn.Module, images: torch.Tensor, tta: bool = False) -> torch.Tensor:
        """Logits for uint8 images; with `tta`, averaged over mirrored (where allowed) and shifted views."""
        model.eval()
        outputs = []
        for chunk in images.split(EVAL_BATCH):
            batch = augment.normalise(chunk, self.data.mean, self.data.std)
            views = [batch]
            if tta:
                views += [augment.shifted(batch, -1, -1), augment.shifted(batch, 1, 1)]
                if self.data.flip:
                    views += [view.flip(-1) for view in views]
            # One memory layout for every view, so a compiled model sees the strides it was compiled for.
            layout = torch.channels_last if self.cuda else torch.contiguous_format
            views = [view.contiguous(memory_format=layout) for view in views]
            with self.autocast():
                # The unshifted views weigh as much as both shifted ones together.
                weights = [2.0 if index % 3 == 0 else 1.0 for index in range(len(views))] if tta else [1.0]
                logits = sum(w * model(view).float() for w, view in zip(weights, views, strict=True))
            outputs.append(logits / sum(weights))
        return torch.cat(outputs)

    def score(self, logits: torch.Tensor) -> tuple[float, float]:
        labels = self.data.test.labels
        loss = nn.functional.cross_entropy(logits.float(), labels).item()
        return loss, (logits.argmax(1) == labels).float().mean().item()

    def synchronize(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)


class Lookahead:
    """An exponential moving average of the weights that the model is pulled back to every few steps: fast
    progress early, strong averaging late (the speed runs' substitute for a long learning-rate tail)."""

    def __init__(self, model: nn.Module) -> None:
        self.tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
        self.average: list[torch.Tensor] | None = None

    def pull(self, model: nn.Module, decay: float) -> None:
        with torch.no_grad():
            if self.average is None:
                self.average = [t.detach().clone() for t in self.tensors]
                return
            torch._foreach_lerp_(self.average, self.tensors, 1 - decay)
            torch._foreach_copy_(self.tensors, self.average)


def summarise(accuracies: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single run)."""
    mean = float(np.mean(accuracies))
    return mean, float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0


@dataclass
class BaselineResult:
    """Everything `classify baseline` reports: per-run accuracies and times, the last run's details, and the files
    written."""

    dataset: str
    model: str
    device: str
    recipe: Recipe
    classes: list[str]
    accuracies: list[float]
    train_seconds: list[float]
    compile_seconds: float
    data_seconds: float
    history: list[dict]
    confusion: np.ndarray
    flip: bool  # whether mirrored images counted as the same class (augmentation and test-time views)
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> dict:
        mean, std = summarise(self.accuracies)
        return {
            "dataset": self.dataset, "model": self.model, "device": self.device, **asdict(self.recipe),
            "runs": len(self.accuracies), "accuracy_mean": mean, "accuracy_std": std, "accuracies": self.accuracies,
            "train_seconds_mean": float(np.mean(self.train_seconds)), "train_seconds": self.train_seconds,
            "compile_seconds": self.compile_seconds, "data_seconds": self.data_seconds, "flip": self.flip,
            "history": self.history, "report": metrics.report(self.confusion, self.classes),
            "files": {name: str(path) for name, path in self.files.items()},
        }


def run_baseline(data: ImageData, model_name: str, recipe: Recipe, device: torch.device, runs: int = 1,
                 seed: int = 0, compile: bool = False, flip: bool = True, progress: bool = True,
                 ) -> BaselineResult:
    """Train `runs` fresh models (seeds seed, seed+1, ...) and test each; data preparation is timed apart.
    With `progress`, a bar per epoch shows on a terminal (tqdm's disable=None: never in a pipe or a log)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes throughout: let cuDNN pick its fastest kernels
    started = time.perf_counter()
    device_data = DeviceData.prepare(data, device, flip)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    data_seconds = time.perf_counter() - started
    bar = tqdm(total=runs * recipe.epochs, unit="epoch", disable=None if progress else True, leave=False,
               dynamic_ncols=True)
    results: list[RunResult] = []
    with bar:
        def on_epoch(entry: dict) -> None:
            bar.update()
            bar.set_postfix(run=len(results) + 1, test_acc=f"{entry['val_acc']:.4f}")

        trainer = BaselineTrainer(model_name, recipe, device_data, len(data.classes), device, compile, on_epoch)
        # Every run warms up before its clock starts; later runs mostly hit the first run's compiled graphs.
        for run in range(runs):
            results.append(trainer.run(seed + run))
    last = results[-1]
    return BaselineResult(data.name, model_name, str(device), recipe, data.classes,
                          [r.accuracy for r in results], [r.train_seconds for r in results],
                          sum(r.compile_seconds for r in results), data_seconds, last.history, last.confusion, flip)
