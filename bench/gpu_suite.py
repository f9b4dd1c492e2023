"""The GPU proof in one command: CUDA tests, the speed-run goals beside airbench, throughput beside timm.

Run on a fresh GPU machine from this checkout with .gpu/ beside it (bench/gpu_prepare.sh lays it out: the
dataset copies and the peer checkouts), it writes under --out one Markdown table of every figure, with the
commit and the GPU's name (gpu_suite.md), the same as JSON (gpu_suite.json) and every step's log
(gpu_suite_logs.tar.gz), all rewritten after each step so that a run stopped early keeps what it measured.
The exit code is 1 when a step failed or ran out of time, 0 otherwise.

Steps, in order; each gets its share of what is left of --budget, so time one step leaves goes to the next:
  tests       tests/classify/test_cuda.py: compiled bf16 channels_last training, predict, eval and export of
              the GPU-trained model, torchrun on the GPU, the fast baseline
  baselines   bench/baselines.py, the fast rows on MNIST and the CIFAR-10 JPEG copy, 10 runs each
              (goals: MNIST >= 99.5% in <= 5 s, CIFAR-10 JPEG >= 90.7% mean in <= 3 s of training)
  airbench    airbench94_muon on the same CIFAR-10 JPEGs, 10 runs (bench/gpu_suite_airbench.py)
  finetune    bench/finetune_throughput.py: classify train against timm's train.py on the same JPEG folder
              (resnet50, 224 px, bf16, channels_last, batch 256; goal: classify at least as fast)
A bench that gains a GPU mode later joins as one more entry of STEPS.

With --dry-run every step runs at tiny sizes on the CPU (the CUDA tests skip, airbench only converts its data),
which proves the script, not the goals: tests/bench/test_gpu_suite.py does that in the test suite.

    python3 bench/gpu_suite.py --install --out "$OUT"     # on the GPU machine
    python bench/gpu_suite.py --dry-run --out /tmp/suite   # anywhere
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / ".gpu"
SHARED = ROOT.parent / "shared" / "datasets"
GOALS = {  # dataset: (test accuracy at least, training seconds at most), on one H100/H200
    "mnist": (0.995, 5.0),
    "cifar10-jpg": (0.907, 3.0),
}
AIRBENCH_H100 = "90.69% ± 0.20 in 1.55-1.65 s (H100, same JPEGs)"
TIMM_H100 = "3,000-3,400 img/s per step, about 2,450 per epoch (H100)"


@dataclass(frozen=True)
class Settings:
    """What differs between the real run and the CPU dry run."""

    baseline_args: tuple[str, ...]
    airbench_runs: int
    finetune_args: tuple[str, ...]


FULL = Settings(
    baseline_args=("--rows", "mnist:fast", "cifar10-jpg:fast", "--runs", "10"),
    airbench_runs=10,
    finetune_args=(),  # its defaults: resnet50, 224 px, batch 256, 5,000 images, 1 vs 5 epochs, CUDA
)
DRY = Settings(
    baseline_args=("--rows", "mnist:fast", "cifar10-jpg:fast", "--runs", "2", "--limit", "200", "--epochs", "1",
                   "--device", "cpu"),
    airbench_runs=2,
    finetune_args=("--device", "cpu", "--images", "40", "--batch-size", "8", "--model", "resnet18", "--size", "64",
                   "--epochs", "1", "2", "--workers", "1"),
)


@dataclass
class Figure:
    step: str
    what: str
    measured: str
    goal: str = ""
    verdict: str = ""


@dataclass
class StepResult:
    name: str
    status: str  # ok, failed (exit N), stopped after N s, skipped: why
    seconds: float
    figures: list[Figure] = field(default_factory=list)


@dataclass
class Context:
    out: Path
    work: Path
    datasets: Path
    peers: Path
    dry_run: bool
    settings: Settings
    logs: list[Path] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        """Subprocesses import this checkout's packages whether or not the project is installed."""
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}

    def run(self, name: str, command: list[str], timeout: float) -> tuple[int | None, float]:
        """Run `command` from the checkout with its output in work/NAME.log; returns (exit code or None when
        stopped at `timeout`, seconds). A stopped command is ended with its whole process group."""
        log = self.work / f"{name}.log"
        self.logs.append(log)
        started = time.perf_counter()
        with log.open("w") as output:
            output.write(f"$ {' '.join(command)}\n")
            output.flush()
            process = subprocess.Popen(command, cwd=ROOT, env=self.environment(), stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code: int | None = process.wait(timeout=max(1.0, timeout))
            except subprocess.TimeoutExpired:
                stop(process)
                code = None
        return code, time.perf_counter() - started

    def status(self, code: int | None, seconds: float) -> str:
        return "ok" if code == 0 else f"stopped after {seconds:.0f} s" if code is None else f"failed (exit {code})"


def stop(process: subprocess.Popen) -> None:
    """End a process this suite started, and its children, by its process group: first as Ctrl-C would, so
    pytest still writes its report of the tests that finished; then whatever of the group is left."""
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait)
            break
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
    try:  # children that outlived their parent (data loader or compile workers) would hold the GPU
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def at_least(value: float, goal: float, unit: Callable[[float], str]) -> str:
    return "met" if value >= goal else f"missed by {unit(goal - value)}"


