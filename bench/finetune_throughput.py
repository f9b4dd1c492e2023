"""End-to-end training throughput of `classify train` against timm's train.py, on the same JPEG folder.

Both trainers read the same upscaled CIFAR-10 JPEGs from disk (decoding and augmentation included), train the
same architecture from scratch at the same size and batch size, with bf16 autocast and channels_last on CUDA.
Each is run twice, for a few epochs and for one; the difference in wall time divided by the difference in images
trained is the steady-state rate, so start-up, model building and the final report cancel out identically for
both. While they run, nvidia-smi is sampled for GPU utilisation. The input pipeline alone (decoding and
augmentation with the same workers, no model) is timed too: a training rate near it means the CPU is the limit.

    python bench/finetune_throughput.py                       # on a CUDA machine: resnet50, 224 px, batch 256
    python bench/finetune_throughput.py --device cpu --images 64 --batch-size 8 --model resnet18 --size 64
    python bench/finetune_throughput.py --json rates.json     # also every figure as JSON (bench/gpu_suite.py)

timm's train.py is not part of the pip package: pass --timm-train PATH, set TIMM_TRAIN, or have a
pytorch-image-models checkout where this script looks (see find_timm_train). Without it the timm column is skipped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `classify` from this checkout, also when run as `python bench/...`
CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
SEARCH_ROOTS = (Path("/opt"), Path("/workspace"), Path("/root"), Path("/usr/local/src"), Path.home())


@dataclass
class Run:
    seconds: float
    utilisation: list[float] = field(default_factory=list)


@dataclass
class Rate:
    images_per_second: float
    short: Run
    long: Run

    @property
    def gpu_busy(self) -> float | None:
        return statistics.mean(self.long.utilisation) if self.long.utilisation else None


def build_folder(out: Path, images: int, side: int, source: Path = CIFAR) -> tuple[int, int]:
    """`images` training JPEGs (and a small val split) upscaled to side x side, balanced over the 10 classes.

    Reused when a previous call left the same folder; returns (train images, val images).
    """
    marker = out / "bench.json"
    wanted = {"images": images, "side": side, "source": str(source), "val_per_500": 1}
    if marker.is_file() and json.loads(marker.read_text()).get("wanted") == wanted:
        counts = json.loads(marker.read_text())["counts"]
        return counts["train"], counts["val"]
    if not source.is_file():
        sys.exit(f"{source} is missing: the benchmark builds its folder from the CIFAR-10 JPEG copy")
    shutil.rmtree(out, ignore_errors=True)
    per_class = {"train": max(1, images // 10), "val": max(1, images // 500)}  # val: 2% of train, for speed
    taken = {"train": {}, "val": {}}
    with tarfile.open(source) as archive:
        for member in archive:
            parts = Path(member.name).parts  # cifar10-jpg/{train,test}/<class>/NNNN.jpg
            if not member.isfile() or len(parts) != 4:
                continue
            split = {"train": "train", "test": "val"}.get(parts[1])
            if split is None or taken[split].get(parts[2], 0) >= per_class[split]:
                continue
            data = archive.extractfile(member).read()
            with Image.open(io.BytesIO(data)) as image:
                large = image.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
            folder = out / split / parts[2]
            folder.mkdir(parents=True, exist_ok=True)
            large.save(folder / parts[3], quality=90)
            taken[split][parts[2]] = taken[split].get(parts[2], 0) + 1
            if all(len(taken[s]) == 10 and min(taken[s].values()) >= per_class[s] for s in taken):
                break
    counts = {split: sum(per.values()) for split, per in taken.items()}
    marker.write_text(json.dumps({"wanted": wanted, "counts": counts}))
    return counts["train"], counts["val"]


def find_timm_train(given: Path | None) -> Path | None:
    """timm's train.py: given, $TIMM_TRAIN, beside an installed-from-source timm, or in a checkout nearby."""
    candidates = [given] if given else []
    if os.environ.get("TIMM_TRAIN"):
        candidates.append(Path(os.environ["TIMM_TRAIN"]))
    try:
        import timm
        candidates.append(Path(timm.__file__).resolve().parents[1] / "train.py")
    except ImportError:
        return given
    for root in SEARCH_ROOTS:
        if root.is_dir():
            candidates += sorted(root.glob("*image-models*/train.py")) + sorted(root.glob("*/*image-models*/train.py"))
    return next((path for path in candidates if path and path.is_file()), None)


