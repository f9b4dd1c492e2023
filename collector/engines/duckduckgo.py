"""DuckDuckGo Images: a token page, then the i.js JSON its image tab loads.

i.js answers only with the `vqd` token that the search page for the same query
embeds in its scripts, so the first request (page 0) fetches that page and its
parse yields no hits, just the i.js request for page 1. Each i.js answer names
the next one in `next`, a relative URL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit

from ..candidate import ImageHit
from ._parsing import format_error, http_url, load_json, positive_int, text
from .base import BROWSER_HEADERS, Engine, Page, PageRequest

TOKEN_PATH = "/"
RESULTS_PATH = "/i.js"
RESULTS_HEADERS = {**BROWSER_HEADERS, "Referer": "https://duckduckgo.com/"}
_VQD = re.compile(r"""vqd=(["']?)(\d[\w-]*)\1""")
"""The token as the page spells it: vqd="4-...", vqd='4-...' or, inside a URL, vqd=4-...&."""


def first_request(query: str) -> PageRequest:
    return PageRequest(TOKEN_PATH, {"q": query, "iax": "images", "ia": "images"}, 0, dict(BROWSER_HEADERS))


def parse(body: bytes, request: PageRequest) -> Page:
    if request.path == RESULTS_PATH:
        return _results(body, request)
    return _token(body, request)


def _token(body: bytes, request: PageRequest) -> Page:
    match = _VQD.search(body.decode("utf-8", "replace"))
    if match is None:
        raise format_error("a search page holding a vqd token", body)
    params = {"l": "us-en", "o": "json", "q": request.params["q"], "vqd": match.group(2), "f": ",,,,,", "p": "1"}
    return Page([], PageRequest(RESULTS_PATH, params, request.page + 1, dict(RESULTS_HEADERS)))


def _results(body: bytes, request: PageRequest) -> Page:
    data = load_json(body, "i.js JSON with 'results'")
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise format_error("i.js JSON with 'results'", body)
    hits = [hit for result in results if isinstance(result, dict) and (hit := _hit(result)) is not None]
    following = data.get("next")
    if not results or not isinstance(following, str) or not following:
        return Page(hits, None)
    try:
        return Page(hits, _follow(following, request))
    except ValueError:
        raise format_error("a relative URL in 'next'", body) from None


def _follow(relative: str, request: PageRequest) -> PageRequest:
    """The request `next` names ("i.js?q=...&s=100&..."), keeping this request's vqd and options it omits."""
    target = urlsplit(urljoin(request.path, relative))
    params = {**request.params, **dict(parse_qsl(target.query, keep_blank_values=True))}
    return PageRequest(target.path, params, request.page + 1, request.headers)


def _hit(result: dict) -> ImageHit | None:
    url = http_url(result.get("image"))
    if url is None:
        return None
    return ImageHit(
        url=url,
        thumbnail_url=http_url(result.get("thumbnail")),
        source_page=http_url(result.get("url")),
        title=text(result.get("title")),
        width=positive_int(result.get("width")),
        height=positive_int(result.get("height")),
    )


ENGINE = Engine(name="duckduckgo", base_url="https://duckduckgo.com", first_request=first_request, parse=parse)