def at_most(value: float, goal: float, unit: Callable[[float], str]) -> str:
    return "met" if value <= goal else f"missed by {unit(value - goal)}"


def points(value: float) -> str:
    return f"{100 * value:.2f} points"


def seconds_text(value: float) -> str:
    return f"{value:.2f} s"


def rate_text(images_per_second: float) -> str:
    """The bench's steady-state rate; NaN when the long run was no slower than the short one (too little work)."""
    return f"{images_per_second:.0f}" if math.isfinite(images_per_second) else "n/a (long run not slower)"


def read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# Steps -------------------------------------------------------------------------------------------------------


def step_tests(context: Context, timeout: float) -> StepResult:
    report = context.work / "cuda-tests.xml"
    report.unlink(missing_ok=True)
    # --confcutdir: only tests/classify's fixtures, so the crawler's dependencies need not be installed.
    code, seconds = context.run("tests", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                          "--confcutdir=tests/classify", "tests/classify/test_cuda.py",
                                          f"--junitxml={report}"], timeout)
    figures = []
    try:
        cases = list(ElementTree.parse(report).getroot().iter("testcase"))
    except (OSError, ElementTree.ParseError):  # no report: pytest never started, or was killed while writing it
        cases = []
    outcomes = {"passed": 0, "failed": 0, "skipped": 0, "interrupted": 0}
    for case in cases:
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        outcome = "failed" if outcome in ("failure", "error") else outcome
        if case.get("name") is None:  # the test a stop interrupted: pytest records it without a name
            outcome = "interrupted"
        outcomes[outcome] += 1
        why = next((child.get("message", "") for child in case if child.tag in ("failure", "error", "skipped")), "")
        why = why.removeprefix("Skipped: ").splitlines()[0][:160] if why.strip() else ""
        figures.append(Figure("tests", case.get("name", "(the test running when the step was stopped)"),
                              f"{outcome} in {float(case.get('time', 0)):.1f} s" + (f" ({why})" if why else ""),
                              "passes", "" if outcome == "skipped" else "met" if outcome == "passed" else "missed"))
    summary = ", ".join(f"{count} {name}" for name, count in outcomes.items() if count) or "none ran"
    figures.insert(0, Figure("tests", "tests/classify/test_cuda.py", f"{summary} in {seconds:.0f} s",
                             "all pass", "met" if outcomes["passed"] and not outcomes["failed"] and code == 0
                             else "" if context.dry_run else "missed"))
    return StepResult("tests", context.status(code, seconds), seconds, figures)


def step_baselines(context: Context, timeout: float) -> StepResult:
    report = context.work / "baselines.json"
    report.unlink(missing_ok=True)
    command = [sys.executable, "bench/baselines.py", *context.settings.baseline_args, "--datasets",
               str(context.datasets), "--data-root", str(context.work / "datasets"), "--json", str(report)]
    code, seconds = context.run("baselines", command, timeout)
    figures = []
    for row in read_json(report) or []:
        name = f"{row['dataset']} {row['model']}"
        accuracy, train = row["accuracy_mean"], row["train_seconds"]
        goal = GOALS.get(row["dataset"]) if row["model"] == "fast" and not context.dry_run else None
        figures += [
            Figure("baselines", f"{name}: test accuracy", f"{percent(accuracy)} ± {100 * row['accuracy_std']:.2f} "
                   f"over {row['runs']} runs", f">= {percent(goal[0])}" if goal else "",
                   at_least(accuracy, goal[0], points) if goal else ""),
            Figure("baselines", f"{name}: training s per run", f"{train:.2f} (runs {min(row['train_seconds_each']):.2f}"
                   f"-{max(row['train_seconds_each']):.2f})", f"<= {goal[1]:.0f} s" if goal else "",
                   at_most(train, goal[1], seconds_text) if goal else ""),
            Figure("baselines", f"{name}: outside the clock", f"compile {row['compile_seconds']:.1f} s, data to "
                   f"device {row['data_seconds']:.1f} s, files to tensors {row['load_seconds']:.1f} s"),
        ]
    return StepResult("baselines", context.status(code, seconds), seconds, figures)


