"""Download one URL the careful way: guarded hops, byte and time caps, retries with backoff."""

from __future__ import annotations

import asyncio
import email.utils
import random
import ssl
import time
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from .addresses import AddressPolicy, AddressRefused, Pinner
from .engines.base import USER_AGENT
from .hosts import SLOW_DOWN_STATUSES, HostManners, HostPaused
from .robots import opts_out_of_ai

CONNECTIONS_PER_CLIENT = 2


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 20.0
    """Seconds one request (one redirect hop) may take in all: DNS, connect, headers and body."""
    max_bytes: int = 20 * 2**20
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 60.0


@dataclass(frozen=True)
class Fetched:
    final_url: str
    data: bytes


class FetchError(Exception):
    """A download that did not produce a body; `reason` is the manifest slug, `transient` says a retry may help."""

    def __init__(self, reason: str, detail: str = "", *, transient: bool = False, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.status = status


class ClientPool:
    """Many small httpx clients handed out one request at a time.

    httpcore scans every pooled connection on each request and response, so one
    client with dozens of connections spends more CPU on bookkeeping than on
    transfers; small clients keep that scan short. Taking a client also bounds
    the number of requests in flight. A request gets, when one is idle, a client
    that last talked to the same host, whose kept-alive connection it reuses;
    otherwise the client idle the longest.
    """

    def __init__(self, size: int, limits: FetchLimits, user_agent: str = USER_AGENT) -> None:
        tls = ssl.create_default_context()
        self._available = asyncio.Semaphore(size)
        self._idle: OrderedDict[httpx.AsyncClient, str] = OrderedDict()
        self._idle_by_host: defaultdict[str, list[httpx.AsyncClient]] = defaultdict(list)
        self._all = [
            httpx.AsyncClient(
                verify=tls,
                headers={"User-Agent": user_agent},
                timeout=httpx.Timeout(limits.timeout, connect=min(limits.timeout, 10.0)),
                limits=httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT),
                follow_redirects=False,
            )
            for _ in range(size)
        ]
        for client in self._all:
            self._idle[client] = ""
            self._idle_by_host[""].append(client)

    @asynccontextmanager
    async def client(self, host: str = "") -> AsyncIterator[httpx.AsyncClient]:
        async with self._available:
            client = self._take(host)
            try:
                yield client
            finally:
                self._idle[client] = host
                self._idle_by_host[host].append(client)

    def _take(self, host: str) -> httpx.AsyncClient:
        if self._idle_by_host[host]:
            client = self._idle_by_host[host].pop()
            del self._idle[client]
        else:
            client, last_host = self._idle.popitem(last=False)
            self._idle_by_host[last_host].remove(client)
        return client

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._all))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class Fetcher:
    """Fetches URLs with manners towards each host (see hosts.py); the client pool bounds global concurrency.

    With `honour_noai`, a response whose X-Robots-Tag says `noai` or `noimageai` is refused unread.
    """

    def __init__(
        self,
        clients: ClientPool,
        policy: AddressPolicy,
        limits: FetchLimits,
        *,
        per_host: int = 4,
        rng: random.Random | None = None,
        honour_noai: bool = False,
    ) -> None:
        self.clients = clients
        self.pinner = Pinner(policy)
        self.limits = limits
        self.rng = rng or random.Random()
        self.honour_noai = honour_noai
        self.hosts = HostManners(per_host, backoff=limits.backoff, max_wait=limits.max_retry_after)

    async def fetch(self, url: str, headers: dict[str, str] | None = None) -> Fetched:
        """Fetch `url`, retrying transient failures with exponential backoff and jitter."""
        attempt = 0
        while True:
            try:
                return await self._attempt(url, headers or {})
            except FetchError as error:
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            attempt += 1

    def _retry_delay(self, error: FetchError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when retrying is pointless."""
        if not error.transient or attempt >= self.limits.retries:
            return None
        delay = self.limits.backoff * 2**attempt * (0.5 + self.rng.random())
        if error.retry_after is None:
            return delay
        if error.retry_after > self.limits.max_retry_after:
            return None
        return max(delay, error.retry_after)

    async def _attempt(self, url: str, headers: dict[str, str]) -> Fetched:
        try:
            for _ in range(self.limits.max_redirects + 1):
                parts = urlsplit(url)
                if parts.scheme not in ("http", "https"):
                    raise FetchError("bad-url", url[:80])
                location = await self._get_politely(parts.netloc, url, headers)
                if isinstance(location, bytes):
                    return Fetched(url, location)
                url = location
        except AddressRefused as error:
            raise FetchError("private-address", str(error)) from error
        except HostPaused as error:
            raise FetchError("host-paused", str(error), transient=True, retry_after=error.seconds) from error
        except (TimeoutError, httpx.TimeoutException) as error:
            raise FetchError("timeout", transient=True) from error
        except httpx.InvalidURL as error:
            raise FetchError("bad-url", str(error)) from error
        except (httpx.TransportError, OSError) as error:
            raise FetchError("connection", f"{type(error).__name__}: {error}", transient=True) from error
        raise FetchError("too-many-redirects", f"more than {self.limits.max_redirects}")

    async def _get_politely(self, host: str, url: str, headers: dict[str, str]) -> bytes | str:
        """One GET in the host's turn; a 429 or 503 pauses every request to the host, not just this one."""
        async with self.hosts.turn(host):
            try:
                answer = await self._get(host, url, headers)
            except FetchError as error:
                if error.status in SLOW_DOWN_STATUSES:
                    self.hosts.slow_down(host, error.retry_after)
                raise
            self.hosts.answered(host)
            return answer

    async def _get(self, host: str, url: str, headers: dict[str, str]) -> bytes | str:
        """One guarded GET within the time limit: the body, or the absolute URL a redirect points to."""
        async with self.clients.client(host) as client, asyncio.timeout(self.limits.timeout):
            target = await self.pinner.pin(url)
            async with client.stream(
                "GET", target.url, headers={**headers, "Host": target.host_header},
                extensions={"sni_hostname": target.tls_hostname},
            ) as response:
                return await self._read(url, response)

    async def _read(self, url: str, response: httpx.Response) -> bytes | str:
        if response.is_redirect:
            if "location" not in response.headers:
                raise FetchError("bad-redirect", f"{response.status_code} without Location")
            return urljoin(url, response.headers["location"])
        if response.status_code >= 400:
            status = response.status_code
            raise FetchError(
                f"http-{status}",
                transient=status >= 500 or status == 429,
                retry_after=parse_retry_after(response.headers.get("retry-after"), time.time()),
                status=status,
            )
        if self.honour_noai and (directive := opts_out_of_ai(response.headers.get_list("x-robots-tag"))):
            raise FetchError("noai", f"X-Robots-Tag: {directive}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise FetchError("too-large", f"{declared} bytes declared")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise FetchError("too-large", f"over {self.limits.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
