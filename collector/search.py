"""Walk an engine's result pages for one query."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from .candidate import ImageHit
from .engines.base import Engine
from .fetch import Fetcher


async def search_pages(
    engine: Engine, base_url: str, query: str, pages: int, fetcher: Fetcher, *,
    licenses: frozenset[str] | None = None, more_wanted: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[list[ImageHit]]:
    """Yield each result page's hits, up to `pages` pages and while `more_wanted()` says so, within `licenses`
    where the engine can filter (None: any); errors propagate to the caller."""
    request = engine.first_request(query, licenses)
    while request is not None and request.page <= pages:
        if more_wanted is not None and not await more_wanted():
            return
        fetched = await fetcher.fetch(request.url(base_url), headers=request.headers)
        page = engine.parse(fetched.data, request)
        yield page.hits
        request = page.next