def step_airbench(context: Context, timeout: float) -> StepResult:
    script = context.peers / "cifar10-airbench" / "airbench94_muon.py"
    if not script.is_file():
        return StepResult("airbench", f"skipped: no {script} (bench/gpu_prepare.sh exports it)", 0.0)
    report = context.work / "airbench.json"
    report.unlink(missing_ok=True)
    command = [sys.executable, "bench/gpu_suite_airbench.py", "--script", str(script), "--datasets",
               str(context.datasets), "--work", str(context.work / "datasets"), "--json", str(report),
               "--runs", str(context.settings.airbench_runs)]
    if context.dry_run:
        command.append("--prepare-only")
    code, seconds = context.run("airbench", command, timeout)
    result = read_json(report) or {}
    figures = [Figure("airbench", "data in airbench's format", f"{result['prepare_seconds']:.1f} s "
                      f"(reused when present)")] if "prepare_seconds" in result else []
    if "accuracies" in result:
        figures += [
            Figure("airbench", "airbench94_muon on cifar10-jpg: test accuracy",
                   f"{percent(result['accuracy_mean'])} ± {100 * result['accuracy_std']:.2f} over "
                   f"{len(result['accuracies'])} runs", AIRBENCH_H100),
            Figure("airbench", "airbench94_muon: seconds per run (its own timer)",
                   f"{result['seconds_mean']:.2f} (runs {min(result['seconds']):.2f}-{max(result['seconds']):.2f})",
                   AIRBENCH_H100),
            Figure("airbench", "airbench94_muon: compile and warm-up", f"{result['warmup_seconds']:.1f} s"),
        ]
        fast = next((row for row in read_json(context.work / "baselines.json") or []
                     if row["dataset"] == "cifar10-jpg" and row["model"] == "fast"), None)
        if fast:
            figures.append(Figure("airbench", "classify fast against airbench94_muon, same JPEGs, same GPU",
                                  f"{fast['train_seconds'] / result['seconds_mean']:.2f}x its seconds, "
                                  f"{100 * (fast['accuracy_mean'] - result['accuracy_mean']):+.2f} points",
                                  "<= 3 s and >= 90.7% (the goals above)"))
    elif context.dry_run and code == 0:
        figures.append(Figure("airbench", "airbench94_muon", "not trained: it needs CUDA (dry run)"))
    return StepResult("airbench", context.status(code, seconds), seconds, figures)


def finetune_command(context: Context, *extra: str) -> list[str]:
    command = [sys.executable, "bench/finetune_throughput.py", *context.settings.finetune_args, "--source",
               str(context.datasets / "cifar10-jpg.tar.gz"), "--work", str(context.work / "finetune")]
    train_py = context.peers / "pytorch-image-models" / "train.py"
    return command + (["--timm-train", str(train_py)] if train_py.is_file() else []) + list(extra)


