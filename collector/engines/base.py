"""What an engine is: a first request, and a parser that turns a response into hits and the next request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..candidate import ImageHit

USER_AGENT = "imgharvest/0.1 (image dataset collector)"
"""How the crawler names itself where a service asks for an honest client name (and for every image download)."""


def user_agent(contact: str | None = None) -> str:
    """The crawler's User-Agent, with the operator's own URL or e-mail when given, so a site owner can reach them."""
    return USER_AGENT if not contact else f"{USER_AGENT[:-1]}; +{contact})"


BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    ),
    "Accept-Language": "en-US,en;q=0.9",
}


class EngineFormatError(Exception):
    """The engine answered with something its parser does not recognise (a block page, a changed format)."""


@dataclass(frozen=True)
class PageRequest:
    """One HTTP GET an engine needs, relative to its base URL.

    `page` is the 1-based number of the result page this request fetches; a
    preliminary request (a token page) has page 0 and does not count against
    `--pages`.
    """

    path: str
    params: dict[str, str]
    page: int
    headers: dict[str, str] = field(default_factory=dict)

    def url(self, base_url: str) -> str:
        query = urlencode(self.params)
        return f"{base_url.rstrip('/')}{self.path}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Page:
    """What one response held: the hits in it, and the request for the next page, if any."""

    hits: list[ImageHit]
    next: PageRequest | None


@dataclass(frozen=True)
class Engine:
    """A search engine as the crawler sees it: pure request building and parsing, no I/O.

    `first_request(query, licenses)` pushes a licence filter down where the service has one (`licenses` is the
    set of accepted codes, None for any) and returns None when it cannot search within those licences.
    """

    name: str
    base_url: str
    first_request: Callable[[str, frozenset[str] | None], PageRequest | None]
    parse: Callable[[bytes, PageRequest], Page]