class Utilisation(threading.Thread):
    """Samples nvidia-smi's GPU utilisation every half second while a run lasts."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        if not shutil.which("nvidia-smi"):
            return
        while not self.done.wait(0.5):
            result = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                     "--id=0"], capture_output=True, text=True, check=False)
            if result.returncode == 0 and result.stdout.strip().isdigit():
                self.samples.append(float(result.stdout.strip()))


def timed(command: list[str], log: Path) -> Run:
    monitor = Utilisation()
    monitor.start()
    start = time.perf_counter()
    with log.open("w") as output:
        completed = subprocess.run(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - start
    monitor.done.set()
    monitor.join()
    if completed.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        sys.exit(f"{' '.join(command[:4])} ... failed ({completed.returncode}); end of {log}:\n" + "\n".join(tail))
    return Run(seconds, monitor.samples)


def ours_command(data: Path, out: Path, epochs: int, args: argparse.Namespace) -> list[str]:
    """`classify train` from scratch, every epoch training the whole network (as timm does), never stopping early."""
    return [sys.executable, "-m", "classify", "train", str(data), "--model", args.model, "--weights", "none",
            "--epochs", str(epochs), "--freeze-epochs", "0", "--patience", "0", "--batch-size", str(args.batch_size),
            "--image-size", str(args.size), "--augment", "light", "--device", args.device,
            "--workers", str(args.workers), "--runs", str(out.parent), "--name", out.name, "--quiet"]


def timm_command(train_py: Path, data: Path, out: Path, epochs: int, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, str(train_py), "--data-dir", str(data), "--train-split", "train", "--val-split", "val",
               "--model", args.model, "--num-classes", "10", "--img-size", str(args.size),
               "--batch-size", str(args.batch_size), "--epochs", str(epochs), "--warmup-epochs", "0",
               "--workers", str(args.workers), "--device", args.device, "--output", str(out), "--log-interval", "50",
               "--color-jitter", "0"]  # augmentation as `--augment light`: random resized crop and flip only
    if args.device.startswith("cuda"):
        command += ["--amp", "--amp-dtype", "bfloat16", "--channels-last", "--pin-mem"]
    return command


def measure(make_command, name: str, images_per_epoch, work: Path, args: argparse.Namespace) -> Rate:  # type: ignore[no-untyped-def]
    """Steady-state images/s from a short and a long run: start-up and final reporting cancel out.

    `images_per_epoch(out)` reads how many images one epoch trained from the long run's output folder.
    """
    short_epochs, long_epochs = args.epochs
    runs, outs = {}, {}
    for epochs in (short_epochs, long_epochs):
        outs[epochs] = work / f"{name}-{epochs}"
        shutil.rmtree(outs[epochs], ignore_errors=True)
        outs[epochs].mkdir(parents=True)
        print(f"{name}: {epochs} epoch(s) ...", file=sys.stderr, flush=True)
        runs[epochs] = timed(make_command(outs[epochs], epochs), work / f"{name}-{epochs}.log")
    extra = runs[long_epochs].seconds - runs[short_epochs].seconds
    trained = images_per_epoch(outs[long_epochs]) * (long_epochs - short_epochs)
    return Rate(trained / extra if extra > 0 else float("nan"), runs[short_epochs], runs[long_epochs])


def own_report_ours(out: Path) -> str:
    """What `classify train` itself says of its last epoch (training and validation time in the denominator)."""
    last = json.loads((out / "metrics.json").read_text())["epochs"][-1]
    return f"{last['images_per_second']:.1f} images/s over its last epoch ({last['train_images']} images)"


def own_report_timm(log: Path) -> str:
    """timm's running average over its last epoch, from its last `Train:` log line (training steps only)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("Train:")]
    match = re.search(r"\(\s*[\d.]+s,\s*([\d.]+)/s\)", lines[-1]) if lines else None
    return f"{float(match.group(1)):.1f} images/s averaged over its last epoch" if match else "no Train: line"


def loader_rate(data: Path, args: argparse.Namespace) -> float:
    """images/s of `classify train`'s input pipeline alone (decode, light augmentation, batching) with the same
    workers: the ceiling the trainer cannot beat on this machine, so a training rate close to it is data-bound."""
    from torch.utils.data import DataLoader

    from classify.checkpoint import Preprocess
    from classify.data import ImageDataset, collate, read_split
    from classify.transforms import train_pipeline

    preprocess = Preprocess(resize=round(args.size * 256 / 224), crop=args.size)
    dataset = ImageDataset(read_split(data / "train"), train_pipeline(preprocess, "light"))
    loader = DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers, collate_fn=collate,
                        shuffle=True, drop_last=True, persistent_workers=args.workers > 0)
    for _ in loader:  # warm-up pass: workers started, files in the page cache
        pass
    started, count = time.perf_counter(), 0
    for images, _, _ in loader:
        count += len(images)
    return count / (time.perf_counter() - started)


