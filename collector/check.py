"""`collect --check`: one small search per engine, to learn which engines work from here before a crawl."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from http import HTTPStatus

from .addresses import AddressPolicy
from .engines import ENGINES, EngineFormatError
from .fetch import ClientPool, Fetcher, FetchError, FetchLimits
from .search import search_pages

CHECK_QUERY = "cat"
CHECK_TIMEOUT = 10.0
"""Seconds one engine may take at most, so that a check runs in seconds even when an engine hangs."""
HTTP_STATUSES = frozenset(status.value for status in HTTPStatus)
UNREACHABLE = ("connection", "timeout", "bad-url", "private-address", "too-many-redirects", "bad-redirect")


@dataclass(frozen=True)
class EngineCheck:
    """How one engine answered one search: whether it answered at all, what came of it, and why not."""

    engine: str
    url: str
    reachable: bool
    results: int
    seconds: float
    reason: str | None = None

    @property
    def works(self) -> bool:
        return self.reason is None

    @property
    def status(self) -> str:
        return "ok" if self.works else "blocked" if self.reachable else "unreachable"

    def to_json(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3), "status": self.status, "works": self.works}


async def check_engine(name: str, base_url: str, query: str, fetcher: Fetcher) -> EngineCheck:
    """Read the first result page of `query` and account for what happened."""
    engine = ENGINES[name]
    started = time.perf_counter()
    results, reachable, reason = 0, True, None
    try:
        async for hits in search_pages(engine, base_url, query, 1, fetcher):
            results += len(hits)
    except FetchError as error:
        reachable = error.reason not in UNREACHABLE
        reason = f"{error} ({HTTPStatus(error.status).phrase})" if error.status in HTTP_STATUSES else str(error)
    except EngineFormatError as error:
        reason = f"unrecognised response: {error}"
    if reason is None and not results:
        reason = f"no results for {query!r}"
    return EngineCheck(name, base_url, reachable, results, time.perf_counter() - started, reason)


async def check_engines(names: list[str], endpoints: Mapping[str, str], query: str = CHECK_QUERY,
                        timeout: float = CHECK_TIMEOUT) -> list[EngineCheck]:
    """Check every engine at once, with no retries: a check reports the first answer, it does not insist."""
    limits = FetchLimits(timeout=min(timeout, CHECK_TIMEOUT), retries=0)
    async with ClientPool(len(names), limits) as clients:
        fetcher = Fetcher(clients, AddressPolicy.allow_all(), limits, per_host=len(names))
        return list(await asyncio.gather(*(
            check_engine(name, endpoints.get(name, ENGINES[name].base_url), query, fetcher) for name in names
        )))


def run_checks(names: list[str], endpoints: Mapping[str, str], query: str = CHECK_QUERY,
               timeout: float = CHECK_TIMEOUT) -> list[EngineCheck]:
    return asyncio.run(check_engines(names, endpoints, query, timeout))


def format_checks(checks: list[EngineCheck]) -> str:
    """One line per engine: status, results parsed, latency, and the reason when it does not work."""
    rows = [["engine", "status", "results", "latency", "reason"]]
    rows += [[c.engine, c.status, str(c.results), f"{c.seconds * 1000:.0f} ms", c.reason or "-"] for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                        row[3].rjust(widths[3]), row[4]]) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in [*widths, len("reason")]))
    return "\n".join(lines)