def step_finetune(context: Context, timeout: float) -> StepResult:
    report = context.work / "finetune.json"
    report.unlink(missing_ok=True)
    code, seconds = context.run("finetune", finetune_command(context, "--json", str(report)), timeout)
    result = read_json(report) or {}
    settings = result.get("settings", {})
    figures = []
    if "data_pipeline_images_per_second" in result:
        figures.append(Figure("finetune", "input pipeline alone (decode + augment, no model)",
                              f"{result['data_pipeline_images_per_second']:.0f} img/s (decoding workers: "
                              f"{settings['workers']})"))
    for name, label in (("classify", "classify train"), ("timm", "timm train.py")):
        if name in result:
            rate = result[name]
            busy = f", GPU busy {rate['gpu_busy_percent']:.0f}%" if rate["gpu_busy_percent"] is not None else ""
            figures.append(Figure("finetune", f"{label}: steady-state img/s ({settings['model']}, {settings['size']} "
                                  f"px, batch {settings['batch_size']})", f"{rate_text(rate['images_per_second'])} (runs of "
                                  f"{rate['short_seconds']:.0f} and {rate['long_seconds']:.0f} s{busy})",
                                  TIMM_H100 if name == "timm" else ""))
    if "ratio" in result:
        ratio, judged = result["ratio"], not context.dry_run and math.isfinite(result["ratio"])
        figures.append(Figure("finetune", "classify train / timm train.py",
                              f"{ratio:.2f}x" if math.isfinite(ratio) else "n/a", "" if context.dry_run else ">= 1.00x",
                              at_least(ratio, 1.0, lambda gap: f"{gap:.2f}x") if judged else ""))
    elif "classify" in result:
        figures.append(Figure("finetune", "timm train.py", "not run: no checkout in the peers folder"))
    return StepResult("finetune", context.status(code, seconds), seconds, figures)


STEPS: list[tuple[str, Callable[[Context, float], StepResult], float]] = [  # name, step, share of the budget
    ("tests", step_tests, 1.0),
    ("baselines", step_baselines, 1.0),
    ("airbench", step_airbench, 1.0),
    ("finetune", step_finetune, 1.0),
]


# Report ------------------------------------------------------------------------------------------------------


def commit() -> str:
    """This checkout's commit (marked when files differ from it), else the one gpu_prepare.sh recorded."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        recorded = ASSETS / "commit"
        return f"{recorded.read_text().strip()[:12]} (recorded by bench/gpu_prepare.sh; no .git here)" \
            if recorded.is_file() else "unknown (no .git, no .gpu/commit)"


def machine(peers: Path) -> dict[str, str]:
    import torch

    gpu = "none"
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        gpu = f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB, {properties.multi_processor_count} SMs"
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", "--id=0"],
                             capture_output=True, text=True, check=False)
        if smi.returncode == 0:
            gpu += f", driver {smi.stdout.strip()}"
    versions = peers / "VERSIONS"
    return {"gpu": gpu, "torch": f"{torch.__version__} (CUDA {torch.version.cuda})",
            "python": platform.python_version(), "cpus": str(os.cpu_count()),
            "peers": versions.read_text().strip().replace("\n", "; ") if versions.is_file() else "none"}


def markdown(header: dict, steps: list[StepResult]) -> str:
    lines = [f"# GPU suite, {header['date']}", "",
             f"- commit: {header['commit']}", f"- GPU: {header['gpu']}",
             f"- torch {header['torch']}, Python {header['python']}, {header['cpus']} CPUs",
             f"- peers: {header['peers']}", f"- mode: {header['mode']}",
             f"- wall: {header['wall_seconds']:.0f} s of a {header['budget_seconds']:.0f} s budget", "",
             "| step | figure | measured | goal or reference | verdict |", "| --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in (f.step, f.what, f.measured, f.goal, f.verdict))
              + " |" for step in steps for f in step.figures]
    lines += ["", "| step | status | seconds |", "| --- | --- | --- |"]
    lines += [f"| {s.name} | {s.status} | {s.seconds:.0f} |" for s in steps]
    return "\n".join(lines) + "\n"


def write_report(context: Context, header: dict, steps: list[StepResult]) -> None:
    """gpu_suite.md, gpu_suite.json and gpu_suite_logs.tar.gz under --out, each replaced whole."""
    context.out.mkdir(parents=True, exist_ok=True)
    files = {"gpu_suite.md": markdown(header, steps),
             "gpu_suite.json": json.dumps({**header, "steps": [asdict(step) for step in steps]}, indent=2)}
    for name, text in files.items():
        (context.out / f".{name}.part").write_text(text)
        (context.out / f".{name}.part").replace(context.out / name)
    archive = context.out / ".gpu_suite_logs.tar.gz.part"
    with tarfile.open(archive, "w:gz") as tar:
        for log in [*context.logs, *sorted((context.work / "finetune").glob("*.log"))]:  # + each trainer's own
            if log.is_file():
                tar.add(log, arcname=log.name)
    archive.replace(context.out / "gpu_suite_logs.tar.gz")


def install(context: Context) -> StepResult:
    """`pip install --no-deps -e .` with the machine's own build tools: its torch stays as it is."""
    import torch

    before = torch.__version__
    code, seconds = context.run("install", [sys.executable, "-m", "pip", "install", "--no-deps",
                                            "--no-build-isolation", "--no-index", "-e", str(ROOT)], 300)
    check = subprocess.run([sys.executable, "-c", "import classify, torch; print(classify.__file__, torch.__version__)"],
                           cwd="/", capture_output=True, text=True, check=False)
    found = check.stdout.strip() if check.returncode == 0 else "not importable outside the checkout"
    status = context.status(code, seconds) + ("" if code == 0 else "; steps import the checkout (PYTHONPATH)")
    return StepResult("install", status, seconds, [Figure("install", "pip install --no-deps -e .",
                                                          f"classify and torch: {found} (torch before: {before})")])


