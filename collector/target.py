"""A class's `--per-class` target: searches read another result page only while the downloads already
queued cannot reach it, so a short class is topped up and a full one costs no request at all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class ClassTarget:
    """How far one class is from its target, counting downloads still queued or in flight."""

    def __init__(self, wanted: int | None, held: Callable[[], int]) -> None:
        self.wanted = wanted
        self.held = held
        self.outstanding = 0
        self._changed = asyncio.Condition()

    @property
    def met(self) -> bool:
        return self.wanted is not None and self.held() >= self.wanted

    def queued(self, count: int) -> None:
        self.outstanding += count

    async def settled(self) -> None:
        """One queued download is over, whatever its outcome."""
        self.outstanding -= 1
        async with self._changed:
            self._changed.notify_all()

    async def more_wanted(self) -> bool:
        """Whether another result page is worth reading; waits while the queued downloads may yet reach
        the target. Without a target every page is wanted (the caller bounds them)."""
        if self.wanted is None:
            return True
        async with self._changed:
            while True:
                short = self.wanted - self.held()
                if short <= 0:
                    return False
                if short > self.outstanding:
                    return True
                await self._changed.wait()
