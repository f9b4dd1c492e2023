"""Manners towards each host, shared by every request to it: a few requests at a time, and a pause for all
of them once the host answers 429 or 503, as long as its Retry-After asks (or a growing backoff)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

SLOW_DOWN_STATUSES = (429, 503)


class HostPaused(Exception):
    """The host asked for a longer pause than the crawl waits for; its requests fail until the pause ends."""

    def __init__(self, host: str, seconds: float) -> None:
        super().__init__(f"{host} asked for a pause of {seconds:.0f} s")
        self.seconds = seconds


@dataclass
class HostState:
    slots: asyncio.Semaphore
    resume_at: float = 0.0
    strikes: int = 0
    """429/503 answers in a row, without Retry-After: each doubles the pause."""


@dataclass
class HostManners:
    """Per-host concurrency and cooldown; hosts are keyed by `host:port` as they appear in the URL."""

    per_host: int
    backoff: float = 0.5
    """The first pause, in seconds, after a 429 or 503 that names no Retry-After."""
    max_wait: float = 60.0
    """Longest pause a request waits out; a host that asks for more is skipped until the pause ends."""
    clock: Callable[[], float] = time.monotonic
    _hosts: dict[str, HostState] = field(default_factory=dict)

    def state(self, host: str) -> HostState:
        if host not in self._hosts:
            self._hosts[host] = HostState(asyncio.Semaphore(self.per_host))
        return self._hosts[host]

    @asynccontextmanager
    async def turn(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's slots, once any pause it asked for is over; raises HostPaused instead of
        waiting longer than `max_wait`."""
        state = self.state(host)
        async with state.slots:
            while (remaining := state.resume_at - self.clock()) > 0:
                if remaining > self.max_wait:
                    raise HostPaused(host, remaining)
                await asyncio.sleep(remaining)
            yield

    def slow_down(self, host: str, retry_after: float | None) -> None:
        """The host answered 429 or 503: pause every request to it."""
        state = self.state(host)
        if retry_after is None:
            retry_after = min(self.backoff * 2**state.strikes, self.max_wait)
            state.strikes += 1
        state.resume_at = max(state.resume_at, self.clock() + retry_after)

    def answered(self, host: str) -> None:
        """The host served a request: the next pause without Retry-After starts small again."""
        self.state(host).strikes = 0
