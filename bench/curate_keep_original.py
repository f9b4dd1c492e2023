"""How often `curate` keeps the original of an edited pair, per kind of edit, before and after the recompression
traces (collector/curate/recompression.py) joined `decide.rank`.

Pairs: every labelled (original, copy) pair of the sets bench/curate_sets.py builds (graded seed 0 selects;
the others are held out), in two makings. "as built": the set's own copy, which
curate_sets makes by editing the photo *before* its first compression, so original and copy are each compressed
once. "from the file": the same edit applied to the decoded original file and saved again at the same quality, as
a re-upload or an augmentation script makes it. Each pair is ranked as `decide_group` ranks a group of two (the
centrality of two members is equal): "before" is `rank` on the inspection without the trace metrics (main's rule),
"after" is `rank` as it is. The trace tables show how often each trace is over its threshold, for originals and
per kind for copies, on the selection set: a trace pays only where copies cross it and originals do not.

    python bench/curate_keep_original.py [--cache data/curate_bench] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import pickle
import random
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.curate_bench import SETS, add_set_options, code_digest, pct, table
from bench.curate_sets import EXACT_KINDS, RECIPES, build_quality_set, extract_cifar, make_copy
from collector.curate.decide import MIRROR_TRACE, SCALING_TRACE, Item, rank
from collector.curate.inspect import Inspection, InspectOptions, inspect_image
from collector.curate.layout import Entry
from collector.curate.recompression import TRACES

MAKINGS = ("as built", "from the file")
THRESHOLDS = {"mirror_trace": MIRROR_TRACE, "scaling_trace": SCALING_TRACE}


def remade(job: tuple[Path, str, str, Path]) -> Path:
    """The copy of kind `kind` made from the decoded original file, saved at `target`."""
    source, recipe, kind, target = job
    data = source.read_bytes()
    with Image.open(io.BytesIO(data)) as decoded:
        image = decoded.convert("RGB")
    copy, _ = make_copy(kind, RECIPES[recipe][kind], image, data, random.Random(str(target.name)))
    target.write_bytes(copy)
    return target


def _inspect(path: Path) -> Inspection:
    return inspect_image(path, InspectOptions())


def pair_inspections(root: Path, recipe: str, pairs: list[tuple[str, str, str]], cache: Path, workers: int
                     ) -> dict[str, list[tuple[Inspection, Inspection]]]:
    """(original, copy) inspections per making, cached per code digest beside the set."""
    stored = cache / f"keep-pairs-{code_digest()}.pickle"
    if stored.is_file():
        return pickle.loads(stored.read_bytes())
    with tempfile.TemporaryDirectory(prefix="keep-original-") as work, ProcessPoolExecutor(workers) as pool:
        jobs = [(root / original, recipe, kind, Path(work) / f"{number:05d}.jpg")
                for number, (original, _, kind) in enumerate(pairs)]
        remade_paths = list(tqdm(pool.map(remade, jobs, chunksize=16), total=len(jobs), desc="remaking copies",
                                 file=sys.stderr))
        files = [root / p for pair in pairs for p in pair[:2]] + remade_paths
        found = list(tqdm(pool.map(_inspect, files, chunksize=16), total=len(files), desc=f"inspecting {root.parent.name}",
                          file=sys.stderr))
    originals, copies, again = found[0:2 * len(pairs):2], found[1:2 * len(pairs):2], found[2 * len(pairs):]
    result = {MAKINGS[0]: list(zip(originals, copies, strict=True)), MAKINGS[1]: list(zip(originals, again, strict=True))}
    stored.write_bytes(pickle.dumps(result))
    return result


def without_traces(inspection: Inspection) -> Inspection:
    return replace(inspection, metrics={k: v for k, v in inspection.metrics.items() if k not in TRACES})


def original_first(original: Inspection, copy: Inspection, paths: tuple[str, str], traces: bool) -> bool:
    """Whether `rank` puts the original before its copy, as `decide_group` does in a group of two."""
    if not traces:
        original, copy = without_traces(original), without_traces(copy)
    items = [Item(Entry(path, *path.split("/")[:2]), ins) for path, ins in zip(paths, (original, copy), strict=True)]
    return rank(items[0]) < rank(items[1])


def kept_rows(pairs: list[tuple[str, str, str]], found: dict[str, list[tuple[Inspection, Inspection]]]
              ) -> list[list[str]]:
    kept: dict[tuple[str, str, bool], int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for number, (original, copy, kind) in enumerate(pairs):
        total[kind] += 1
        for making in MAKINGS:
            a, b = found[making][number]
            for traces in (False, True):
                kept[kind, making, traces] += original_first(a, b, (original, copy), traces)
    rows = []
    for kind in sorted(total):
        rows.append([kind, str(total[kind])] + [pct(kept[kind, making, traces] / total[kind])
                                                for making in MAKINGS for traces in (False, True)])
    return rows


def trace_rows(pairs: list[tuple[str, str, str]], found: dict[str, list[tuple[Inspection, Inspection]]]
               ) -> list[list[str]]:
    """Share over each threshold: originals first, then the copies of each kind in each making."""
    def over(inspections: list[Inspection]) -> list[str]:
        return [pct(sum(ins.metrics.get(name, 0.0) > limit for ins in inspections) / len(inspections))
                for name, limit in THRESHOLDS.items()]

    originals = [a for a, _ in found[MAKINGS[0]]]
    rows = [["originals", str(len(originals)), *over(originals), *over(originals)]]
    for kind in sorted({p[2] for p in pairs}):
        numbers = [k for k, pair in enumerate(pairs) if pair[2] == kind]
        rows.append([kind, str(len(numbers))] + [cell for making in MAKINGS
                                                 for cell in over([found[making][k][1] for k in numbers])])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_set_options(parser)
    parser.add_argument("--workers", type=int, default=2, help="processes for inspection")
    args = parser.parse_args()
    extracted = extract_cifar(args.cifar, args.cache)
    print(f"thresholds: {', '.join(f'{name} > {limit:g}' for name, limit in THRESHOLDS.items())}")
    for number, (recipe, seed) in enumerate(SETS):
        qs = build_quality_set(extracted, args.cache, recipe, args.originals, args.odd_sets, seed)
        pairs = [(p.original, p.copy, p.kind) for p in qs.pairs if p.kind not in EXACT_KINDS]
        found = pair_inspections(qs.root, recipe, pairs, qs.root.parent, args.workers)
        role = "selection set" if number == 0 else "held out"
        print(f"\n== {qs.name} ({role}): original ranked first, per kind; before = rank without the traces ==")
        print(table(["kind", "pairs", *(f"{making}: {when}" for making in MAKINGS for when in ("before", "after"))],
                    kept_rows(pairs, found)))
        if number == 0:
            print(f"\n== {qs.name}: share over each trace's threshold ==")
            print(table(["files", "n", *(f"{making}: {name}" for making in MAKINGS for name in THRESHOLDS)],
                        trace_rows(pairs, found)))


if __name__ == "__main__":
    main()
