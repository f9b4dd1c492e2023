"""Download one URL the careful way: guarded hops, byte and time caps, retries with backoff."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from .addresses import AddressPolicy, AddressRefused

USER_AGENT = "imgharvest/0.1 (image dataset collector)"


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 20.0
    """Seconds one attempt may take in all, redirects included; connect and read each get at most this."""
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

    def __init__(self, reason: str, detail: str = "", *, transient: bool = False, retry_after: float | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


def make_client(concurrency: int, limits: FetchLimits, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """One pooled client for a whole run; redirects are followed by hand so each hop is checked."""
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=httpx.Timeout(limits.timeout, connect=min(limits.timeout, 10.0)),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        follow_redirects=False,
    )


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
    """Fetches URLs with a per-host concurrency limit; the caller bounds global concurrency."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: AddressPolicy,
        limits: FetchLimits,
        *,
        per_host: int = 4,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.policy = policy
        self.limits = limits
        self.rng = rng or random.Random()
        self.sleep = sleep
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))

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
            await self.sleep(delay)
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
            async with asyncio.timeout(self.limits.timeout):
                for _ in range(self.limits.max_redirects + 1):
                    if urlsplit(url).scheme not in ("http", "https"):
                        raise FetchError("bad-url", url[:80])
                    await self.policy.check(url)
                    async with self._hosts[urlsplit(url).netloc]:
                        location = await self._get(url, headers)
                    if isinstance(location, bytes):
                        return Fetched(url, location)
                    url = location
        except AddressRefused as error:
            raise FetchError("private-address", str(error)) from error
        except (TimeoutError, httpx.TimeoutException) as error:
            raise FetchError("timeout", transient=True) from error
        except httpx.InvalidURL as error:
            raise FetchError("bad-url", str(error)) from error
        except (httpx.TransportError, OSError) as error:
            raise FetchError("connection", f"{type(error).__name__}: {error}", transient=True) from error
        raise FetchError("too-many-redirects", f"more than {self.limits.max_redirects}")

    async def _get(self, url: str, headers: dict[str, str]) -> bytes | str:
        """One GET: the body, or the absolute URL a redirect points to."""
        async with self.client.stream("GET", url, headers=headers) as response:
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
                )
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
