"""The `collect` pipeline: search every engine for every class, download, validate, file and record."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import os
import random
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .addresses import AddressPolicy
from .candidate import Candidate
from .classes import ClassSpec
from .credits import write_credits
from .engines import ENGINES, Engine, EngineFormatError
from .engines.base import user_agent
from .errors import CollectorError
from .fetch import ClientPool, Fetcher, FetchError, FetchLimits
from .licenses import ANY, LicenseError, LicenseFilter
from .manifest import FILENAME, LIVE_STATUSES, Manifest, Row
from .search import search_pages
from .split import choose_split
from .summary import ClassSummary, Summary
from .target import ClassTarget
from .validate import DEFAULT_MAX_PIXELS, ImageInfo, InvalidImage, validate_image

log = logging.getLogger("collector")

TMP_DIR = ".tmp"
SEARCH_PER_HOST = 2


class CollectError(CollectorError):
    """The run cannot start: bad options or an unusable output folder."""


@dataclass(frozen=True)
class CollectOptions:
    out: Path = Path("data")
    engines: tuple[str, ...] = ("bing",)
    pages: int = 2
    per_class: int | None = None
    max_pages: int = 10
    val_fraction: float = 0.2
    seed: int = 0
    concurrency: int = 64
    per_host: int = 4
    limits: FetchLimits = field(default_factory=FetchLimits)
    min_side: int = 32
    max_pixels: int = DEFAULT_MAX_PIXELS
    endpoints: Mapping[str, str] = field(default_factory=dict)
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    respect_noai: bool = True
    contact: str | None = None
    dry_run: bool = False
    progress: bool = True
    license: str = ANY

    def __post_init__(self) -> None:
        try:
            LicenseFilter.parse(self.license)
        except LicenseError as error:
            raise CollectError(str(error)) from None
        unknown = [e for e in [*self.engines, *self.endpoints] if e not in ENGINES]
        if unknown:
            raise CollectError(f"unknown engine {unknown[0]!r}; choose from {', '.join(ENGINES)}")
        if not 0 <= self.val_fraction < 1:
            raise CollectError(f"val fraction must be in [0, 1), got {self.val_fraction}")
        if min(self.pages, self.max_pages, self.concurrency, self.per_host) < 1:
            raise CollectError("pages, max pages, concurrency and per-host limit must be at least 1")
        if self.per_class is not None and self.per_class < 1:
            raise CollectError("per-class target must be at least 1")

    @property
    def license_filter(self) -> LicenseFilter:
        return LicenseFilter.parse(self.license)

    @property
    def page_limit(self) -> int:
        """Result pages a query may read per engine: a target pages on demand up to max_pages."""
        return self.pages if self.per_class is None else self.max_pages


def run_sync(specs: list[ClassSpec], options: CollectOptions) -> Summary:
    """Run the pipeline to completion, also from inside a running event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run(specs, options))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run(specs, options)).result()


async def run(specs: list[ClassSpec], options: CollectOptions) -> Summary:
    summary = Summary(options.out, {s.name: ClassSummary(s.name) for s in specs}, dry_run=options.dry_run,
                      license=options.license_filter.spec)
    if options.dry_run:
        await Collection(specs, options, summary, manifest=None).run()
        return summary
    manifest = open_output(options.out)
    try:
        await Collection(specs, options, summary, manifest).run()
    finally:
        manifest.close()
        with contextlib.suppress(OSError):
            (options.out / TMP_DIR).rmdir()
    update_credits(options.out, summary)
    return summary


def update_credits(out: Path, summary: Summary) -> None:
    """Rewrite metadata.jsonl and the dataset card so they describe the images now on disk; their warnings join
    the summary (curate, with no summary, uses credits.refresh_credits)."""
    try:
        for message in write_credits(out):
            summary.warnings.append(message)
            log.warning("%s", message)
    except OSError as error:
        raise CollectError(f"cannot write the credits in {out}: {error.strerror or error}") from error


def open_output(out: Path) -> Manifest:
    """Create the output folder, settle what an interrupted run left behind, and open the manifest."""
    if out.exists() and not out.is_dir():
        raise CollectError(f"cannot use output folder {out}: it is a file")
    try:
        (out / TMP_DIR).mkdir(parents=True, exist_ok=True)
        for leftover in (out / TMP_DIR).glob("*.part"):
            leftover.unlink()
    except OSError as error:
        raise CollectError(f"cannot use output folder {out}: {error.strerror or error}") from error
    manifest = Manifest(out / FILENAME)
    recovered = manifest.recover(out)
    if recovered:
        log.info("settled %d downloads an interrupted run left unfinished", recovered)
    return manifest