def time_for(chosen: list, index: int, budget: float, started: float) -> float:
    """Step `index`'s share of what is left of the budget, so time an earlier step left passes on."""
    left = budget - (time.perf_counter() - started)
    return left * chosen[index][2] / sum(share for _, _, share in chosen[index:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Layout of --datasets and --peers: see bench/gpu_prepare.sh.")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or ROOT / "runs" / "gpu-suite"),
                        help="where gpu_suite.md, gpu_suite.json and gpu_suite_logs.tar.gz go (default: $OUT, "
                             "else runs/gpu-suite)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/imgharvest-gpu-suite"),
                        help="scratch folder: extracted datasets, runs, logs")
    parser.add_argument("--datasets", type=Path,
                        default=ASSETS / "datasets" if (ASSETS / "datasets").is_dir() else SHARED,
                        help="MNIST/raw/*.gz and cifar10-jpg.tar.gz (default: .gpu/datasets, else ../shared/datasets)")
    parser.add_argument("--peers", type=Path, default=ASSETS / "peers",
                        help="cifar10-airbench/ and pytorch-image-models/ checkouts (default: .gpu/peers)")
    parser.add_argument("--budget", type=float, default=450.0,
                        help="seconds for all steps together (default 450: the proof must fit in 8 minutes)")
    parser.add_argument("--steps", nargs="+", choices=[name for name, _, _ in STEPS],
                        default=[name for name, _, _ in STEPS], help="run only these steps")
    parser.add_argument("--install", action="store_true",
                        help="first pip install --no-deps -e . (never replaces the machine's torch)")
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny sizes on the CPU: proves the script runs, measures nothing worth reporting")
    args = parser.parse_args()

    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    context = Context(args.out.resolve(), args.work.resolve(), args.datasets.resolve(), args.peers.resolve(),
                      args.dry_run, DRY if args.dry_run else FULL)
    header = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit(), **machine(context.peers),
              "mode": "dry run on the CPU, tiny sizes: proves the script, not the goals" if args.dry_run
              else "full", "budget_seconds": args.budget, "wall_seconds": 0.0}
    if not args.dry_run and header["gpu"] == "none":
        sys.exit("no CUDA GPU here: run on a GPU machine, or pass --dry-run")
    steps: list[StepResult] = [install(context)] if args.install else []
    chosen = [(name, step, share) for name, step, share in STEPS if name in args.steps]
    # The throughput bench's JPEG folder is built on the CPU while the GPU runs the first steps.
    folder = subprocess.Popen(finetune_command(context, "--prepare-only"), cwd=ROOT, env=context.environment(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True) \
        if "finetune" in args.steps else None
    for index, (name, step, _) in enumerate(chosen):
        if name == "finetune" and folder is not None:
            try:  # not ready within half the step's time: stop it, and the bench builds the folder itself
                folder.wait(timeout=time_for(chosen, index, args.budget, started) / 2)
            except subprocess.TimeoutExpired:
                stop(folder)
        timeout = time_for(chosen, index, args.budget, started)
        print(f"gpu suite: {name} (up to {timeout:.0f} s) ...", file=sys.stderr, flush=True)
        result = step(context, timeout)
        steps.append(result)
        print(f"gpu suite: {name}: {result.status} ({result.seconds:.0f} s)", file=sys.stderr, flush=True)
        header["wall_seconds"] = time.perf_counter() - started
        write_report(context, header, steps)
    if folder is not None:
        stop(folder)
    header["wall_seconds"] = time.perf_counter() - started
    write_report(context, header, steps)
    print((context.out / "gpu_suite.md").read_text())
    if any(step.status != "ok" and not step.status.startswith("skipped") for step in steps):
        sys.exit(1)


if __name__ == "__main__":
    main()