def describe(rate: Rate) -> str:
    busy = f", GPU busy {rate.gpu_busy:.0f}% (mean of nvidia-smi samples)" if rate.gpu_busy is not None else ""
    return (f"{rate.images_per_second:8.1f} images/s  (runs of {rate.short.seconds:.1f} s and "
            f"{rate.long.seconds:.1f} s{busy})")


def as_json(rate: Rate) -> dict:
    return {"images_per_second": rate.images_per_second, "short_seconds": rate.short.seconds,
            "long_seconds": rate.long.seconds, "gpu_busy_percent": rate.gpu_busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000, help="training images in the generated folder")
    parser.add_argument("--size", type=int, default=224, help="training crop in pixels")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--model", default="resnet50", help="a name both torchvision and timm know")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    parser.add_argument("--epochs", type=int, nargs=2, default=(1, 5), metavar=("SHORT", "LONG"),
                        help="epochs of the short and the long run; the rate comes from their difference")
    parser.add_argument("--work", type=Path, default=Path("/tmp/imgharvest-bench"),
                        help="where the JPEG folder and the runs go")
    parser.add_argument("--timm-train", type=Path, help="path to timm's train.py")
    parser.add_argument("--source", type=Path, default=CIFAR,
                        help="the CIFAR-10 JPEG tarball (../shared does not travel to a device machine: copy it into "
                             "an ignored folder of the checkout, carry that, and point here)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="build the JPEG folder and stop (bench/gpu_suite.py does this while the GPU is busy)")
    parser.add_argument("--json", type=Path, help="also write every figure here as JSON, rewritten after each step")
    args = parser.parse_args()

    data = args.work / f"cifar10-{args.images}-{args.size}"
    started = time.perf_counter()
    train_images, val_images = build_folder(data, args.images, round(args.size * 256 / 224), args.source)
    print(f"folder: {data} ({train_images} train, {val_images} val JPEGs of {round(args.size * 256 / 224)} px, "
          f"ready in {time.perf_counter() - started:.1f} s)")
    if args.prepare_only:
        return
    print(f"settings: {args.model}, {args.size} px, batch {args.batch_size}, {args.workers} workers, "
          f"device {args.device}, epochs {args.epochs[0]} vs {args.epochs[1]}")
    results: dict = {"settings": {"model": args.model, "size": args.size, "batch_size": args.batch_size,
                                  "workers": args.workers, "device": args.device, "epochs": list(args.epochs),
                                  "train_images": train_images}}

    def save(**figures: object) -> None:
        results.update(figures)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))

    pipeline = loader_rate(data, args)
    save(data_pipeline_images_per_second=pipeline)
    print(f"data pipeline alone: {pipeline:8.1f} images/s  (decode + light augmentation, "
          f"{args.workers} workers, no model)")

    def ours_images(out: Path) -> int:
        return json.loads((out / "metrics.json").read_text())["epochs"][-1]["train_images"]

    ours = measure(lambda out, epochs: ours_command(data, out, epochs, args), "classify", ours_images, args.work, args)
    save(classify=as_json(ours))
    print(f"classify train: {describe(ours)}")
    print(f"  its own report: {own_report_ours(args.work / f'classify-{args.epochs[1]}')}")

    train_py = find_timm_train(args.timm_train)
    if train_py is None:
        print("timm train.py: skipped (timm or its train.py not found; pass --timm-train PATH)")
        return
    # timm's training loader drops the last partial batch.
    theirs = measure(lambda out, epochs: timm_command(train_py, data, out, epochs, args), "timm",
                     lambda out: train_images // args.batch_size * args.batch_size, args.work, args)
    save(timm=as_json(theirs), timm_train=str(train_py),
         ratio=ours.images_per_second / theirs.images_per_second)
    print(f"timm train.py:  {describe(theirs)}  [{train_py}]")
    print(f"  its own report: {own_report_timm(args.work / f'timm-{args.epochs[1]}.log')}")
    print(f"ratio classify/timm: {ours.images_per_second / theirs.images_per_second:.2f}")


if __name__ == "__main__":
    main()