def first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The first real exception inside a task group's (possibly nested) group."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


@dataclass(frozen=True)
class Staged:
    """A downloaded image that passed validation, written under a temporary name until it is claimed."""

    info: ImageInfo
    sha256: str
    size: int
    temp: Path


def stage(data: bytes, tmp_dir: Path, min_side: int, max_pixels: int) -> Staged:
    """Decode, hash and write to a temporary file in one worker-thread call: all of it is work the event
    loop should not do. Raises InvalidImage before anything is written."""
    info = validate_image(data, min_side=min_side, max_pixels=max_pixels)
    fd, temp = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return Staged(info, hashlib.sha256(data).hexdigest(), len(data), Path(temp))


class Collection:
    """One run's moving parts: searches feed a queue, a fixed pool of workers drains it."""

    def __init__(
        self, specs: list[ClassSpec], options: CollectOptions, summary: Summary, manifest: Manifest | None
    ) -> None:
        self.specs = specs
        self.options = options
        self.summary = summary
        self.manifest = manifest
        self.licenses = options.license_filter
        self.queue: asyncio.Queue[Row] = asyncio.Queue()
        self.seen: dict[str, set[str]] = {s.name: set() for s in specs}
        self.targets = {s.name: ClassTarget(options.per_class, self._held_counter(s.name)) for s in specs}
        self.folders: set[Path] = set()
        self.bars = {
            s.name: tqdm(desc=s.name, total=0, unit="img", position=i, leave=True, disable=not options.progress,
                         dynamic_ncols=True)
            for i, s in enumerate(specs)
        }

    async def run(self) -> None:
        options = self.options
        rng = random.Random(options.seed)
        if self.manifest is not None:
            for spec in self.specs:
                self.summary.classes[spec.name].already_saved = self.manifest.count(spec.name, "saved")
            self._enqueue([row for row in self.manifest.to_fetch(s.name for s in self.specs)
                           if self.licenses.admits(row.license)])
        try:
            async with ClientPool(options.concurrency, options.limits, user_agent(options.contact)) as clients:
                searcher = Fetcher(clients, AddressPolicy.allow_all(), options.limits, per_host=SEARCH_PER_HOST,
                                   rng=rng)
                downloader = Fetcher(clients, options.policy, options.limits, per_host=options.per_host, rng=rng,
                                     honour_noai=options.respect_noai)
                engines = self._engines()
                async with asyncio.TaskGroup() as group:
                    workers = [group.create_task(self._work(downloader)) for _ in range(options.concurrency)]
                    await asyncio.gather(*(
                        self._search(engine, spec, query, searcher)
                        for spec in self.specs for query in spec.queries for engine in engines
                    ))
                    await self.queue.join()
                    for worker in workers:
                        worker.cancel()
        except ExceptionGroup as group:
            raise first_leaf(group) from None
        finally:
            for bar in self.bars.values():
                bar.close()
        if self.manifest is not None:
            for spec in self.specs:
                self.summary.classes[spec.name].candidates = self.manifest.candidates(spec.name)
        for name, target in self.targets.items():
            if self.manifest is not None and target.wanted is not None and not target.met:
                self._warn(f"{name}: {target.held()} of the {target.wanted} images wanted; "
                           "more --max-pages or more queries may help")

    def _held_counter(self, class_name: str) -> Callable[[], int]:
        """What counts towards a class's target: images in the dataset, or in a dry run the candidates found."""
        if self.manifest is None:
            return lambda: self.summary.classes[class_name].candidates
        return lambda: self.manifest.count(class_name, *LIVE_STATUSES)

    def _engines(self) -> list[tuple[Engine, str]]:
        """The engines to search, with their base URLs; those that cannot search within the licences are warned of."""
        usable = []
        for name in self.options.engines:
            engine = ENGINES[name]
            if engine.first_request("", self.licenses.codes) is None:
                self._warn(f"{name}: no licence filter of this engine fits --license {self.licenses.spec}; "
                           "not searched")
                continue
            usable.append((engine, self.options.endpoints.get(name, engine.base_url)))
        if not usable:
            raise CollectError(f"none of the engines {', '.join(self.options.engines)} can search within --license "
                               f"{self.licenses.spec}; openverse filters by every licence, wikimedia by CC0, public domain, "
                               "BY and BY-SA")
        return usable

    def _warn(self, message: str) -> None:
        self.summary.warnings.append(message)
        log.warning("%s", message)

    def _enqueue(self, rows: list[Row]) -> None:
        for row in rows:
            self.bars[row.class_name].total += 1
            self.targets[row.class_name].queued(1)
            self.queue.put_nowait(row)
        for name in {row.class_name for row in rows}:
            self.bars[name].refresh()

    async def _search(self, target: tuple[Engine, str], spec: ClassSpec, query: str, searcher: Fetcher) -> None:
        engine, base_url = target
        rank = 0
        pages = search_pages(engine, base_url, query, self.options.page_limit, searcher,
                             licenses=self.licenses.codes, more_wanted=self.targets[spec.name].more_wanted)
        try:
            async for hits in pages:
                self.summary.engines_answered.add(engine.name)
                stats = self.summary.classes[spec.name]
                stats.by_engine[engine.name] += len(hits)
                candidates = []
                for hit in hits:
                    rank += 1
                    if not self.licenses.admits(hit.license):
                        stats.license_dropped[engine.name] += 1
                    elif hit.url not in self.seen[spec.name]:
                        self.seen[spec.name].add(hit.url)
                        candidates.append(Candidate(spec.name, query, engine.name, rank, hit))
                self._record(spec.name, candidates)
        except FetchError as error:
            self.summary.engine_errors.setdefault(engine.name, str(error))
            self._warn(f"{engine.name}: search for {query!r} failed: {error}")
        except EngineFormatError as error:
            self.summary.engines_answered.add(engine.name)
            self._warn(f"{engine.name}: unrecognised response for {query!r}: {error}")

    def _record(self, class_name: str, candidates: list[Candidate]) -> None:
        if self.manifest is None:
            self.summary.classes[class_name].candidates += len(candidates)
        else:
            self._enqueue(self.manifest.add(candidates))

    async def _work(self, fetcher: Fetcher) -> None:
        while True:
            row = await self.queue.get()
            try:
                await self._download(row, fetcher)
            finally:
                self.bars[row.class_name].update(1)
                await self.targets[row.class_name].settled()
                self.queue.task_done()

    def _full(self, class_name: str) -> bool:
        return self.targets[class_name].met

    async def _download(self, row: Row, fetcher: Fetcher) -> None:
        """Fetch, judge and file one candidate; every outcome lands in the manifest."""
        manifest, stats = self.manifest, self.summary.classes[row.class_name]
        if self._full(row.class_name):
            return
        try:
            fetched = await fetcher.fetch(row.url)
            staged = await asyncio.to_thread(
                stage, fetched.data, self.options.out / TMP_DIR, self.options.min_side, self.options.max_pixels
            )
        except (FetchError, InvalidImage) as error:
            transient = isinstance(error, FetchError) and error.transient
            manifest.mark_failed(row.id, error.reason, retryable=transient)
            stats.failures[error.reason] += 1
            return
        except OSError as error:
            raise CollectError(f"cannot write to {self.options.out}: {error.strerror or error}") from error
        holder = manifest.holder(staged.sha256)
        if holder is not None:
            staged.temp.unlink()
            manifest.mark_duplicate(row.id, final_url=fetched.final_url, sha256=staged.sha256, of=holder,
                                    size=staged.size)
            stats.duplicates += 1
        elif self._full(row.class_name):
            staged.temp.unlink()
        else:
            await self._save(row, fetched.final_url, staged)
            stats.saved += 1

    async def _save(self, row: Row, final_url: str, staged: Staged) -> None:
        """Claim, make the claim durable, then move the file into place: a crash at any point is recoverable."""
        info = staged.info
        split = choose_split(staged.sha256, self.options.val_fraction, self.options.seed)
        relative = f"{split}/{row.class_name}/{staged.sha256[:32]}.{info.extension}"
        self.manifest.claim(row.id, final_url=final_url, sha256=staged.sha256, path=relative, split=split,
                            size=staged.size, width=info.width, height=info.height, fmt=info.format)
        await self.manifest.durable()
        target = self.options.out / relative
        try:
            if target.parent not in self.folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                self.folders.add(target.parent)
            os.replace(staged.temp, target)
        except OSError as error:
            raise CollectError(f"cannot write {target}: {error.strerror or error}") from error
        self.manifest.mark_saved(row.id)
