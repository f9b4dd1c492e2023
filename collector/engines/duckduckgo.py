"""DuckDuckGo Images: a token page, then the i.js JSON its image tab loads.

i.js answers only with the `vqd` token that the search page for the same query
embeds in its scripts, so the first request (page 0) fetches that page and its
parse yields no hits, just the i.js request for page 1. Each i.js answer names
the next one in `next`, a relative URL. Its results come from Bing, and so do its
licence filters: `iaf=license:<name>` on the search page, the sixth field of i.js's
`f`; hits are labelled with the set the filter admits.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit

from ..candidate import ImageHit
from ..licenses import CODES, best_option, label
from ._parsing import format_error, http_url, load_json, positive_int, text
from .base import BROWSER_HEADERS, Engine, Page, PageRequest

TOKEN_PATH = "/"
RESULTS_PATH = "/i.js"
RESULTS_HEADERS = {**BROWSER_HEADERS, "Referer": "https://duckduckgo.com/"}
_VQD = re.compile(r"""vqd=(["']?)(\d[\w-]*)\1""")
"""The token as the page spells it: vqd="4-...", vqd='4-...' or, inside a URL, vqd=4-...&."""
LICENSE_FILTERS = {
    "Any": frozenset(CODES),
    "Public": frozenset({"cc0", "pdm"}),
    "Share": frozenset({"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd"}),
    "ShareCommercially": frozenset({"by", "by-sa", "by-nd"}),
    "Modify": frozenset({"by", "by-sa", "by-nc", "by-nc-sa"}),
    "ModifyCommercially": frozenset({"by", "by-sa"}),
}
"""DuckDuckGo's licence filter names (All Creative Commons, Public domain, Free to share and use, ...) and the
licences each admits, as Bing's filters behind them do."""
NO_FILTERS = ",,,,,"


def first_request(query: str, licenses: frozenset[str] | None = None) -> PageRequest | None:
    """The token page, remembering the licence filter for i.js; None when no filter fits within `licenses`."""
    params = {"q": query, "iax": "images", "ia": "images"}
    if licenses is not None:
        option = best_option(LICENSE_FILTERS, licenses)
        if option is None:
            return None
        params["iaf"] = f"license:{option[0]}"
    return PageRequest(TOKEN_PATH, params, 0, dict(BROWSER_HEADERS))


def parse(body: bytes, request: PageRequest) -> Page:
    if request.path == RESULTS_PATH:
        return _results(body, request)
    return _token(body, request)


def _token(body: bytes, request: PageRequest) -> Page:
    match = _VQD.search(body.decode("utf-8", "replace"))
    if match is None:
        raise format_error("a search page holding a vqd token", body)
    params = {"l": "us-en", "o": "json", "q": request.params["q"], "vqd": match.group(2),
              "f": NO_FILTERS + request.params.get("iaf", ""), "p": "1"}
    return Page([], PageRequest(RESULTS_PATH, params, request.page + 1, dict(RESULTS_HEADERS)))


def _results(body: bytes, request: PageRequest) -> Page:
    data = load_json(body, "i.js JSON with 'results'")
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise format_error("i.js JSON with 'results'", body)
    licensed = _filter_label(request.params.get("f", ""))
    hits = [hit for result in results if isinstance(result, dict) and (hit := _hit(result, licensed)) is not None]
    following = data.get("next")
    if not results or not isinstance(following, str) or not following:
        return Page(hits, None)
    try:
        return Page(hits, _follow(following, request))
    except ValueError:
        raise format_error("a relative URL in 'next'", body) from None


def _follow(relative: str, request: PageRequest) -> PageRequest:
    """The request `next` names ("i.js?q=...&s=100&..."), keeping this request's vqd, filters and options it omits."""
    target = urlsplit(urljoin(request.path, relative))
    params = {**request.params, **dict(parse_qsl(target.query, keep_blank_values=True))}
    if "f" in request.params:
        params["f"] = request.params["f"]
    return PageRequest(target.path, params, request.page + 1, request.headers)


def _filter_label(filters: str) -> str | None:
    """ "...,license:Modify" -> "CC BY or CC BY-SA or CC BY-NC or CC BY-NC-SA (DuckDuckGo licence filter)"."""
    name = filters.rpartition(",")[2].removeprefix("license:")
    codes = LICENSE_FILTERS.get(name)
    return f"{label(codes)} (DuckDuckGo licence filter)" if codes else None


def _hit(result: dict, license: str | None) -> ImageHit | None:
    url = http_url(result.get("image"))
    if url is None:
        return None
    return ImageHit(
        url=url,
        thumbnail_url=http_url(result.get("thumbnail")),
        source_page=http_url(result.get("url")),
        title=text(result.get("title")),
        license=license,
        width=positive_int(result.get("width")),
        height=positive_int(result.get("height")),
    )


ENGINE = Engine(name="duckduckgo", base_url="https://duckduckgo.com", first_request=first_request, parse=parse)
